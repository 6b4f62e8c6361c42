// AppRole auth method, end to end against real broker processes: PGlite (default config) for most tests, and
// PostgreSQL (with a short lockout duration) for the lockout and the "no secret ID at rest" checks.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient, type VaultApiError } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

let b: Broker;
let pgBroker: Broker;
let pgUrl: string;
/** Every secret ID the brokers handed out, to check that none reaches a log line or a database dump. */
const issued: string[] = [];

test.before(async () => {
  const pg = await startPostgres();
  const configDir = await fs.mkdtemp(path.join(os.tmpdir(), 'sealbox-approle-'));
  const configFile = path.join(configDir, 'config.json');
  await fs.writeFile(configFile, JSON.stringify({ lockout_duration: 3 }));
  pgUrl = await pg.createDatabase();
  [b, pgBroker] = await Promise.all([startApp(), startApp({ databaseUrl: pgUrl, args: ['--config', configFile] })]);
  for (const broker of [b, pgBroker]) {
    const r = await api(broker, 'POST', 'sys/auth/approle', { body: { type: 'approle' } });
    if (r.status !== 204 && r.status !== 200) throw new Error(`enabling approle failed: ${r.status} ${r.text}`);
  }
});
test.after.always(async () => {
  await Promise.all([b?.stop(), pgBroker?.stop()]);
});

interface Creds {
  roleId: string;
  secretId: string;
  accessor: string;
}

const dataOf = <T>(json: unknown): T => (json as { data: T }).data;
const errorsOf = (json: unknown): string[] => ((json as { errors?: string[] } | undefined)?.errors ?? []).map(String);
const INVALID = { errors: ['invalid credentials'] };

async function createRole(t: ExecutionContext, broker: Broker, name: string, body: Record<string, unknown> = {}): Promise<void> {
  const r = await api(broker, 'POST', `auth/approle/role/${name}`, { body: { token_policies: 'app', ...body } });
  t.is(r.status, 204, r.text);
}

async function newSecretId(t: ExecutionContext, broker: Broker, role: string, body: Record<string, unknown> = {}): Promise<{ secretId: string; accessor: string }> {
  const r = await api(broker, 'POST', `auth/approle/role/${role}/secret-id`, { body });
  t.is(r.status, 200, r.text);
  const d = dataOf<{ secret_id: string; secret_id_accessor: string }>(r.json);
  issued.push(d.secret_id);
  return { secretId: d.secret_id, accessor: d.secret_id_accessor };
}

async function credsFor(t: ExecutionContext, broker: Broker, role: string, secretBody: Record<string, unknown> = {}): Promise<Creds> {
  const roleId = dataOf<{ role_id: string }>((await api(broker, 'GET', `auth/approle/role/${role}/role-id`)).json).role_id;
  return { roleId, ...(await newSecretId(t, broker, role, secretBody)) };
}

const login = (broker: Broker, body: unknown) => api(broker, 'POST', 'auth/approle/login', { token: null, body });

