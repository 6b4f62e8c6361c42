// Response wrapping (issue 15): X-Vault-Wrap-TTL on any request, sys/wrapping/{wrap,unwrap,lookup,rewrap}, single use,
// expiry at the TTL, the wrapped response sealed at rest, and the audit log recording only the wrapping token's HMAC.
// A real broker on a real PostgreSQL, driven by node-vault and raw HTTP.
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

let b: Broker;
let dbUrl: string;
test.before(async () => {
  const pg = await startPostgres();
  dbUrl = await pg.createDatabase();
  b = await startApp({ databaseUrl: dbUrl });
});
test.after.always(async () => {
  await b?.stop();
});

interface WrapInfo {
  token: string;
  accessor: string;
  ttl: number;
  creation_time: string;
  creation_path: string;
  wrapped_accessor: string;
}
const wrapOf = (json: unknown): WrapInfo => {
  const w = (json as { wrap_info: WrapInfo | null }).wrap_info;
  if (!w) throw new Error(`no wrap_info in ${JSON.stringify(json)}`);
  return w;
};
const must = async (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<unknown> => {
  const r = await api(b, method, path, { body, headers });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
};

test.serial('a KV read wrapped by X-Vault-Wrap-TTL unwraps once through node-vault, and the envelope carries only wrap_info', async (t) => {
  await must('POST', 'secret/data/wrap/app', { data: { password: 'wrapped-secret-value-1' } });
  const r = await api(b, 'GET', 'secret/data/wrap/app', { headers: { 'X-Vault-Wrap-TTL': '5m' } });
  t.is(r.status, 200);
  const body = r.json as { data: unknown; auth: unknown; wrap_info: WrapInfo };
  t.is(body.data, null);
  t.is(body.auth, null);
  t.false(r.text.includes('wrapped-secret-value-1'));
  const w = wrapOf(r.json);
  t.is(w.ttl, 300);
  t.is(w.creation_path, 'secret/data/wrap/app');
  t.truthy(w.accessor);
  t.false(Number.isNaN(Date.parse(w.creation_time)));

  // The wrapping token is good for nothing but unwrapping.
  t.is((await api(b, 'GET', 'secret/data/wrap/app', { token: w.token })).status, 403);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: w.token })).status, 403);

  const v = vaultClient(b, w.token);
  const unwrapped = (await v.unwrap()) as { data: { data: { password: string } } };
  t.is(unwrapped.data.data.password, 'wrapped-secret-value-1');

  // Single use: the second unwrap is Vault's 400.
  const again = await api(b, 'POST', 'sys/wrapping/unwrap', { token: w.token });
  t.is(again.status, 400);
  t.deepEqual((again.json as { errors: string[] }).errors, ['wrapping token is not valid or does not exist']);
  t.is((await api(b, 'POST', 'sys/wrapping/lookup', { token: null, body: { token: w.token } })).status, 400);
});

test.serial('concurrent unwraps of one token: exactly one gets the response, the others a 400', async (t) => {
  const w = wrapOf(await must('POST', 'sys/wrapping/wrap', { v: 'raced-value' }, { 'X-Vault-Wrap-TTL': '5m' }));
  const results = await Promise.all(Array.from({ length: 12 }, () => api(b, 'POST', 'sys/wrapping/unwrap', { token: w.token })));
  const statuses = results.map((r) => r.status).sort();
  t.deepEqual(statuses, [200, ...Array.from({ length: 11 }, () => 400)]);
  t.deepEqual((results.find((r) => r.status === 200)?.json as { data: unknown }).data, { v: 'raced-value' });
});

