// Pure pieces: templates and helpers, config validation messages, event path matching, the SSE parser, timing.
import test from 'ava';
import { validateConfig } from '../src/config.ts';
import { canonicalPath, createSseParser } from '../src/events.ts';
import { render, RenderError } from '../src/render.ts';
import { backoffMs, twoThirds } from '../src/timing.ts';

test('templates: fields, nested fields, json, env quoting, env_file, url, pem_bundle; JSON by default', (t) => {
  const data = { user: 'app', password: 'p"$`\\x\ny', nested: { a: 1 }, 'api-key': 'k' };
  t.is(render('u={{user}} a={{ nested.a }}', data), 'u=app a=1');
  t.is(render('{{env password}}', data), '"p\\"\\$\\`\\\\x\\ny"');
  t.is(render('{{json nested}}', data), '{"a":1}');
  t.is(render('{{url password}}', data), encodeURIComponent(data.password));
  t.is(render('{{env_file}}', { user: 'a', 'api-key': 'k' }), 'USER="a"\nAPI_KEY="k"\n');
  t.deepEqual(JSON.parse(render(undefined, data)), data);
  const pem = (l: string) => `-----BEGIN CERTIFICATE-----\n${l}\n-----END CERTIFICATE-----`;
  t.is(render('{{pem_bundle}}', { private_key: 'KEY', certificate: pem('leaf'), ca_chain: [pem('int'), pem('root')], issuing_ca: pem('int') }), `KEY\n${pem('leaf')}\n${pem('int')}\n${pem('root')}\n`);
  t.throws(() => render('{{missing}}', data), { instanceOf: RenderError, message: 'template: the secret has no field "missing"' });
});

test('config: defaults, and errors that name the field', (t) => {
  const base = { broker: { address: 'http://127.0.0.1:8200/' }, auth: { method: 'kubernetes', role: 'app' }, secrets: [{ path: '/v1/secret/data/a', destination: 'a.json' }] };
  const cfg = validateConfig(base, '/run/secrets');
  t.is(cfg.broker.address, 'http://127.0.0.1:8200');
  t.deepEqual(cfg.auth, { method: 'kubernetes', mount: 'kubernetes', role: 'app', tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
  t.is(cfg.secrets[0]?.path, 'secret/data/a');
  t.is(cfg.secrets[0]?.destination, '/run/secrets/a.json');
  t.is(cfg.secrets[0]?.mode, 0o400);
  t.is(cfg.pollIntervalMs, 60_000);
  t.is(validateConfig({ ...base, secrets: [{ path: 'x', destination: 'y', mode: 640 }] }, '/').secrets[0]?.mode, 0o640);
  const err = (doc: unknown) => t.throws(() => validateConfig(doc, '/'))?.message;
  t.is(err({ ...base, broker: {} }), 'broker.address: is required (e.g. https://sealbox:8200)');
  t.is(err({ ...base, auth: { method: 'jwt' } }), 'auth.role: is required');
  t.is(err({ ...base, secrets: [] }), 'secrets: is required: a list of {path, destination}');
  t.is(err({ ...base, poll_interval: 'soon' }), 'poll_interval: must be a duration such as "30s" or "5m" (at least 100 ms)');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'x', on_change: { signal: 'HUP' } }] }), 'secrets[0].on_change.pid_file: is required');
  t.is(err({ ...base, secrets: [{ path: 'a', destination: 'x' }, { path: 'b', destination: '/x' }] }), 'secrets[1].destination: /x is also the destination of secrets[0]');
});

test('events: paths that refer to a configured secret', (t) => {
  t.is(canonicalPath('secret/metadata/app/x'), 'secret/data/app/x');
  t.is(canonicalPath('/v1/secret/destroy/app/x'), 'secret/data/app/x');
  t.is(canonicalPath('database/static-roles/x'), 'database/static-creds/x');
  t.is(canonicalPath('database/rotate-role/x'), 'database/static-creds/x');
  const got: [string, string][] = [];
  const feed = createSseParser((type, data) => got.push([type, data]));
  feed(': subscribed\n\nevent: kv-v2/data-write\nid: 1\ndata: {"path":"a"}\n');
  feed('\n: ping\n\r\ndata: x\r\n\r\n');
  t.deepEqual(got, [['kv-v2/data-write', '{"path":"a"}'], ['message', 'x']]);
});

test('timing: 2/3 of the remaining time ±10%, capped exponential backoff', (t) => {
  t.is(twoThirds(0, 3000, () => 0.5), 2000);
  t.is(Math.round(twoThirds(0, 3000, () => 1)), 2200);
  t.is(Math.round(twoThirds(0, 3000, () => 0)), 1800);
  t.is(backoffMs(0, 500, 30_000, () => 0.5), 500);
  t.is(backoffMs(3, 500, 30_000, () => 0.5), 4000);
  t.is(backoffMs(20, 500, 30_000, () => 1), 30_000);
});