test.serial('role CRUD: create with a comma string, read back Vault fields, LIST, update, delete', async (t) => {
  await createRole(t, b, 'crud', { token_policies: 'a, b,a', token_ttl: '1h', token_max_ttl: 7200, secret_id_num_uses: '3', secret_id_ttl: '10m' });
  const read = await api(b, 'GET', 'auth/approle/role/crud');
  t.is(read.status, 200);
  const d = dataOf<Record<string, unknown>>(read.json);
  t.like(d, {
    token_policies: ['a', 'b'],
    policies: ['a', 'b'],
    token_ttl: 3600,
    token_max_ttl: 7200,
    bind_secret_id: true,
    secret_id_num_uses: 3,
    secret_id_ttl: 600,
    secret_id_bound_cidrs: [],
    token_bound_cidrs: [],
  });
  t.false(JSON.stringify(d).includes('hmac'), 'the role key is never returned');

  // Update keeps unspecified fields; the legacy `policies` name still works.
  t.is((await api(b, 'POST', 'auth/approle/role/crud', { body: { policies: ['c'] } })).status, 204);
  t.like(dataOf<Record<string, unknown>>((await api(b, 'GET', 'auth/approle/role/crud')).json), {
    token_policies: ['c'],
    token_ttl: 3600,
    token_bound_cidrs: [],
  });
  // token_bound_cidrs is not enforced, so a real value is refused (not stored and silently ignored); empty is fine.
  const bound = await api(b, 'POST', 'auth/approle/role/crud', { body: { token_bound_cidrs: '10.0.0.0/8' } });
  t.is(bound.status, 400);
  t.regex(JSON.stringify(bound.json), /token_bound_cidrs: binding tokens to source addresses is not enforced/);
  t.is((await api(b, 'POST', 'auth/approle/role/crud', { body: { token_bound_cidrs: [] } })).status, 204);
  const sid = await api(b, 'POST', 'auth/approle/role/crud/secret-id', { body: { token_bound_cidrs: ['10.0.0.0/8'] } });
  t.is(sid.status, 400);
  t.regex(JSON.stringify(sid.json), /token_bound_cidrs: binding tokens/);

  // Role names are case-insensitive, as in Vault.
  t.is((await api(b, 'GET', 'auth/approle/role/CRUD')).status, 200);
  const list = await api(b, 'GET', 'auth/approle/role?list=true');
  t.true(dataOf<{ keys: string[] }>(list.json).keys.includes('crud'));
  const viaClient = await vaultClient(b).list('auth/approle/role');
  t.true((viaClient.data.keys ?? []).includes('crud'));

  t.is((await api(b, 'DELETE', 'auth/approle/role/crud')).status, 204);
  t.is((await api(b, 'GET', 'auth/approle/role/crud')).status, 404);
  t.is((await api(b, 'DELETE', 'auth/approle/role/crud')).status, 204, 'deleting a missing role is not an error');
});

test.serial('login through node-vault returns a token with the role policies, display name, metadata and TTL', async (t) => {
  await createRole(t, b, 'web', { token_policies: ['app', 'db-read'], token_ttl: '20m', token_max_ttl: '1h' });
  const v = vaultClient(b);
  const roleId = (await v.getApproleRoleId({ role_name: 'web', mount_point: 'approle' })).data.role_id;
  t.is(typeof roleId, 'string');
  const sec = await v.getApproleRoleSecret({ role_name: 'web', mount_point: 'approle', metadata: JSON.stringify({ team: 'blue' }) });
  const secretId = String(sec.data.secret_id);
  issued.push(secretId);
  t.is(secretId.length, 36);
  t.is(typeof sec.data.secret_id_accessor, 'string');

  const client = vaultClient(b, '');
  const res = await client.approleLogin({ role_id: roleId, secret_id: secretId, mount_point: 'approle' });
  const auth = res.auth;
  if (!auth) return t.fail('no auth in the login response');
  t.deepEqual([...(auth.policies ?? [])].sort(), ['app', 'db-read', 'default']);
  t.true((auth.lease_duration ?? 0) > 1190 && (auth.lease_duration ?? 0) <= 1200);
  t.is(client.token, auth.client_token, 'node-vault switches to the new token');

  const self = dataOf<{ policies: string[]; display_name: string; meta: Record<string, string>; ttl: number; path: string }>(
    (await api(b, 'GET', 'auth/token/lookup-self', { token: auth.client_token })).json,
  );
  t.deepEqual([...self.policies].sort(), ['app', 'db-read', 'default']);
  t.is(self.display_name, 'approle-web');
  t.deepEqual(self.meta, { role_name: 'web', team: 'blue' });
  t.true(self.ttl > 1190 && self.ttl <= 1200);
});

test.serial('a wrong secret ID and an unknown role ID get the same 400 "invalid credentials"', async (t) => {
  await createRole(t, b, 'same-error');
  const c = await credsFor(t, b, 'same-error');
  const wrongSecret = await login(b, { role_id: c.roleId, secret_id: '00000000-0000-4000-8000-000000000000' });
  const unknownRole = await login(b, { role_id: 'no-such-role-id', secret_id: c.secretId });
  const noSecret = await login(b, { role_id: c.roleId });
  for (const r of [wrongSecret, unknownRole, noSecret]) {
    t.is(r.status, 400);
    t.deepEqual(r.json, INVALID);
  }
  t.is(wrongSecret.text, unknownRole.text, 'byte-for-byte the same body');
  t.is((await login(b, { role_id: c.roleId, secret_id: c.secretId })).status, 200);
});

