import test from 'ava';
import { checkTemplate, envQuote, render, RenderError } from './render.ts';

const data = { username: 'app', password: 'p@ss w/rd"$`\\', nested: { host: 'db', port: 5432 }, empty: null, flag: true };

test('no template: the JSON of the data, pretty, ending in a newline', (t) => {
  t.is(render(undefined, { a: 1 }), '{\n  "a": 1\n}\n');
});

test('fields, nested fields and values that are not strings', (t) => {
  t.is(render('{{username}}:{{ nested.host }}:{{nested.port}}', data), 'app:db:5432');
  t.is(render('[{{empty}}]', data), '[]', 'null renders empty');
  t.is(render('{{flag}}', data), 'true');
  t.is(render('{{nested}}', data), '{"host":"db","port":5432}');
  t.is(render('no placeholders', data), 'no placeholders');
});

test('a field the secret lacks is an error, never a silent blank (prototype properties included)', (t) => {
  t.throws(() => render('{{missing}}', data), { instanceOf: RenderError, message: /no field "missing"/ });
  t.throws(() => render('{{nested.user}}', data), { instanceOf: RenderError, message: /no field "nested.user"/ });
  t.throws(() => render('{{username.length}}', data), { instanceOf: RenderError });
  t.throws(() => render('{{constructor}}', data), { instanceOf: RenderError });
  t.throws(() => render('{{json missing}}', data), { instanceOf: RenderError });
});

test('helpers: json, env, url', (t) => {
  t.is(render('{{json}}', { a: [1, 'x'] }), '{"a":[1,"x"]}');
  t.is(render('{{json nested}}', data), '{"host":"db","port":5432}');
  t.is(render('P={{env password}}', data), 'P="p@ss w/rd\\"\\$\\`\\\\"');
  t.is(render('postgres://app:{{url password}}@db/', data), 'postgres://app:p%40ss%20w%2Frd%22%24%60%5C@db/');
});

test('envQuote escapes what a shell or env-file parser would interpret, newlines included', (t) => {
  t.is(envQuote('a\nb\r'), '"a\\nb\\r"');
  t.is(envQuote('$(rm -rf /)'), '"\\$(rm -rf /)"');
  t.is(envQuote(undefined), '""');
  t.is(envQuote(12), '"12"');
});

test('env_file: every top-level field as KEY="value", keys upper-cased and made safe', (t) => {
  t.is(render('{{env_file}}', { 'db-user': 'a', '9lives': 'b', 'x.y': 'c"' }), 'DB_USER="a"\n_9LIVES="b"\nX_Y="c\\""\n');
  t.is(render('{{env_file}}', {}), '');
});

test('pem_bundle: key, certificate, then the chain, each block once; it needs a certificate', (t) => {
  const key = '-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----';
  const cert = '-----BEGIN CERTIFICATE-----\nC\n-----END CERTIFICATE-----';
  const ca = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----';
  t.is(render('{{pem_bundle}}', { private_key: key, certificate: `${cert}\n`, ca_chain: [cert, ca, ''] }), `${key}\n${cert}\n${ca}\n`);
  t.is(render('{{pem_bundle}}', { certificate: cert, issuing_ca: ca }), `${cert}\n${ca}\n`);
  t.throws(() => render('{{pem_bundle}}', { private_key: key }), { instanceOf: RenderError, message: /needs a PKI certificate/ });
});

test('checkTemplate refuses unknown helpers and placeholders it cannot read, at start-up', (t) => {
  t.notThrows(() => checkTemplate('{{a}} {{json b}} {{env c}} {{url d}} {{env_file}} {{pem_bundle}}'));
  t.throws(() => checkTemplate('{{upper name}}'), { instanceOf: RenderError, message: /unknown helper "upper"/ });
  t.throws(() => checkTemplate('{{ a b c }}'), { instanceOf: RenderError, message: /cannot read placeholder/ });
  t.throws(() => checkTemplate('{{ unclosed'), { instanceOf: RenderError, message: /cannot read placeholder/ });
  t.throws(() => checkTemplate('{{}}'), { instanceOf: RenderError });
  t.throws(() => render('{{upper name}}', { name: 'x' }), { instanceOf: RenderError, message: /unknown helper/ });
});