test.serial('sys/wrapping/wrap, lookup (unauthenticated, not spending), rewrap and third-party unwrap', async (t) => {
  t.is((await api(b, 'POST', 'sys/wrapping/wrap', { body: { a: 'b' } })).status, 400, 'wrap needs a wrap TTL');
  const w = wrapOf(await must('POST', 'sys/wrapping/wrap', { api_key: 'wrapped-arbitrary-value', n: 3 }, { 'X-Vault-Wrap-TTL': '90' }));
  t.is(w.ttl, 90);
  t.is(w.creation_path, 'sys/wrapping/wrap');

  const look = await api(b, 'POST', 'sys/wrapping/lookup', { token: null, body: { token: w.token } });
  t.is(look.status, 200);
  const info = (look.json as { data: { creation_ttl: number; creation_path: string; creation_time: string } }).data;
  t.is(info.creation_ttl, 90);
  t.is(info.creation_path, 'sys/wrapping/wrap');
  t.is(info.creation_time, w.creation_time);

  const re = wrapOf(await must('POST', 'sys/wrapping/rewrap', { token: w.token }));
  t.not(re.token, w.token);
  t.is(re.creation_path, 'sys/wrapping/wrap');
  t.is(re.ttl, 90);
  t.is((await api(b, 'POST', 'sys/wrapping/unwrap', { body: { token: w.token } })).status, 400, 'the rewrapped token is spent');

  // A third party (any token the default policy covers) unwraps with the token in the body.
  const user = (await must('POST', 'auth/token/create', { policies: ['nothing'] })) as { auth: { client_token: string } };
  const u = await api(b, 'POST', 'sys/wrapping/unwrap', { token: user.auth.client_token, body: { token: re.token } });
  t.is(u.status, 200);
  t.deepEqual((u.json as { data: unknown }).data, { api_key: 'wrapped-arbitrary-value', n: 3 });
  t.is((await api(b, 'POST', 'sys/wrapping/unwrap', { token: user.auth.client_token, body: { token: re.token } })).status, 400);
});

test.serial('a wrapped token creation: wrapped_accessor names the token inside, which works once unwrapped', async (t) => {
  const w = wrapOf(await must('POST', 'auth/token/create', { policies: ['default'], ttl: '1h' }, { 'X-Vault-Wrap-TTL': '1m' }));
  t.truthy(w.wrapped_accessor);
  const u = (await vaultClient(b, w.token).unwrap()) as { auth: { client_token: string; accessor: string; lease_duration: number } };
  t.is(u.auth.accessor, w.wrapped_accessor);
  t.is(u.auth.lease_duration, 3600);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: u.auth.client_token })).status, 200);
});

test.serial('an AppRole secret-id wrapped as Vault Agent and ESO ask for it: wrapped_accessor is the secret-id accessor', async (t) => {
  await must('POST', 'sys/auth/approle', { type: 'approle' });
  await must('POST', 'auth/approle/role/web', { token_policies: ['default'] });
  const roleId = ((await must('GET', 'auth/approle/role/web/role-id')) as { data: { role_id: string } }).data.role_id;
  const w = wrapOf(await must('POST', 'auth/approle/role/web/secret-id', {}, { 'X-Vault-Wrap-TTL': '120s' }));
  t.is(w.creation_path, 'auth/approle/role/web/secret-id');
  const sid = (await vaultClient(b, w.token).unwrap()) as { data: { secret_id: string; secret_id_accessor: string } };
  t.is(sid.data.secret_id_accessor, w.wrapped_accessor);
  const login = await api(b, 'POST', 'auth/approle/login', { token: null, body: { role_id: roleId, secret_id: sid.data.secret_id } });
  t.is(login.status, 200);
  // A wrapped login (Vault Agent's wrap_ttl): the client token comes out of the unwrap.
  const sid2 = (await must('POST', 'auth/approle/role/web/secret-id', {})) as { data: { secret_id: string } };
  const wl = await api(b, 'POST', 'auth/approle/login', { token: null, body: { role_id: roleId, secret_id: sid2.data.secret_id }, headers: { 'X-Vault-Wrap-TTL': '30s' } });
  t.is(wl.status, 200);
  t.is((wl.json as { auth: unknown }).auth, null);
  const inner = (await vaultClient(b, wrapOf(wl.json).token).unwrap()) as { auth: { client_token: string; accessor: string } };
  t.is(inner.auth.accessor, wrapOf(wl.json).wrapped_accessor);
});