async function lockoutCheck(t: ExecutionContext, broker: Broker, role: string): Promise<Creds> {
  await createRole(t, broker, role);
  const c = await credsFor(t, broker, role);
  for (let i = 0; i < 5; i++) {
    const r = await login(broker, { role_id: c.roleId, secret_id: `wrong-${i}` });
    t.is(r.status, 400);
    t.deepEqual(r.json, INVALID);
  }
  const refused = await login(broker, { role_id: c.roleId, secret_id: c.secretId });
  t.is(refused.status, 400, 'the right secret ID is refused while the role ID is locked');
  t.deepEqual(refused.json, INVALID);
  // Another role on the same mount is not affected.
  await createRole(t, broker, `${role}-other`);
  const other = await credsFor(t, broker, `${role}-other`);
  t.is((await login(broker, { role_id: other.roleId, secret_id: other.secretId })).status, 200);
  return c;
}

test.serial('after 5 wrong secret IDs the right one is refused (PGlite, default 15-minute lockout)', async (t) => {
  await lockoutCheck(t, b, 'locked');
});

test.serial('lockout on PostgreSQL: refused after 5 failures, accepted again once the lockout ends', async (t) => {
  const c = await lockoutCheck(t, pgBroker, 'locked');
  pgBroker.clock.advance(3_500);
  const ok = await login(pgBroker, { role_id: c.roleId, secret_id: c.secretId });
  t.is(ok.status, 200, ok.text);
});

test.serial('concurrent logins spend a limited secret ID atomically (PostgreSQL)', async (t) => {
  await createRole(t, pgBroker, 'race');
  const c = await credsFor(t, pgBroker, 'race', { num_uses: 2 });
  const results = await Promise.all(Array.from({ length: 4 }, () => login(pgBroker, { role_id: c.roleId, secret_id: c.secretId })));
  t.deepEqual(results.map((r) => r.status).sort(), [200, 200, 400, 400]);
});

test.serial('a secret ID with num_uses=1 logs in once; the role limit is enforced on generation', async (t) => {
  await createRole(t, b, 'once', { secret_id_num_uses: 2 });
  const c = await credsFor(t, b, 'once', { num_uses: 1 });
  t.is((await login(b, { role_id: c.roleId, secret_id: c.secretId })).status, 200);
  const again = await login(b, { role_id: c.roleId, secret_id: c.secretId });
  t.is(again.status, 400);
  t.deepEqual(again.json, INVALID);
  // Used up means gone: the accessor is gone too.
  const acc = await api(b, 'POST', 'auth/approle/role/once/secret-id-accessor/lookup', { body: { secret_id_accessor: c.accessor } });
  t.is(acc.status, 404);

  const twice = await credsFor(t, b, 'once');
  t.is(dataOf<{ secret_id_num_uses: number }>((await api(b, 'POST', 'auth/approle/role/once/secret-id/lookup', { body: { secret_id: twice.secretId } })).json).secret_id_num_uses, 2);
  t.is((await login(b, { role_id: c.roleId, secret_id: twice.secretId })).status, 200);
  t.is(dataOf<{ secret_id_num_uses: number }>((await api(b, 'POST', 'auth/approle/role/once/secret-id/lookup', { body: { secret_id: twice.secretId } })).json).secret_id_num_uses, 1);
  t.is((await login(b, { role_id: c.roleId, secret_id: twice.secretId })).status, 200);
  t.is((await login(b, { role_id: c.roleId, secret_id: twice.secretId })).status, 400);

  const tooMany = await api(b, 'POST', 'auth/approle/role/once/secret-id', { body: { num_uses: 5 } });
  t.is(tooMany.status, 400);
  t.regex(errorsOf(tooMany.json)[0] ?? '', /num_uses/);
});

