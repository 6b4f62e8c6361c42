import test from 'ava';
import { loadConfig, ConfigError } from '../src/config.ts';
import { isConnectionError } from '../src/storage/pg-conn-errors.ts';
import { PgAddressError, parsePgTarget } from '../src/storage/pg-hosts.ts';

test('a multi-host URL becomes one single-host connection string per host, in order, read-write by default', (t) => {
  const p = parsePgTarget('postgres://u:p%40ss@h1:5432,h2:5433,[::1]/db?sslmode=disable&target_session_attrs=read-write');
  t.true(p.readWrite);
  t.deepEqual(
    p.endpoints.map((e) => e.label),
    ['h1:5432', 'h2:5433', '[::1]:5432'],
  );
  t.is(p.endpoints[1]?.connectionString, 'postgres://u:p%40ss@h2:5433/db?sslmode=disable');
  t.false(p.endpoints.some((e) => e.connectionString.includes('target_session_attrs')));
});

test('a single host keeps libpq\'s default (any); several hosts default to read-write; a list is the hosts of every URL', (t) => {
  t.false(parsePgTarget('postgresql://u@db/x').readWrite);
  t.true(parsePgTarget('postgres://u@a,b/x').readWrite);
  t.false(parsePgTarget('postgres://u@a,b/x?target_session_attrs=any').readWrite);
  const list = parsePgTarget('postgres://u:1@a:1/x postgres://v:2@b:2/x\n');
  t.deepEqual(
    list.endpoints.map((e) => e.connectionString),
    ['postgres://u:1@a:1/x', 'postgres://v:2@b:2/x'],
  );
  t.true(list.readWrite);
});

test('malformed addresses and unsupported session attributes are refused with a message that names no password', (t) => {
  t.throws(() => parsePgTarget('postgres://u:secret@h1:5432,ba$d/db'), { instanceOf: PgAddressError, message: /ba\$d/ });
  t.throws(() => parsePgTarget('postgres://u:secret@h1/db?target_session_attrs=standby'), { instanceOf: PgAddressError, message: /standby/ });
  t.throws(() => parsePgTarget('postgres://a/x?target_session_attrs=any postgres://b/x?target_session_attrs=read-write'), { instanceOf: PgAddressError });
  const err = t.throws(() => loadConfig(['--dev'], { SEALBOX_DATABASE_URL: 'postgres://u:secret@h1:99999999/db' }), { instanceOf: ConfigError });
  t.false(err?.message.includes('secret') ?? true);
});

test('config takes a list of URLs as an array or as whitespace-separated text', (t) => {
  const c = loadConfig(['--dev'], { SEALBOX_DATABASE_URL: 'postgres://a:1/x postgres://b:2/x', SEALBOX_DATABASE_STALENESS: '3s' });
  t.is(c.database_url, 'postgres://a:1/x postgres://b:2/x');
  t.is(c.database_staleness, 3);
});

test('connection failures are told apart from the caller\'s data errors', (t) => {
  t.true(isConnectionError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })));
  t.true(isConnectionError(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' })));
  t.true(isConnectionError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })));
  t.true(isConnectionError(new Error('Connection terminated unexpectedly')));
  t.true(isConnectionError(new Error('Query read timeout')));
  t.false(isConnectionError(Object.assign(new Error('duplicate key value'), { code: '23505' })));
  t.false(isConnectionError(Object.assign(new Error('could not serialize access'), { code: '40001' })));
  t.false(isConnectionError('nope'));
});