test.serial('a wrapping token expires at its TTL, and its sealed response is deleted', async (t) => {
  const w = wrapOf(await must('POST', 'sys/wrapping/wrap', { v: 'short-lived-wrapped-value' }, { 'X-Vault-Wrap-TTL': '1s' }));
  t.is(w.ttl, 1);
  t.is((await api(b, 'POST', 'sys/wrapping/lookup', { token: null, body: { token: w.token } })).status, 200, 'alive until its TTL');
  b.clock.advance(1_001);
  const status = (await api(b, 'POST', 'sys/wrapping/lookup', { token: null, body: { token: w.token } })).status;
  t.is(status, 400, 'the lookup fails once the TTL has passed');
  t.is((await api(b, 'POST', 'sys/wrapping/unwrap', { token: w.token })).status, 400);
  // The token-tidy job (every 30 s) revokes the expired token; its sealed response goes with it.
  const stored = async (): Promise<number> =>
    withPgClient(dbUrl, async (c) => (await c.query('SELECT id FROM core_entries WHERE id = $1', [`sys/wrapping/${w.accessor}`])).rows.length);
  t.is(await stored(), 1, 'kept until the tidy job runs');
  t.is(await b.kick('token-tidy'), 'ok');
  t.is(await stored(), 0);
});

test.serial('at rest and in the audit log: no plaintext wrapping token or wrapped value, the token HMAC\'d', async (t) => {
  const w = wrapOf(await must('POST', 'sys/wrapping/wrap', { password: 'audit-wrapped-plaintext-9' }, { 'X-Vault-Wrap-TTL': '10m' }));
  const stored = await withPgClient(dbUrl, async (c) => (await c.query('SELECT id, sealed FROM core_entries')).rows);
  t.true(stored.some((r: { id: string }) => r.id === `sys/wrapping/${w.accessor}`));
  const dumpBefore = JSON.stringify(stored.map((r: { sealed: Buffer }) => r.sealed.toString('latin1')));
  t.false(dumpBefore.includes('audit-wrapped-plaintext-9'));
  t.false(dumpBefore.includes(w.token));

  await vaultClient(b, w.token).unwrap();
  const hash = ((await must('POST', 'sys/audit-hash/file', { input: w.token })) as { data: { hash: string } }).data.hash;
  const audit = await withPgClient(dbUrl, async (c) => JSON.stringify((await c.query('SELECT * FROM audit_entries')).rows));
  const tokens = JSON.stringify(await withPgClient(dbUrl, async (c) => (await c.query('SELECT * FROM tokens')).rows));
  for (const dump of [audit, tokens, b.logs()]) {
    t.false(dump.includes(w.token), 'no plaintext wrapping token');
    t.false(dump.includes('audit-wrapped-plaintext-9'), 'no plaintext wrapped value');
  }
  t.true(audit.includes(hash), 'the wrap response records the HMAC of the wrapping token');
  t.true(audit.includes(w.accessor));
});

test.serial('bad wrap input is a 4xx in Vault form', async (t) => {
  for (const ttl of ['abc', '-5', '5x', '99999999999']) {
    const r = await api(b, 'GET', 'sys/mounts', { headers: { 'X-Vault-Wrap-TTL': ttl } });
    t.is(r.status, 400, ttl);
    t.true(Array.isArray((r.json as { errors: unknown }).errors));
  }
  t.is((await api(b, 'GET', 'sys/mounts', { headers: { 'X-Vault-Wrap-TTL': '60', 'X-Vault-Wrap-Format': 'jwt' } })).status, 400);
  t.is((await api(b, 'POST', 'sys/wrapping/unwrap', { body: { token: 'sbx.not-a-wrapping-token' } })).status, 400);
  t.is((await api(b, 'POST', 'sys/wrapping/unwrap', { body: { token: 42 } })).status, 400);
  // A normal token is not a wrapping token.
  t.is((await api(b, 'POST', 'sys/wrapping/unwrap', { body: { token: b.rootToken } })).status, 400);
  t.is((await api(b, 'POST', 'sys/wrapping/lookup', { token: null, body: {} })).status, 400);
  // No one can create or assign the response-wrapping policy.
  t.is((await api(b, 'PUT', 'sys/policies/acl/response-wrapping', { body: { policy: 'path "*" { capabilities = ["read"] }' } })).status, 400);
  t.is((await api(b, 'POST', 'auth/token/create', { body: { policies: ['response-wrapping'] } })).status, 400);
});
