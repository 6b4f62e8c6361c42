import test from 'ava';
import { defaultCreation, defaultRenew, formatExpiration, renderStatements, SAFE_USERNAME, splitStatements, substitute } from './statements.ts';

test('splitStatements splits on ";" outside quotes, dollar quotes and comments', (t) => {
  t.deepEqual(splitStatements('CREATE ROLE a; GRANT x TO a;'), ['CREATE ROLE a', 'GRANT x TO a']);
  t.deepEqual(splitStatements(`SELECT ';' ; SELECT "a;b"`), [`SELECT ';'`, `SELECT "a;b"`]);
  t.deepEqual(splitStatements('DO $$ BEGIN PERFORM 1; END $$; SELECT 2'), ['DO $$ BEGIN PERFORM 1; END $$', 'SELECT 2']);
  t.deepEqual(splitStatements('DO $fn$ a; $$ b; $fn$; x'), ['DO $fn$ a; $$ b; $fn$', 'x']);
  t.deepEqual(splitStatements('SELECT 1 -- a; comment\n; SELECT 2'), ['SELECT 1 -- a; comment', 'SELECT 2']);
  t.deepEqual(splitStatements('SELECT /* ; */ 1; SELECT 2'), ['SELECT /* ; */ 1', 'SELECT 2']);
});

test('splitStatements drops empty statements and keeps an unterminated quote as one statement', (t) => {
  t.deepEqual(splitStatements(' ; ;\n; '), []);
  t.deepEqual(splitStatements(''), []);
  t.deepEqual(splitStatements(`SELECT 'open; SELECT 2`), [`SELECT 'open; SELECT 2`]);
  t.deepEqual(splitStatements('SELECT $x'), ['SELECT $x'], 'a lone "$" is not a dollar quote');
});

test('substitute fills the four known placeholders (spaces allowed) and leaves the others as written', (t) => {
  const vars = { name: 'v-role-abc', username: 'v-role-abc', password: 'SCRAM-SHA-256$4096:s$k:v', expiration: '2030-01-01 00:00:00+0000' };
  t.is(
    substitute(`CREATE ROLE "{{name}}" PASSWORD '{{ password }}' VALID UNTIL '{{expiration}}'; -- {{other}}`, vars),
    `CREATE ROLE "v-role-abc" PASSWORD 'SCRAM-SHA-256$4096:s$k:v' VALID UNTIL '2030-01-01 00:00:00+0000'; -- {{other}}`,
  );
  t.is(substitute('{{password}}', {}), '{{password}}', 'a missing value leaves the placeholder');
  t.is(substitute('{{name}}{{name}}', { name: 'x' }), 'xx');
});

test('renderStatements splits every list entry, then substitutes', (t) => {
  t.deepEqual(renderStatements(['CREATE ROLE "{{name}}"; GRANT r TO "{{name}}"', 'ALTER ROLE "{{name}}" VALID UNTIL \'{{expiration}}\''], { name: 'u', expiration: 'E' }), [
    'CREATE ROLE "u"',
    'GRANT r TO "u"',
    `ALTER ROLE "u" VALID UNTIL 'E'`,
  ]);
  // A value is substituted after splitting: a ";" inside it cannot start a statement of its own.
  t.deepEqual(renderStatements(['SELECT \'{{name}}\''], { name: 'a;b' }), [`SELECT 'a;b'`]);
});

test('formatExpiration is UTC in the form Vault writes, rounded up so the password never ends before its lease', (t) => {
  t.is(formatExpiration(new Date('2030-02-03T04:05:06.789Z')), '2030-02-03 04:05:07+0000');
  t.is(formatExpiration(new Date('2030-02-03T04:05:06.001Z')), '2030-02-03 04:05:07+0000');
  t.is(formatExpiration(new Date('2030-02-03T04:05:06.000Z')), '2030-02-03 04:05:06+0000');
  t.is(formatExpiration(new Date('2030-12-31T23:59:59.500Z')), '2031-01-01 00:00:00+0000');
  t.is(formatExpiration(new Date(0)), '1970-01-01 00:00:00+0000');
});

test('the default statements escape what they insert', (t) => {
  t.is(defaultCreation('v-a', "ver'ifier", '2030-01-01 00:00:00+0000', 'app"group'), `CREATE ROLE "v-a" WITH LOGIN PASSWORD 'ver''ifier' VALID UNTIL '2030-01-01 00:00:00+0000' IN ROLE "app""group"`);
  t.is(defaultRenew('v-a', 'E'), `ALTER ROLE "v-a" VALID UNTIL 'E'`);
});

test('SAFE_USERNAME admits nothing that could close a quoted identifier or literal', (t) => {
  for (const ok of ['v-role-abc', 'a.b@c+d_e', 'x'.repeat(63)]) t.true(SAFE_USERNAME.test(ok), ok);
  for (const no of ['', 'x'.repeat(64), 'a"b', "a'b", 'a b', 'a;b', 'a\\b', 'a\nb', 'ü']) t.false(SAFE_USERNAME.test(no), JSON.stringify(no));
});
