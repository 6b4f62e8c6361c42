// Issue 20 items 3, 4 and 5: one credential per workload. 20 sealbox-agent processes logged in with the same
// Kubernetes service account and a sharing role produce ONE database user (each agent holds its own lease); two
// service accounts produce two; revoking every lease drops the user; a role without sharing still gives 20. Then the
// target's protection: a creation rate limit shared by two replicas (counted on the target) and caps on live users,
// refused with 429 + Retry-After naming the limit. Targets are real PostgreSQL databases.
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { runAgent, tempDir, writeConfig, type AgentProc } from '../agent/test/helpers.ts';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { newTarget, type Target } from './helpers/pg-target.ts';
import { withPgClient } from './helpers/postgres.ts';
import { startReplicaPair } from './helpers/replica-pair.ts';
import { canLogin, must, waitFor, type Creds } from './consumers/kit.ts';

/** Members of `group` on the target: the dynamic users that exist now. */
async function members(target: Target, group: string): Promise<string[]> {
  return withPgClient(target.url, async (c) => {
    const r = await c.query<{ rolname: string }>(
      `SELECT m.rolname FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid JOIN pg_roles m ON m.oid = a.member WHERE g.rolname = $1`,
      [group],
    );
    return r.rows.map((x) => x.rolname).sort();
  });
}

async function mountWithRoles(b: Broker, target: Target, group: string, config: Record<string, unknown> = {}): Promise<void> {
  const r = await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } });
  if (r.status !== 204 && !r.text.includes('already in use')) throw new Error(`mount: ${r.status} ${r.text}`);
  await must(b, 'POST', 'database/config/main', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
    username: target.cluster.user,
    password: target.cluster.password,
    allowed_roles: '*',
    ...config,
  });
  await must(b, 'POST', 'database/roles/shared', { db_name: 'main', default_group: group, default_ttl: '1h', max_ttl: '2h', credential_sharing: 'identity' });
  await must(b, 'POST', 'database/roles/plain', { db_name: 'main', default_group: group, default_ttl: '1h', max_ttl: '2h' });
}

