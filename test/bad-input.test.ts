import test, { type ExecutionContext } from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { rawRequest } from './helpers/raw-http.ts';

let b: Broker;
test.before(async () => {
  b = await startApp({ env: { SEALBOX_MAX_REQUEST_BYTES: '65536' } });
  const w = await api(b, 'POST', 'secret/data/keep', { body: { data: { v: 'original' } } });
  if (w.status !== 200) throw new Error(`setup write failed: ${w.text}`);
});
test.after.always(async () => {
  await b?.stop();
});

const errorsOf = (json: unknown): string[] => {
  const e = (json as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(e) ? e.map(String) : [];
};

/** The secret at secret/keep still has exactly one version with its original value. */
async function unchanged(t: ExecutionContext): Promise<void> {
  const r = await api(b, 'GET', 'secret/data/keep');
  t.is(r.status, 200);
  const data = (r.json as { data: { data: unknown; metadata: { version: number } } }).data;
  t.deepEqual(data.data, { v: 'original' });
  t.is(data.metadata.version, 1);
}

test.serial('malformed JSON is a 400 that says so, and writes nothing', async (t) => {
  const r = await rawRequest(b.address, 'POST', '/v1/secret/data/keep', {
    token: b.rootToken,
    body: '{"data": {"v": "leaked-value-xyz"',
    headers: { 'content-type': 'application/json' },
  });
  t.is(r.status, 400);
  t.regex(errorsOf(r.json)[0] ?? '', /malformed JSON/);
  t.false(r.text.includes('leaked-value-xyz'), 'the error must not echo the body');
  await unchanged(t);
});

test.serial('a body that is not an object, and data that is not an object, are 400s', async (t) => {
  for (const body of ['[1,2]', '"str"', '42']) {
    const r = await rawRequest(b.address, 'POST', '/v1/secret/data/keep', { token: b.rootToken, body });
    t.is(r.status, 400, body);
    t.regex(errorsOf(r.json)[0] ?? '', /JSON object/);
  }
  for (const data of ['a string', [1, 2], 5, null]) {
    const r = await api(b, 'POST', 'secret/data/keep', { body: { data } });
    t.is(r.status, 400, JSON.stringify(data));
    t.regex(errorsOf(r.json).join(' '), /data/);
  }
  await unchanged(t);
});

test.serial('deeply nested JSON is a 400, not a stack overflow', async (t) => {
  const deep = `{"data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
  const r = await rawRequest(b.address, 'POST', '/v1/secret/data/keep', { token: b.rootToken, body: deep });
  t.is(r.status, 400);
  t.regex(errorsOf(r.json)[0] ?? '', /nested deeper than 64 levels/);
  await unchanged(t);
});

test.serial('a body over the limit is a 413', async (t) => {
  const big = JSON.stringify({ data: { v: 'x'.repeat(70_000) } });
  const r = await rawRequest(b.address, 'POST', '/v1/secret/data/keep', { token: b.rootToken, body: big });
  t.is(r.status, 413);
  t.regex(errorsOf(r.json)[0] ?? '', /larger than the limit of 65536 bytes/);
  await unchanged(t);
});

test.serial('dot segments, raw or percent-encoded, and encoded slashes are 400s', async (t) => {
  const targets = [
    '/v1/secret/data/../data/keep',
    '/v1/secret/data/%2e%2e/keep',
    '/v1/secret/data/%2E%2e/keep',
    '/v1/secret/data/./keep',
    '/v1/secret/data/a%2fb',
    '/v1/secret/data/a%00b',
    '/v1/secret/data/a%0ab',
    '/v1/secret/data/a//b',
    '/v1/secret/data/%zz',
  ];
  for (const target of targets) {
    for (const method of ['GET', 'POST']) {
      const r = await rawRequest(b.address, method, target, { token: b.rootToken, body: method === 'POST' ? '{"data":{"v":"evil"}}' : undefined });
      t.is(r.status, 400, `${method} ${target}`);
      t.regex(errorsOf(r.json)[0] ?? '', /invalid request path/, target);
    }
  }
  await unchanged(t);
});

test.serial('an unknown mount is a 404 naming the route', async (t) => {
  const r = await api(b, 'POST', 'nosuchmount/data/x', { body: { data: { a: 1 } } });
  t.is(r.status, 404);
  t.regex(errorsOf(r.json)[0] ?? '', /no handler for route/);
});

test.serial('a missing, unknown or forged token is 403 permission denied', async (t) => {
  for (const token of [null, 'sbx.forged-token', `${b.rootToken}x`, "root' OR '1'='1"]) {
    const read = await api(b, 'GET', 'secret/data/keep', { token });
    t.is(read.status, 403);
    t.deepEqual(read.json, { errors: ['permission denied'] });
    const write = await api(b, 'POST', 'secret/data/keep', { token, body: { data: { v: 'evil' } } });
    t.is(write.status, 403);
  }
  await unchanged(t);
});

test.serial('a wrong cas is a 400 and writes nothing', async (t) => {
  const r = await api(b, 'POST', 'secret/data/keep', { body: { data: { v: 'evil' }, options: { cas: 7 } } });
  t.is(r.status, 400);
  t.regex(errorsOf(r.json)[0] ?? '', /check-and-set parameter did not match the current version/);
  await unchanged(t);
});

test.serial('wrong types are 400s naming the field, and unknown fields are a warning', async (t) => {
  const r = await api(b, 'POST', 'secret/data/keep', { body: { data: { v: 'x' }, options: { cas: 'one' } } });
  t.is(r.status, 400);
  t.regex(errorsOf(r.json)[0] ?? '', /options\.cas/);
  const m = await api(b, 'POST', 'sys/mounts/other', { body: { type: 'kv', options: { version: '2' }, bogus: 1 } });
  t.is(m.status, 200);
  t.deepEqual((m.json as { warnings: string[] }).warnings, ['Endpoint ignored these unrecognized parameters: [bogus]']);
  await unchanged(t);
});

test.serial('SQL metacharacters in secret names are just names', async (t) => {
  const name = "a'; DROP TABLE entries; --";
  const w = await api(b, 'POST', `secret/data/${encodeURIComponent(name)}`, { body: { data: { v: 'quoted' } } });
  t.is(w.status, 200);
  const r = await api(b, 'GET', `secret/data/${encodeURIComponent(name)}`);
  t.deepEqual((r.json as { data: { data: unknown } }).data.data, { v: 'quoted' });
  const list = await api(b, 'GET', 'secret/metadata?list=true');
  t.true((list.json as { data: { keys: string[] } }).data.keys.includes(name));
  await unchanged(t);
});

test.serial('unsupported methods and PATCH without merge-patch content type are 4xx', async (t) => {
  const r = await rawRequest(b.address, 'OPTIONS', '/v1/secret/data/keep', { token: b.rootToken });
  t.is(r.status, 405);
  const p = await api(b, 'PATCH', 'secret/data/keep', { body: { data: { v: 'evil' } } });
  t.is(p.status, 415);
  await unchanged(t);
});

test.serial('every response carries X-Request-Id and Cache-Control: no-store', async (t) => {
  const r = await api(b, 'GET', 'secret/data/keep');
  t.regex(r.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  t.is(r.headers.get('cache-control'), 'no-store');
  t.is((r.json as { request_id: string }).request_id, r.headers.get('x-request-id') ?? '');
  const e = await api(b, 'GET', 'secret/data/keep', { token: null });
  t.is(e.headers.get('cache-control'), 'no-store');
});