test.serial('a secret ID with ttl 1s expires', async (t) => {
  await createRole(t, b, 'short');
  const c = await credsFor(t, b, 'short', { ttl: '1s' });
  const look = await api(b, 'POST', 'auth/approle/role/short/secret-id/lookup', { body: { secret_id: c.secretId } });
  t.is(look.status, 200);
  t.is(dataOf<{ secret_id_ttl: number }>(look.json).secret_id_ttl, 1);
  b.clock.advance(1_300);
  const r = await login(b, { role_id: c.roleId, secret_id: c.secretId });
  t.is(r.status, 400);
  t.deepEqual(r.json, INVALID);
  t.is((await api(b, 'POST', 'auth/approle/role/short/secret-id/lookup', { body: { secret_id: c.secretId } })).status, 204);
});

test.serial('secret IDs: LIST accessors, lookup, destroy by value and by accessor', async (t) => {
  await createRole(t, b, 'manage');
  const one = await credsFor(t, b, 'manage', { metadata: { env: 'prod' } });
  const two = await newSecretId(t, b, 'manage');
  const keys = dataOf<{ keys: string[] }>((await api(b, 'GET', 'auth/approle/role/manage/secret-id?list=true')).json).keys;
  t.deepEqual([...keys].sort(), [one.accessor, two.accessor].sort());

  const look = dataOf<Record<string, unknown>>((await api(b, 'POST', 'auth/approle/role/manage/secret-id/lookup', { body: { secret_id: one.secretId } })).json);
  t.like(look, { secret_id_accessor: one.accessor, metadata: { env: 'prod' }, secret_id_num_uses: 0 });
  t.false(JSON.stringify(look).includes(one.secretId), 'a lookup never echoes the secret ID');

  t.is((await api(b, 'POST', 'auth/approle/role/manage/secret-id/destroy', { body: { secret_id: one.secretId } })).status, 204);
  t.is((await login(b, { role_id: one.roleId, secret_id: one.secretId })).status, 400);
  t.is((await api(b, 'POST', 'auth/approle/role/manage/secret-id-accessor/destroy', { body: { secret_id_accessor: two.accessor } })).status, 204);
  t.is((await login(b, { role_id: one.roleId, secret_id: two.secretId })).status, 400);
  t.is((await api(b, 'GET', 'auth/approle/role/manage/secret-id?list=true')).status, 404);
  const gone = await api(b, 'POST', 'auth/approle/role/manage/secret-id-accessor/destroy', { body: { secret_id_accessor: two.accessor } });
  t.is(gone.status, 404);

  // Deleting the role removes its secret IDs: a role re-created with the same name does not accept them.
  const three = await newSecretId(t, b, 'manage');
  t.is((await api(b, 'DELETE', 'auth/approle/role/manage')).status, 204);
  await createRole(t, b, 'manage');
  const newRoleId = dataOf<{ role_id: string }>((await api(b, 'GET', 'auth/approle/role/manage/role-id')).json).role_id;
  t.not(newRoleId, one.roleId);
  t.is((await login(b, { role_id: newRoleId, secret_id: three.secretId })).status, 400);
  t.is((await login(b, { role_id: one.roleId, secret_id: three.secretId })).status, 400);
});

test.serial('custom role IDs are unique across the mount; the old role ID stops working', async (t) => {
  await createRole(t, b, 'custom-a');
  await createRole(t, b, 'custom-b');
  const before = await credsFor(t, b, 'custom-a');
  const v = vaultClient(b);
  await v.updateApproleRoleId({ role_name: 'custom-a', mount_point: 'approle', role_id: 'my-service-id' });
  t.is((await v.getApproleRoleId({ role_name: 'custom-a', mount_point: 'approle' })).data.role_id, 'my-service-id');
  t.is((await login(b, { role_id: 'my-service-id', secret_id: before.secretId })).status, 200);
  t.deepEqual((await login(b, { role_id: before.roleId, secret_id: before.secretId })).json, INVALID);

  const taken = await api(b, 'POST', 'auth/approle/role/custom-b/role-id', { body: { role_id: 'my-service-id' } });
  t.is(taken.status, 409);
  t.deepEqual(taken.json, { errors: ['role_id already in use'] });
  const takenOnCreate = await api(b, 'POST', 'auth/approle/role/custom-c', { body: { role_id: 'my-service-id' } });
  t.is(takenOnCreate.status, 409);
  t.is((await api(b, 'GET', 'auth/approle/role/custom-c')).status, 404, 'a refused create writes nothing');
});