test.serial('20 agents of one service account share one user; two accounts get two; revoking every lease drops it; without sharing, 20', async (t) => {
  t.timeout(900_000);
  const target = await newTarget('shared_readers');
  const b = await startBroker({ timeoutMs: 180_000 });
  t.teardown(() => b.stop());
  await mountWithRoles(b, target, 'shared_readers');
  const key = await generateKeyPair('ES256', { extractable: true });
  await must(b, 'POST', 'sys/auth/kubernetes', { type: 'kubernetes' });
  await must(b, 'POST', 'auth/kubernetes/config', { kubernetes_host: 'https://10.0.0.1:443', pem_keys: [await exportSPKI(key.publicKey)], disable_local_ca_jwt: true });
  await must(b, 'PUT', 'sys/policies/acl/db', {
    policy: 'path "database/creds/*" { capabilities = ["read"] }\npath "sys/leases/*" { capabilities = ["update"] }\npath "sys/events/subscribe" { capabilities = ["read"] }',
  });
  await must(b, 'POST', 'auth/kubernetes/role/web', { bound_service_account_names: '*', bound_service_account_namespaces: 'team-a', token_policies: ['db'], token_ttl: '1h' });

  const accounts = { web: randomUUID(), api: randomUUID() };
  const jwtFor = (name: 'web' | 'api') =>
    new SignJWT({
      iss: 'kubernetes/serviceaccount',
      'kubernetes.io/serviceaccount/namespace': 'team-a',
      'kubernetes.io/serviceaccount/secret.name': `${name}-token-x`,
      'kubernetes.io/serviceaccount/service-account.name': name,
      'kubernetes.io/serviceaccount/service-account.uid': accounts[name],
      sub: `system:serviceaccount:team-a:${name}`,
    })
      .setProtectedHeader({ alg: 'ES256' })
      .sign(key.privateKey);

  const agents: AgentProc[] = [];
  t.teardown(async () => {
    await Promise.all(agents.map((a) => a.stop()));
  });
  async function start(account: 'web' | 'api', role: string, n: number): Promise<string[]> {
    const files = await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const dir = await tempDir(`shared-${account}-${role}-${i}-`);
        const tokenFile = path.join(dir, 'sa-token');
        await fsp.writeFile(tokenFile, await jwtFor(account));
        const destination = path.join(dir, 'db.json');
        const config = await writeConfig(dir, {
          broker: { address: b.address },
          auth: { method: 'kubernetes', mount: 'kubernetes', role: 'web', token_file: tokenFile },
          secrets: [{ path: `database/creds/${role}`, destination }],
          revoke_on_shutdown: true,
        });
        agents.push(runAgent(config));
        return destination;
      }),
    );
    await waitFor(`${n} agents to write their files`, async () => (await Promise.all(files.map((f) => fsp.access(f).then(() => true, () => false)))).every(Boolean), 120_000);
    return files;
  }
  const credsIn = async (files: string[]): Promise<Creds[]> => Promise.all(files.map(async (f) => JSON.parse(await fsp.readFile(f, 'utf8')) as Creds));

  // 20 agents, one service account, the sharing role: one user.
  const web = await credsIn(await start('web', 'shared', 20));
  t.is(new Set(web.map((c) => c.username)).size, 1, 'one database user for 20 agents of one service account');
  t.is((await members(target, 'shared_readers')).length, 1, 'one user on the target');
  t.true(await canLogin(target, web[0] as Creds));
  const leases = ((await must(b, 'LIST', 'sys/leases/lookup/database/creds/shared')) as { data: { keys: string[] } }).data.keys;
  // At least one lease per agent (an agent whose request timed out on a loaded machine may have fetched again).
  t.true(leases.length >= 20, `each agent holds a lease of its own (${leases.length} leases)`);

  // A second service account: a second user.
  const apiCreds = await credsIn(await start('api', 'shared', 2));
  t.is(new Set(apiCreds.map((c) => c.username)).size, 1);
  t.not(apiCreds[0]?.username, web[0]?.username);
  t.is((await members(target, 'shared_readers')).length, 2, 'two service accounts, two users');

  // Every agent stops and revokes its lease: the shared users are dropped with the last of their leases.
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  await waitFor('the shared users to be dropped', async () => (await members(target, 'shared_readers')).length === 0, 60_000);
  t.false(await canLogin(target, web[0] as Creds));

  // Without sharing: 20 agents, 20 users.
  const plain = await credsIn(await start('web', 'plain', 20));
  t.is(new Set(plain.map((c) => c.username)).size, 20);
  t.is((await members(target, 'shared_readers')).length, 20);
});

test.serial('a caller arriving late in a shared user life gets a new user; renew and revoke stay per lease', async (t) => {
  t.timeout(900_000);
  const target = await newTarget('late_readers');
  const b = await startBroker({ timeoutMs: 180_000 });
  t.teardown(() => b.stop());
  await mountWithRoles(b, target, 'late_readers');
  await must(b, 'POST', 'database/roles/short', { db_name: 'main', default_group: 'late_readers', default_ttl: '4s', max_ttl: '4s', credential_sharing: 'identity' });
  await must(b, 'POST', 'sys/auth/approle', { type: 'approle' });
  await must(b, 'PUT', 'sys/policies/acl/db', { policy: 'path "database/creds/*" { capabilities = ["read"] }' });
  await must(b, 'POST', 'auth/approle/role/app', { token_policies: ['db'] });
  const roleId = ((await must(b, 'GET', 'auth/approle/role/app/role-id')) as { data: { role_id: string } }).data.role_id;
  const loginToken = async () => {
    const sid = ((await must(b, 'POST', 'auth/approle/role/app/secret-id')) as { data: { secret_id: string } }).data.secret_id;
    return ((await must(b, 'POST', 'auth/approle/login', { role_id: roleId, secret_id: sid })) as { auth: { client_token: string } }).auth.client_token;
  };
  const [t1, t2] = [await loginToken(), await loginToken()];
  const read = async (token: string) => (await must(b, 'GET', 'database/creds/shared', undefined, token)) as { lease_id: string; data: Creds };
  const a = await read(t1);
  const c = await read(t2);
  t.is(a.data.username, c.data.username, 'two logins of one AppRole role share the user');
  t.not(a.lease_id, c.lease_id);
  await must(b, 'PUT', 'sys/leases/renew', { lease_id: a.lease_id });
  await must(b, 'PUT', 'sys/leases/revoke', { lease_id: a.lease_id });
  t.true(await canLogin(target, c.data), 'revoking one lease leaves the user for the other caller');
  await must(b, 'PUT', 'sys/leases/revoke', { lease_id: c.lease_id });
  await waitFor('the user to be dropped with its last lease', async () => !(await members(target, 'late_readers')).includes(c.data.username), 30_000);

  // A 4 s user: a caller in its second half gets a fresh one, never one about to expire.
  const first = (await must(b, 'GET', 'database/creds/short', undefined, t1)) as { lease_duration: number; data: Creds };
  t.true(first.lease_duration <= 4);
  const created = Date.now();
  // A moment: checked when the clock reaches it.
  await waitFor('the first user to pass half its life', async () => Date.now() - created > 2500, 10_000, { at: [created + 2501] });
  const late = (await must(b, 'GET', 'database/creds/short', undefined, t2)) as { lease_duration: number; data: Creds };
  t.not(late.data.username, first.data.username, 'late in its life: a new shared user');
  t.true(late.lease_duration >= 3, `the late caller's lease is not about to expire (${late.lease_duration} s)`);
});

