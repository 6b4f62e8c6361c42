import test, { type ExecutionContext } from 'ava';
import { AppError } from '../../lib/errors.ts';
import { createSeededRandom } from '../../lib/seeded-random.ts';
import { compileUsernameTemplate, DEFAULT_USERNAME_TEMPLATE, type UsernameContext } from './username-template.ts';
import { checkUsernameTemplate, generateUsername } from './usernames.ts';

const NOW = new Date('2030-06-15T12:34:56.789Z');
const ctx = (c: Partial<UsernameContext> = {}): UsernameContext => ({ displayName: 'token', roleName: 'readonly', now: NOW, random: createSeededRandom('u'), ...c });
const render = (template: string, c?: Partial<UsernameContext>): string => compileUsernameTemplate(template).render(ctx(c));

const bad = (t: ExecutionContext, template: string, message: RegExp): void => {
  const err = t.throws(() => compileUsernameTemplate(template).render(ctx()), { instanceOf: AppError }, template);
  t.is(err?.code, 'bad_request');
  t.regex(err?.message ?? '', message);
};

test("Vault's default template: v-<display>-<role>-<20 random>-<unix time>, each part truncated", (t) => {
  const name = render(DEFAULT_USERNAME_TEMPLATE, { displayName: 'approle-long-name', roleName: 'readonly-role' });
  t.regex(name, /^v-approle--readonly-[A-Za-z0-9]{20}-1907757296$/);
  t.true(name.length <= 63);
});

test('the same seed gives the same name; the random part follows the injected Random', (t) => {
  const a = render('{{random 12}}', { random: createSeededRandom(1) });
  t.is(render('{{random 12}}', { random: createSeededRandom(1) }), a);
  t.not(render('{{random 12}}', { random: createSeededRandom(2) }), a);
  t.regex(a, /^[A-Za-z0-9]{12}$/);
});

test('time functions read the given now', (t) => {
  t.is(render('{{unix_time}}'), String(Math.floor(NOW.getTime() / 1000)));
  t.is(render('{{unix_time_millis}}'), String(NOW.getTime()));
});

test('pipelines, parentheses, printf and the string functions', (t) => {
  t.is(render('{{.RoleName | uppercase}}'), 'READONLY');
  t.is(render('{{ printf "%s_%s" .DisplayName (.RoleName | truncate 4) }}'), 'token_read');
  t.is(render('{{ replace "o" "0" .DisplayName }}'), 't0ken');
  t.is(render('{{ printf "%d%%" 5 }}'), '5%');
  t.is(render('{{ printf "%s-%s" "a" }}'), 'a-%!s(MISSING)');
  t.is(render('{{ "abc" | base64 }}'), 'YWJj');
  t.is(render('{{ sha256 "x" | truncate 8 }}'), '2d711642');
  t.is(render('pre-{{.RoleName}}-post'), 'pre-readonly-post');
});

test('truncate_sha256 keeps short values and hashes the tail of long ones', (t) => {
  t.is(render('{{ truncate_sha256 10 "short" }}'), 'short');
  const long = render('{{ truncate_sha256 12 "abcdefghijklmnopqrstuvwxyz" }}');
  t.is(long.length, 12);
  t.true(long.startsWith('abcd'));
  bad(t, '{{ truncate_sha256 4 "abcdefghij" }}', /at least 8/);
});

test('trim markers remove the whitespace beside an action, as in Go', (t) => {
  t.is(render('a  {{- .RoleName -}}  b'), 'areadonlyb');
  t.is(render('a  {{ .RoleName }}  b'), 'a  readonly  b');
});

test('bad templates are 400s that say what is wrong', (t) => {
  bad(t, '{{ .Secret }}', /unknown field/);
  bad(t, '{{ exec "rm" }}', /unknown function "exec"/);
  bad(t, '{{ .RoleName', /unclosed action/);
  bad(t, '{{ (uppercase .RoleName }}', /missing "\)"/);
  bad(t, '{{ uppercase .RoleName) }}', /unexpected "\)"/);
  bad(t, '{{ "open }}', /unterminated string/);
  bad(t, '{{ | uppercase }}', /empty command/);
  bad(t, '{{ }}', /empty action/);
  bad(t, '{{ truncate .RoleName }}', /wrong number of arguments/);
  bad(t, '{{ random 5000 }}', /0 to 1024/);
  bad(t, '{{ "a" "b" }}', /only a function/);
});

test('generated usernames are checked: unsafe characters from inputs are cleaned, and results must be SQL-safe and <= 63 bytes', (t) => {
  const name = generateUsername('{{.DisplayName}}_{{.RoleName}}', { displayName: 'a"; DROP ROLE x; --', roleName: "o'k", now: NOW, random: createSeededRandom(3) });
  t.is(name, 'a---DROP-ROLE-x----_o-k');
  t.throws(() => generateUsername('{{random 64}}', { displayName: 'd', roleName: 'r', now: NOW, random: createSeededRandom(3) }), { message: /longer than 63 bytes/ });
  t.throws(() => generateUsername('x y', { displayName: 'd', roleName: 'r', now: NOW, random: createSeededRandom(3) }), { message: /characters other than/ });
  t.throws(() => generateUsername('{{ printf "" }}', { displayName: 'd', roleName: 'r', now: NOW, random: createSeededRandom(3) }), { message: /empty username/ });
});

test('checkUsernameTemplate decides the same way every time (fixed sample time and randomness)', (t) => {
  t.notThrows(() => checkUsernameTemplate(''));
  t.notThrows(() => checkUsernameTemplate(DEFAULT_USERNAME_TEMPLATE));
  t.notThrows(() => checkUsernameTemplate('{{random 63}}'));
  t.throws(() => checkUsernameTemplate('{{random 50}}-{{unix_time_millis}}'), { message: /longer than 63 bytes/ });
  t.throws(() => checkUsernameTemplate('{{ .Nope }}'), { message: /unknown field/ });
});
