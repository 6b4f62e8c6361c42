// Leases end to end (issue 5): dynamic PostgreSQL users minted through the database engine, renewed, revoked,
// expired (also across a broker restart and across two replicas), retried while the target is down, and capped
// by lease count quotas. The target is a real PostgreSQL database; the broker stores its own state in another.
// The broker runs in-process (test/helpers/app.ts): a lease expires when the test advances the clock and runs the
// lease-expiry job. The two replicas are two apps in this process on one database.
import test from 'ava';
import pg from 'pg';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { api, vaultClient, type Broker as ProcessBroker } from './helpers/broker.ts';

type Broker = Pick<ProcessBroker, 'address' | 'rootToken'>;
import { newTarget, type Target } from './helpers/pg-target.ts';
import { withPgClient } from './helpers/postgres.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';

/** Mounts `database/`, a config `main` pointing at the target (through `port`, default the server's), and a role `ro`. */
async function mountDatabase(b: Broker, target: Target, role: Record<string, unknown> = {}, port = target.cluster.port): Promise<void> {
  const { cluster, dbName } = target;
  let r = await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } });
  if (r.status !== 204 && !r.text.includes('already in use')) throw new Error(`mount: ${r.status} ${r.text}`);
  r = await api(b, 'POST', 'database/config/main', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${port}/${dbName}`,
      username: cluster.user,
      password: cluster.password,
      allowed_roles: '*',
    },
  });
  if (r.status >= 300) throw new Error(`config: ${r.status} ${r.text}`);
  r = await api(b, 'POST', 'database/roles/ro', { body: { db_name: 'main', default_group: 'app_readers', default_ttl: '1h', max_ttl: '2h', ...role } });
  if (r.status >= 300) throw new Error(`role: ${r.status} ${r.text}`);
}

interface Creds {
  leaseId: string;
  duration: number;
  username: string;
  password: string;
}

async function mint(b: Broker, role = 'ro', token?: string): Promise<Creds> {
  const r = await api(b, 'GET', `database/creds/${role}`, token ? { token } : {});
  if (r.status !== 200) throw new Error(`creds: ${r.status} ${r.text}`);
  const body = r.json as { lease_id: string; lease_duration: number; data: { username: string; password: string } };
  return { leaseId: body.lease_id, duration: body.lease_duration, username: body.data.username, password: body.data.password };
}

async function connectAs(target: Target, c: Pick<Creds, 'username' | 'password'>): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: c.username, password: c.password, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function canLogin(target: Target, c: Pick<Creds, 'username' | 'password'>): Promise<boolean> {
  try {
    const client = await connectAs(target, c);
    await client.end();
    return true;
  } catch {
    return false;
  }
}

async function roleExists(target: Target, name: string): Promise<boolean> {
  return withPgClient(target.url, async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1);
}

test('node-vault: minted users log in with SCRAM, SELECT but not INSERT; renew is capped at max_ttl; revoke ends logins and open sessions', async (t) => {
  const target = await newTarget();
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target, { default_ttl: '1m', max_ttl: '3m' });
  const vault = vaultClient(b);

  const res = await vault.generateDatabaseCredentials({ databasePath: 'database', name: 'ro' });
  const leaseId = String(res.lease_id);
  t.regex(leaseId, /^database\/creds\/ro\/[A-Za-z0-9]{24}$/);
  t.is(res.lease_duration, 60);
  t.true(res.renewable);
  const creds = { username: res.data.username as string, password: res.data.password as string };

  const session = await connectAs(target, creds);
  t.is((await session.query('SELECT name FROM items WHERE id = 1')).rows[0].name, 'one');
  const insert = await session.query(`INSERT INTO items VALUES (2, 'two')`).catch((e: Error) => e);
  t.true(insert instanceof Error && /permission denied/.test(insert.message));
  const verifier = await withPgClient(target.url, async (c) => (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [creds.username])).rows[0].rolpassword as string);
  t.regex(verifier, /^SCRAM-SHA-256\$4096:/);

  // Renew: the increment counts from now, and nothing goes past max_ttl (3m from issue).
  const renewed = await vault.renew({ lease_id: leaseId, increment: 120 });
  t.is(renewed.lease_id, leaseId);
  t.true(renewed.renewable);
  t.true(Number(renewed.lease_duration) > 100 && Number(renewed.lease_duration) <= 120);
  const capped = await vault.renew({ lease_id: leaseId, increment: 3600 });
  t.true(Number(capped.lease_duration) <= 180 && Number(capped.lease_duration) > 150, `capped at ${capped.lease_duration}`);
  t.true((capped.warnings as string[]).some((w) => w.includes('exceeded the effective max_ttl')));
  // The renewal reached the target: VALID UNTIL follows the lease.
  const validUntil = await withPgClient(target.url, async (c) => (await c.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [creds.username])).rows[0].rolvaliduntil as Date);
  t.true(validUntil.getTime() > Date.now() + 150_000, `VALID UNTIL ${validUntil.toISOString()}`);

  const looked = await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: leaseId } });
  t.is(looked.status, 200);
  const lease = (looked.json as { data: { id: string; ttl: number; renewable: boolean; last_renewal: string | null } }).data;
  t.is(lease.id, leaseId);
  t.true(lease.renewable);
  t.truthy(lease.last_renewal);

  const listed = await api(b, 'GET', 'sys/leases/lookup/database/creds/ro?list=true');
  t.deepEqual((listed.json as { data: { keys: string[] } }).data.keys, [leaseId.split('/').pop()]);
  const folders = await api(b, 'GET', 'sys/leases/lookup/database?list=true');
  t.deepEqual((folders.json as { data: { keys: string[] } }).data.keys, ['creds/']);

  await vault.revoke({ lease_id: leaseId });
  t.false(await canLogin(target, creds));
  t.false(await roleExists(target, creds.username));
  const dead = await session.query('SELECT 1').catch((e: Error) => e);
  t.true(dead instanceof Error, 'the session that was open when the lease was revoked is gone');
  const after = await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: leaseId } });
  t.is(after.status, 400);
  // Revoking again is fine (idempotent), and renewing a revoked lease is a clear 400.
  t.is((await api(b, 'PUT', 'sys/leases/revoke', { body: { lease_id: leaseId } })).status, 204);
  const renewGone = await api(b, 'PUT', 'sys/leases/renew', { body: { lease_id: leaseId } });
  t.is(renewGone.status, 400);
  t.deepEqual(renewGone.json, { errors: ['lease not found'] });
});

test('bad lease input is a clear 4xx', async (t) => {
  const b = await startApp();
  t.teardown(() => b.stop());
  const cases: [string, string, unknown, number, RegExp][] = [
    ['PUT', 'sys/leases/renew', {}, 400, /missing lease ID/],
    ['PUT', 'sys/leases/renew', { lease_id: 'database/creds/ro/nope' }, 400, /lease not found/],
    ['PUT', 'sys/leases/renew', { lease_id: 'x', increment: 'banana' }, 400, /increment/],
    ['PUT', 'sys/leases/renew', { lease_id: { id: 42 } }, 400, /lease_id/],
    ['PUT', 'sys/leases/lookup', { lease_id: "x'; DROP TABLE leases; --" }, 400, /invalid lease/],
    ['GET', 'sys/leases?type=expired', undefined, 400, /type/],
    ['GET', 'sys/leases/lookup/nothing/here?list=true', undefined, 404, /^$/],
  ];
  for (const [method, path, body, status, message] of cases) {
    const r = await api(b, method, path, body === undefined ? {} : { body });
    t.is(r.status, status, `${method} ${path} ${JSON.stringify(body)}: ${r.text}`);
    const errors = (r.json as { errors: string[] }).errors;
    t.regex(errors.join(' '), message);
  }
  const malformed = await api(b, 'PUT', 'sys/leases/revoke', { rawBody: '{"lease_id":', headers: { 'content-type': 'application/json' } });
  t.is(malformed.status, 400);
  // The leases table is intact after the SQL-looking id.
  t.is((await api(b, 'GET', 'sys/leases/count?type=irrevocable')).status, 200);
});

// A minute, not seconds: the target checks the role's VALID UNTIL on its own (wall) clock while the broker's stands still.
test('expiry: a 1 min lease stops working and its role is dropped when it is due, also when the broker was down at expiry', async (t) => {
  const target = await newTarget();
  const databaseUrl = await target.cluster.createDatabase();
  const b = await startApp({ databaseUrl });
  t.teardown(() => b.stop());
  await mountDatabase(b, target, { default_ttl: '1m', max_ttl: '1m' });

  const live = await mint(b);
  t.is(live.duration, 60);
  t.true(await canLogin(target, live));
  b.clock.advance(59_000);
  t.is(await b.kick('lease-expiry'), 'ok');
  t.true(await roleExists(target, live.username), 'not due yet: the role stays');
  b.clock.advance(1_001);
  t.is(await b.kick('lease-expiry'), 'ok');
  t.false(await roleExists(target, live.username), 'due: the expired role is dropped');
  t.false(await canLogin(target, live));

  // Mint, stop the broker, let the lease expire while nothing runs, start again on the same data: it is revoked.
  const orphan = await mint(b);
  const stoppedAt = b.clock.now().getTime();
  await b.stop();
  t.true(await roleExists(target, orphan.username), 'nobody revoked it while the broker was down');
  const again = await startApp({ databaseUrl, dataDir: b.dataDir, rootToken: b.rootToken, startAt: stoppedAt + 61_000 });
  t.teardown(() => again.stop());
  t.is(await again.kick('lease-expiry'), 'ok');
  t.false(await roleExists(target, orphan.username), 'the role that expired during downtime is dropped');
  t.false(await canLogin(target, orphan));
  t.is((await api(again, 'PUT', 'sys/leases/lookup', { body: { lease_id: orphan.leaseId } })).status, 400);
});

test('two replicas and 500 leases expiring together: every role dropped, each lease revoked exactly once', async (t) => {
  const target = await newTarget();
  const databaseUrl = await target.cluster.createDatabase();
  // Each replica has its own pool, clock and expiry worker. A pass claims at most 50 leases (SEALBOX_LEASE_EXPIRY_BATCH;
  // default 500), so that when both replicas' passes run at once there are due leases left for both to take.
  const env = { SEALBOX_LEASE_EXPIRY_BATCH: '50' };
  const first = await startApp({ databaseUrl, env });
  await mountDatabase(first, target, { default_ttl: '25s', max_ttl: '25s' });
  const second = await startApp({ databaseUrl, dataDir: first.dataDir, rootToken: first.rootToken, env });
  t.teardown(async () => {
    await first.stop();
    await second.stop();
  });
  // One time on both replicas' clocks (each stamps the leases it issues with its own): all 500 end at issued + 25 s.
  const issued = Math.max(first.clock.now().getTime(), second.clock.now().getTime());
  const setClocks = (at: number) => {
    first.clock.set(at);
    second.clock.set(at);
  };
  setClocks(issued);

  const names: string[] = [];
  const leaseIds: string[] = [];
  const queue = Array.from({ length: 500 }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 8 }, async (_, lane) => {
      while (queue.length > 0) {
        queue.pop();
        const c = await mint(lane % 2 === 0 ? first : second);
        names.push(c.username);
        leaseIds.push(c.leaseId);
      }
    }),
  );
  t.is(new Set(names).size, 500);
  const countLeft = () =>
    withPgClient(target.url, async (c) => Number((await c.query('SELECT count(*) AS n FROM pg_roles WHERE rolname = ANY($1)', [names])).rows[0].n));
  t.is(await countLeft(), 500);

  // Both replicas' expiry passes at once: they split the same due leases, FOR UPDATE SKIP LOCKED keeping them apart.
  const passes = async (at: number) => {
    setClocks(at);
    t.deepEqual(await Promise.all([first.kick('lease-expiry'), second.kick('lease-expiry')]), ['ok', 'ok']);
  };
  await passes(issued + 24_000);
  t.is(await countLeft(), 500, 'not due yet: every role stays');
  await passes(issued + 25_001);
  t.is(await countLeft(), 0, 'every role dropped');
  const revokedBy = (b: InProcessBroker) => b.logLines().filter((l) => l.msg === 'lease revoked').map((l) => String(l.lease_id));
  const all = [...revokedBy(first), ...revokedBy(second)];
  t.is(all.length, 500, 'no lease was revoked twice');
  t.deepEqual([...new Set(all)].sort(), [...leaseIds].sort());
  t.true(revokedBy(first).length > 0 && revokedBy(second).length > 0, `both replicas took work: ${revokedBy(first).length} + ${revokedBy(second).length}`);
  t.is((await api(first, 'GET', 'sys/leases/lookup/database/creds/ro?list=true')).status, 404, 'no lease rows left');
});

test('a target that is down: revocation backs off, turns irrevocable and is listed; once the target is back the retry succeeds', async (t) => {
  const target = await newTarget();
  const proxy = await startTcpProxy(target.cluster.port);
  t.teardown(() => proxy.close());
  const b = await startApp({
    databaseUrl: await target.cluster.createDatabase(),
    env: { SEALBOX_LEASE_REVOKE_MAX_ATTEMPTS: '3', SEALBOX_LEASE_REVOKE_BACKOFF_MS: '300', SEALBOX_LEASE_IRREVOCABLE_RETRY: '4s' },
  });
  t.teardown(() => b.stop());
  await mountDatabase(b, target, { default_ttl: '2s', max_ttl: '2s' }, proxy.port);
  const c = await mint(b);
  await proxy.down();

  const irrevocable = async (): Promise<number> =>
    ((await api(b, 'GET', 'sys/leases/count?type=irrevocable')).json as { data: { lease_count: number } }).data.lease_count;
  // Each step: past the lease's due time (expiry, then each backoff of 300 ms doubling, with jitter) and one expiry pass.
  let steps = 0;
  b.clock.advance(2_001);
  while ((await irrevocable()) === 0) {
    if (++steps > 10) t.fail('the lease did not become irrevocable in 10 expiry passes');
    t.is(await b.kick('lease-expiry'), 'ok');
    b.clock.advance(2_000);
  }
  t.is(steps, 3, 'three attempts, then irrevocable');
  const listed = (await api(b, 'GET', 'sys/leases?type=irrevocable')).json as { data: { leases: { lease_id: string; error: string; revoke_attempts: number }[] } };
  t.is(listed.data.leases[0]?.lease_id, c.leaseId);
  t.is(listed.data.leases[0]?.revoke_attempts, 3);
  t.true((listed.data.leases[0]?.error ?? '').length > 0);
  t.false(JSON.stringify(listed).includes(target.cluster.password), 'the error does not carry the root password');
  const retries = b.logLines().filter((l) => l.msg === 'lease revocation failed; will retry' && l.lease_id === c.leaseId);
  t.is(retries.length, 2);
  t.true(await roleExists(target, c.username), 'the user still exists while the target is unreachable');

  // An irrevocable lease is retried after SEALBOX_LEASE_IRREVOCABLE_RETRY (the daily retry; here 4 s), not before.
  await proxy.up();
  t.is(await b.kick('lease-expiry'), 'ok');
  t.true(await roleExists(target, c.username), 'the retry waits for its time');
  b.clock.advance(4_001);
  t.is(await b.kick('lease-expiry'), 'ok');
  t.false(await roleExists(target, c.username), 'the retry dropped the role');
  t.is(await irrevocable(), 0, 'the irrevocable list is empty');
});

test('revoking a token revokes the credentials it minted; revoke-prefix revokes a role’s credentials', async (t) => {
  const target = await newTarget();
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target);
  t.is((await api(b, 'PUT', 'sys/policies/acl/db-ro', { body: { policy: JSON.stringify({ path: { 'database/creds/ro': { capabilities: ['read'] } } }) } })).status, 204);
  const created = await api(b, 'POST', 'auth/token/create', { body: { policies: ['db-ro'] } });
  const token = (created.json as { auth: { client_token: string } }).auth.client_token;

  const mine = await mint(b, 'ro', token);
  const other = await mint(b);
  t.true(await canLogin(target, mine));
  t.is((await api(b, 'POST', 'auth/token/revoke-self', { token })).status, 204);
  // The revocation queued the token's leases and started an expiry pass; this run waits for that pass.
  t.is(await b.kick('lease-expiry'), 'ok');
  t.false(await canLogin(target, mine), 'the token’s credentials are revoked');
  t.false(await roleExists(target, mine.username));
  t.true(await canLogin(target, other), 'credentials of other tokens are untouched');

  const more = [await mint(b), await mint(b)];
  // node-vault's revokePrefix uses the legacy sys/revoke-prefix path.
  await vaultClient(b).revokePrefix({ path_prefix: 'database/creds/ro' });
  for (const c of [other, ...more]) t.false(await roleExists(target, c.username));
  t.is((await api(b, 'GET', 'sys/leases/lookup/database/creds/ro?list=true')).status, 404);
});

test('leases of a token that vanished without its leases being queued (a crash in between) are revoked by the orphan sweep', async (t) => {
  const target = await newTarget('orphan_readers');
  const databaseUrl = await target.cluster.createDatabase();
  const b = await startApp({ databaseUrl });
  t.teardown(() => b.stop());
  await mountDatabase(b, target, { default_group: 'orphan_readers' });
  t.is((await api(b, 'PUT', 'sys/policies/acl/db-ro', { body: { policy: JSON.stringify({ path: { 'database/creds/ro': { capabilities: ['read'] } } }) } })).status, 204);
  const created = await api(b, 'POST', 'auth/token/create', { body: { policies: ['db-ro'] } });
  const { client_token: token, accessor } = (created.json as { auth: { client_token: string; accessor: string } }).auth;
  const orphan = await mint(b, 'ro', token);
  // The broker died after deleting the token row and before queueing its leases.
  await withPgClient(databaseUrl, (c) => c.query('DELETE FROM tokens WHERE accessor = $1', [accessor]));
  t.true(await canLogin(target, orphan));
  const run = await api(b, 'POST', 'sys/scheduler/jobs/lease-orphan-sweep/run');
  t.deepEqual((run.json as { data: unknown }).data, { status: 'ok' });
  t.is(await b.kick('lease-expiry'), 'ok');
  t.false(await roleExists(target, orphan.username), 'the orphaned lease is revoked');
  t.is((await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: orphan.leaseId } })).status, 400);
});

test('lease count quota: issuing past max_leases is 429 and leaves no user behind; revoking frees a place', async (t) => {
  const target = await newTarget('quota_readers');
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target, { default_group: 'quota_readers' });
  const members = () =>
    withPgClient(target.url, async (c) =>
      Number((await c.query(`SELECT count(*) AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'quota_readers'`)).rows[0].n),
    );
  const existing = await mint(b);
  t.is((await api(b, 'POST', 'sys/quotas/lease-count/db', { body: { path: 'database/creds/ro', max_leases: 2 } })).status, 204);
  const q = (await api(b, 'GET', 'sys/quotas/lease-count/db')).json as { data: { counter: number; max_leases: number; path: string } };
  t.like(q.data, { counter: 1, max_leases: 2, path: 'database/creds/ro/' });

  await mint(b);
  const rolesBefore = await members();
  // The pipeline reads the quota counters at most once a second: past that, a full quota refuses before the engine mints.
  b.clock.advance(1_100);
  const over = await api(b, 'GET', 'database/creds/ro');
  t.is(over.status, 429);
  t.is((over.json as { errors: string[] }).errors[0], 'lease count quota exceeded');
  const rolesAfter = await members();
  t.is(rolesAfter, rolesBefore, 'no user is left behind past the quota');
  t.false(b.logs().includes('lease registration failed'), 'the full quota refused before the engine created a user');
  // Within the second, a request may still reach the engine: the insert refuses it and the new user is revoked at once.
  const burst = await Promise.all([api(b, 'GET', 'database/creds/ro'), api(b, 'GET', 'database/creds/ro')]);
  t.deepEqual(burst.map((r) => r.status), [429, 429]);
  t.is(await members(), rolesBefore);

  t.is((await api(b, 'PUT', 'sys/leases/revoke', { body: { lease_id: existing.leaseId } })).status, 204);
  await mint(b);
  for (const bad of [{ max_leases: 0 }, { max_leases: 'many' }, { max_leases: 1, path: 'nowhere/at/all' }, { max_leases: 1, path: '../sys' }]) {
    const r = await api(b, 'POST', 'sys/quotas/lease-count/bad', { body: bad });
    t.is(r.status, 400, JSON.stringify(bad));
  }
});