test.serial('CIDR bindings: the role and the secret ID restrict where a login may come from', async (t) => {
  await createRole(t, b, 'cidr-role', { secret_id_bound_cidrs: ['10.0.0.0/8'] });
  const far = await credsFor(t, b, 'cidr-role', { cidr_list: '10.1.0.0/16' });
  t.deepEqual((await login(b, { role_id: far.roleId, secret_id: far.secretId })).json, INVALID);
  const notSubset = await api(b, 'POST', 'auth/approle/role/cidr-role/secret-id', { body: { cidr_list: ['127.0.0.0/8'] } });
  t.is(notSubset.status, 400);
  t.regex(errorsOf(notSubset.json)[0] ?? '', /subset/);

  await createRole(t, b, 'cidr-secret');
  const local = await credsFor(t, b, 'cidr-secret', { cidr_list: ['127.0.0.0/8'] });
  t.is((await login(b, { role_id: local.roleId, secret_id: local.secretId })).status, 200);
  const remote = await credsFor(t, b, 'cidr-secret', { cidr_list: ['192.0.2.0/24'] });
  t.deepEqual((await login(b, { role_id: remote.roleId, secret_id: remote.secretId })).json, INVALID);

  // bind_secret_id=false needs a source-address binding, which the login then enforces.
  const unbound = await api(b, 'POST', 'auth/approle/role/no-secret', { body: { bind_secret_id: false } });
  t.is(unbound.status, 400);
  t.regex(errorsOf(unbound.json)[0] ?? '', /constraint/);
  await createRole(t, b, 'no-secret', { bind_secret_id: false, secret_id_bound_cidrs: '127.0.0.1/32' });
  const rid = dataOf<{ role_id: string }>((await api(b, 'GET', 'auth/approle/role/no-secret/role-id')).json).role_id;
  t.is((await login(b, { role_id: rid })).status, 200);
  await createRole(t, b, 'no-secret-far', { bind_secret_id: false, secret_id_bound_cidrs: '10.0.0.0/8' });
  const farId = dataOf<{ role_id: string }>((await api(b, 'GET', 'auth/approle/role/no-secret-far/role-id')).json).role_id;
  t.deepEqual((await login(b, { role_id: farId })).json, INVALID);
});

test.serial('bad input is a 4xx that says what is wrong, never a 5xx', async (t) => {
  const cases: [string, string, unknown][] = [
    ['POST', 'auth/approle/login', {}],
    ['POST', 'auth/approle/login', { role_id: 123, secret_id: 'x' }],
    ['POST', 'auth/approle/login', { role_id: 'x', secret_id: { a: 1 } }],
    ['POST', 'auth/approle/login', { role_id: '   ' }],
    ['POST', 'auth/approle/login', { role_id: 'x'.repeat(5000), secret_id: 'y' }],
    ['POST', 'auth/approle/role/bad-ttl', { token_ttl: 'soon' }],
    ['POST', 'auth/approle/role/bad-uses', { secret_id_num_uses: -1 }],
    ['POST', 'auth/approle/role/bad-bool', { bind_secret_id: 'maybe' }],
    ['POST', 'auth/approle/role/bad-cidr', { secret_id_bound_cidrs: ['10.0.0.0/33'] }],
    ['POST', 'auth/approle/role/bad-cidr', { token_bound_cidrs: 'not-an-ip' }],
    ['POST', 'auth/approle/role/bad-policies', { token_policies: { a: 1 } }],
    ['POST', 'auth/approle/role/root-policy', { token_policies: 'root' }],
    ['POST', 'auth/approle/role/ttl-over-max', { token_ttl: '2h', token_max_ttl: '1h' }],
    ['POST', `auth/approle/role/${'n'.repeat(129)}`, {}],
    ['POST', `auth/approle/role/${encodeURIComponent("x'; DROP TABLE entries; --")}`, {}],
    ['POST', `auth/approle/role/${encodeURIComponent('a/../../sys')}/secret-id`, {}],
    ['POST', `auth/approle/role/${encodeURIComponent('..')}`, {}],
    ['GET', `auth/approle/role/${encodeURIComponent('%00')}`, undefined],
    ['POST', 'auth/approle/role/missing-role/secret-id', {}],
    ['POST', 'auth/approle/role/missing-role/role-id', { role_id: 'x' }],
    ['POST', 'auth/approle/role/missing-role/secret-id/lookup', {}],
    ['POST', 'auth/approle/role/missing-role/secret-id-accessor/destroy', { secret_id_accessor: 5 }],
  ];
  await createRole(t, b, 'bad-input');
  cases.push(
    ['POST', 'auth/approle/role/bad-input/secret-id', { metadata: 'not json or pairs' }],
    ['POST', 'auth/approle/role/bad-input/secret-id', { metadata: { nested: { a: 1 } } }],
    ['POST', 'auth/approle/role/bad-input/secret-id', { ttl: [1] }],
    ['POST', 'auth/approle/role/bad-input/secret-id', { cidr_list: ['300.0.0.1/32'] }],
    ['POST', 'auth/approle/role/bad-input/secret-id/destroy', { secret_id: ['a'] }],
    ['POST', 'auth/approle/role/bad-input/secret-id-accessor/lookup', { secret_id_accessor: '../x' }],
  );
  for (const [method, p, body] of cases) {
    const r = await api(b, method, p, { body });
    const where = `${method} ${p.slice(0, 80)} ${JSON.stringify(body)?.slice(0, 80) ?? ''}`;
    t.true(r.status >= 400 && r.status < 500, `${where} → ${r.status} ${r.text.slice(0, 200)}`);
    t.true(errorsOf(r.json).length > 0 && (errorsOf(r.json)[0] ?? '').length > 0, `${where}: says what is wrong`);
  }
  t.is((await api(b, 'GET', 'sys/health', { token: null })).status, 200, 'the broker is still up');
});