test.serial('creation_rate holds across two replicas (counted on the target); caps refuse with 429 and Retry-After naming the limit', async (t) => {
  t.timeout(900_000);
  const target = await newTarget('rate_readers');
  const pair = await startReplicaPair();
  t.teardown(() => pair.stop());
  await mountWithRoles(pair.a, target, 'rate_readers', { creation_rate: 3 });
  // Both replicas mint at once, 12 requests each, all within about a second.
  const burst = async (b: Broker) => Promise.all(Array.from({ length: 12 }, () => api(b, 'GET', 'database/creds/plain')));
  const started = Date.now();
  const [ra, rb] = await Promise.all([burst(pair.a), burst(pair.b)]);
  const elapsedSeconds = Math.ceil((Date.now() - started) / 1000) + 1;
  const all = [...ra, ...rb];
  const ok = all.filter((r) => r.status === 200);
  const refused = all.filter((r) => r.status === 429);
  t.is(ok.length + refused.length, all.length, JSON.stringify(all.filter((r) => r.status !== 200 && r.status !== 429).map((r) => r.text)));
  t.true(refused.length > 0, 'some requests were refused');
  t.true(ok.length <= 3 * elapsedSeconds, `${ok.length} created in at most ${elapsedSeconds} s windows of 3`);
  t.is((await members(target, 'rate_readers')).length, ok.length, 'the target holds exactly the users handed out');
  const sample = refused[0];
  t.truthy(sample?.headers.get('retry-after'), 'Retry-After is set');
  t.regex(((sample?.json as { errors: string[] }).errors[0] ?? ''), /creation_rate/);

  // Caps on live users.
  await must(pair.a, 'POST', 'database/config/main', { creation_rate: 0, max_credentials_per_role: ok.length + 1, allowed_roles: '*' });
  // b may hold the config it read before this write for up to a second (read-cache.ts): checked again when that ends.
  const capWritten = Date.now();
  await waitFor('a user under the per-role cap', async () => (await api(pair.b, 'GET', 'database/creds/plain')).status === 200, 20_000, { at: [capWritten + 1001, capWritten + 2001] });
  const over = await api(pair.a, 'GET', 'database/creds/plain');
  t.is(over.status, 429, over.text);
  t.regex((over.json as { errors: string[] }).errors[0] ?? '', /max_credentials_per_role/);
  t.truthy(over.headers.get('retry-after'));
  await must(pair.a, 'POST', 'database/config/main', { max_credentials_per_role: 0, max_credentials: ok.length + 1, allowed_roles: '*' });
  // b may hold the config it read before this write for up to a second (read-cache.ts): the cap holds once it is seen.
  const totalWritten = Date.now();
  const overAll = await waitFor('the total cap on b', async () => {
    const r = await api(pair.b, 'GET', 'database/creds/shared', { token: pair.rootToken });
    // Until b's cached config ends, its old per-role cap may refuse first: the wait is for the total cap's answer.
    return r.status === 429 && /max_credentials \(/.test(r.text) ? r : null;
  }, 20_000, { at: [totalWritten + 1001, totalWritten + 2001] });
  t.is(overAll.status, 429, overAll.text);
  t.regex((overAll.json as { errors: string[] }).errors[0] ?? '', /max_credentials \(/);
  const bad = await api(pair.a, 'POST', 'database/config/main', { body: { creation_rate: -1 } });
  t.is(bad.status, 400);

  // The limits show in each replica's metrics: its refusals since start and the live users it last counted.
  const metric = async (b: Broker, name: string): Promise<number> => {
    const r = await api(b, 'GET', 'sys/metrics?format=prometheus');
    const line = r.text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('config="main"'));
    if (!line) throw new Error(`${name} for config main is missing (${r.status}): ${r.text.split("\n").filter((l) => l.startsWith("sealbox_database")).join(" / ").slice(0, 3000)}`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const refusedA = ra.filter((r) => r.status === 429).length;
  const refusedB = rb.filter((r) => r.status === 429).length;
  t.true((await metric(pair.a, 'sealbox_database_creations_refused')) >= refusedA + 1, 'a: the burst refusals and the per-role cap');
  t.true((await metric(pair.b, 'sealbox_database_creations_refused')) >= refusedB + 1, 'b: the burst refusals and the total cap');
  t.true((await metric(pair.b, 'sealbox_database_live_users')) >= ok.length, 'b counted the live users when it checked the cap');
});

test.serial('two replicas at once share one user; releasing the last lease while new callers arrive never drops a user a live lease holds', async (t) => {
  t.timeout(900_000);
  const target = await newTarget('pair_readers');
  const pair = await startReplicaPair();
  t.teardown(() => pair.stop());
  await mountWithRoles(pair.a, target, 'pair_readers');
  await must(pair.a, 'POST', 'sys/auth/approle', { type: 'approle' });
  await must(pair.a, 'PUT', 'sys/policies/acl/db', { policy: 'path "database/creds/*" { capabilities = ["read"] }' });
  await must(pair.a, 'POST', 'auth/approle/role/app', { token_policies: ['db'] });
  const roleId = ((await must(pair.a, 'GET', 'auth/approle/role/app/role-id')) as { data: { role_id: string } }).data.role_id;
  const tokens = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const b = i % 2 === 0 ? pair.a : pair.b;
      const sid = ((await must(b, 'POST', 'auth/approle/role/app/secret-id')) as { data: { secret_id: string } }).data.secret_id;
      return ((await must(b, 'POST', 'auth/approle/login', { role_id: roleId, secret_id: sid })) as { auth: { client_token: string } }).auth.client_token;
    }),
  );
  type Leased = { lease_id: string; data: Creds };
  const read = async (b: Broker, token: string) => (await must(b, 'GET', 'database/creds/shared', undefined, token)) as Leased;
  const users = (ls: Leased[]) => [...new Map(ls.map((l) => [l.data.username, l.data])).values()];

  // 12 callers at once, half on each replica: one user.
  let held = await Promise.all(tokens.map((token, i) => read(i % 2 === 0 ? pair.a : pair.b, token)));
  t.is(users(held).length, 1, 'one user for callers of one identity on two replicas');
  t.is((await members(target, 'pair_readers')).length, 1);

  // Every lease is revoked on one replica while new callers arrive on the other: whoever got a user can log in with it.
  for (let round = 0; round < 4; round++) {
    const [, next] = await Promise.all([
      Promise.all(held.map((l) => must(round % 2 === 0 ? pair.a : pair.b, 'PUT', 'sys/leases/revoke', { lease_id: l.lease_id }))),
      Promise.all(tokens.slice(0, 6).map((token) => read(round % 2 === 0 ? pair.b : pair.a, token))),
    ]);
    for (const c of users(next)) t.true(await canLogin(target, c), `round ${round}: ${c.username} is still on the target for its leases`);
    held = next;
  }
  await Promise.all(held.map((l) => must(pair.b, 'PUT', 'sys/leases/revoke', { lease_id: l.lease_id })));
  await waitFor('the shared users to be dropped with their last leases', async () => (await members(target, 'pair_readers')).length === 0, 30_000);
  t.pass();
});