test.serial('role endpoints need a token; only login is open', async (t) => {
  for (const [method, p] of [
    ['GET', 'auth/approle/role/web'],
    ['GET', 'auth/approle/role/web/role-id'],
    ['POST', 'auth/approle/role/web/secret-id'],
    ['POST', 'auth/approle/role/web'],
  ] as const) {
    const r = await api(b, method, p, { token: null, body: method === 'POST' ? {} : undefined });
    t.is(r.status, 403, `${method} ${p}`);
  }
  const r = await api(b, 'GET', 'auth/approle/role/web/role-id', { token: 'forged-token' });
  t.is(r.status, 403);
  const err = await vaultClient(b, 'forged').getApproleRoleId({ role_name: 'web' }).catch((e: unknown) => e as VaultApiError);
  t.is((err as VaultApiError).response.statusCode, 403);
});

test.serial('no secret ID reaches the broker logs or the PostgreSQL dump', async (t) => {
  // Put a few into PostgreSQL: a live one, a spent one and one with uses left.
  await createRole(t, pgBroker, 'at-rest', { secret_id_num_uses: 3 });
  const live = await credsFor(t, pgBroker, 'at-rest');
  await credsFor(t, pgBroker, 'at-rest', { num_uses: 1, metadata: 'k=v' });
  t.is((await login(pgBroker, { role_id: live.roleId, secret_id: live.secretId })).status, 200);
  await pgBroker.stop();

  t.true(issued.length > 10);
  const logs = b.logs() + pgBroker.logs();
  t.true(logs.length > 0);
  for (const s of issued) t.false(logs.includes(s), 'a secret ID in the logs');

  const dump = await (await startPostgres()).dumpAll();
  t.true(dump.length > 1000);
  for (const s of issued) {
    t.false(dump.includes(s), 'a secret ID at rest');
    t.false(dump.includes(Buffer.from(s).toString('hex')), 'a secret ID at rest (hex)');
  }
  // The engine's own storage holds the role ID only encrypted, and indexes it by HMAC. (The token table's
  // entity_name holds the alias name, which for AppRole is the role ID, as Vault's identity store does.)
  const rows = await withPgClient(pgUrl, async (c) => (await c.query<{ key: string; sealed: Buffer }>('SELECT key, sealed FROM entries')).rows);
  t.true(rows.some((r) => r.key.startsWith('role-id/')));
  for (const r of rows) {
    t.false(r.key.includes(live.roleId));
    t.false(r.sealed.includes(live.roleId));
  }
});
