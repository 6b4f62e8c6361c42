// Database secrets engine against a real PostgreSQL target (test/helpers/postgres.ts). The broker keeps its own
// data in another database of the same cluster, so that a dump of the cluster covers both. The broker runs in the
// test process (test/helpers/app.ts) with a fake clock: VALID UNTIL and the connect breaker follow that clock.
//
// Target layout: table `items`, group role `<prefix>_readers` with SELECT on it, and a non-superuser broker user
// `<prefix>_broker` (LOGIN CREATEROLE, admin of the group, pg_signal_backend), as DESIGN/STACK-NOTES describe.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { BREAKER_MS, CONNECT_TIMEOUT_MS } from '../src/engines/database/pools.ts';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, PROJECT_ROOT, vaultClient, type ApiResponse } from './helpers/broker.ts';
import { pollUntil } from './helpers/poll.ts';
import { startPostgres, withPgClient, type PgCluster } from './helpers/postgres.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';

let b: Broker;
let cluster: PgCluster;
let targetDb: string;
const prefix = `t${randomBytes(3).toString('hex')}`;
const GROUP = `${prefix}_readers`;
const BROKER_USER = `${prefix}_broker`;
const BROKER_PASSWORD = `bp-${randomBytes(12).toString('hex')}`;
/** Every password the broker handed out, to check that none reaches a log line or the dump. */
const minted: string[] = [];

const hasLeases = fs.existsSync(path.join(PROJECT_ROOT, 'src', 'core', 'leases.ts')) || fs.readdirSync(path.join(PROJECT_ROOT, 'src', 'core')).some((f) => f.startsWith('leases'));

const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;
const errorsOf = (r: ApiResponse): string => ((r.json as { errors?: string[] } | undefined)?.errors ?? []).join(' | ');

const targetUrl = (user: string, password: string, port = cluster.port, db = targetDb): string =>
  `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
const templateUrl = (port = cluster.port): string => `postgresql://{{username}}:{{password}}@127.0.0.1:${port}/${targetDb}`;

const superuser = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPgClient(cluster.url(targetDb), fn);

async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 1));
    });
  });
}

/**
 * Resolves once a broker session waits on an advisory lock (pg_stat_activity), re-checked as the target's server log
 * grows: with log_lock_waits the wait itself is logged after deadlock_timeout (test.before sets both for the broker).
 */
async function lockWaited(t: ExecutionContext): Promise<void> {
  const stop = cluster.watchServerLog();
  try {
    await pollUntil('a creation statement of the broker waits on the advisory lock', () =>
      superuser(async (c) => ((await c.query(`SELECT 1 FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`, [BROKER_USER])).rowCount ?? 0) > 0),
    );
  } finally {
    stop();
  }
  t.pass();
}

async function roleCount(): Promise<number> {
  return superuser(async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_roles')).rows[0]?.n));
}

async function ok(t: ExecutionContext, r: Promise<ApiResponse>, status = 204): Promise<ApiResponse> {
  const res = await r;
  t.is(res.status, status, res.text);
  return res;
}

async function mint(t: ExecutionContext, role: string): Promise<{ username: string; password: string; res: ApiResponse }> {
  const res = await api(b, 'GET', `database/creds/${role}`);
  t.is(res.status, 200, res.text);
  const d = dataOf<{ username: string; password: string }>(res);
  minted.push(d.password);
  return { ...d, res };
}

/** Logs in as the user over TCP (SCRAM, as the cluster's pg_hba requires) and runs fn. */
async function asUser<T>(username: string, password: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withPgClient(targetUrl(username, password), fn);
}

test.before(async () => {
  cluster = await startPostgres();
  const targetUrlSu = await cluster.createDatabase();
  targetDb = new URL(targetUrlSu).pathname.slice(1);
  await superuser(async (c) => {
    await c.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
    await c.query("INSERT INTO items VALUES (1, 'one')");
    await c.query(`CREATE ROLE ${GROUP} NOLOGIN`);
    await c.query(`GRANT SELECT ON items TO ${GROUP}`);
    await c.query(`CREATE ROLE ${BROKER_USER} LOGIN CREATEROLE PASSWORD '${BROKER_PASSWORD}'`);
    await c.query(`GRANT ${GROUP} TO ${BROKER_USER} WITH ADMIN OPTION`);
    await c.query(`GRANT pg_signal_backend TO ${BROKER_USER}`);
    // A broker session that waits on a lock for 100 ms says so in the server log: the event the lock tests wait on.
    await c.query(`ALTER ROLE ${BROKER_USER} SET log_lock_waits = on`);
    await c.query(`ALTER ROLE ${BROKER_USER} SET deadlock_timeout = '100ms'`);
    // For the REASSIGN/DROP OWNED test: a schema where members of this group may create objects.
    await c.query(`CREATE ROLE ${prefix}_creators NOLOGIN`);
    await c.query(`GRANT ${prefix}_creators TO ${BROKER_USER} WITH ADMIN OPTION`);
    await c.query(`CREATE SCHEMA scratch`);
    await c.query(`GRANT USAGE, CREATE ON SCHEMA scratch TO ${prefix}_creators`);
  });
  b = await startApp({ databaseUrl: await cluster.createDatabase() });
  const r = await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } });
  if (r.status !== 204 && r.status !== 200) throw new Error(`mounting database failed: ${r.status} ${r.text}`);
  const cfg = await api(b, 'POST', 'database/config/main', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: templateUrl(),
      username: BROKER_USER,
      password: BROKER_PASSWORD,
      allowed_roles: 'readonly,custom,templated,creator,short',
    },
  });
  if (cfg.status !== 204) throw new Error(`config failed: ${cfg.status} ${cfg.text}`);
  const role = await api(b, 'POST', 'database/roles/readonly', { body: { db_name: 'main', default_group: GROUP, default_ttl: '1h', max_ttl: '24h' } });
  if (role.status !== 204) throw new Error(`role failed: ${role.status} ${role.text}`);
});

test.after.always(async () => {
  await b?.stop();
});

test.serial('minted credentials log in over TCP with SCRAM, can SELECT but not INSERT', async (t) => {
  const { username, password, res } = await mint(t, 'readonly');
  t.true(Buffer.byteLength(username) <= 63, username);
  t.regex(username, /^v-root-readonly-[A-Za-z0-9]{20}-\d{10}$/);
  t.regex(password, /^[A-Za-z0-9-]{20}$/);
  const rows = await asUser(username, password, async (c) => (await c.query<{ name: string }>('SELECT name FROM items')).rows);
  t.deepEqual(rows, [{ name: 'one' }]);
  const insert = await asUser(username, password, (c) => c.query("INSERT INTO items VALUES (2, 'two')").then(() => null, (e: Error) => e.message));
  t.regex(insert ?? '', /permission denied/);
  const stored = await superuser(async (c) => (await c.query<{ p: string; u: Date }>('SELECT rolpassword AS p, rolvaliduntil AS u FROM pg_authid WHERE rolname = $1', [username])).rows[0]);
  t.regex(stored?.p ?? '', /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
  // VALID UNTIL follows the role's default_ttl (1h) on the app's clock, rounded up to the whole second: never before the lease ends.
  const validFor = (stored?.u.getTime() ?? 0) - b.clock.now().getTime();
  t.true(validFor >= 3600_000 && validFor < 3601_000, String(validFor));
  const body = res.json as { lease_id?: string; lease_duration?: number; renewable?: boolean };
  if (hasLeases) {
    t.regex(body.lease_id ?? '', /^database\/creds\/readonly\/.+/);
    t.is(body.lease_duration, 3600);
    t.true(body.renewable);
  }
});

test.serial('node-vault read of creds: usernames are unique across 20 mints and at most 63 bytes', async (t) => {
  const v = vaultClient(b);
  const results = await Promise.all(Array.from({ length: 20 }, () => v.read('database/creds/readonly')));
  const names = results.map((r) => {
    const d = r.data as { username: string; password: string };
    minted.push(d.password);
    t.true(Buffer.byteLength(d.username) <= 63);
    return d.username;
  });
  t.is(new Set(names).size, 20);
  const present = await superuser(async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = ANY($1)', [names])).rowCount);
  t.is(present, 20);
});

test.serial('config read never returns the password, also when it is written into connection_url', async (t) => {
  const r = await ok(t, api(b, 'GET', 'database/config/main'), 200);
  const d = dataOf<Record<string, unknown>>(r);
  t.is(d.plugin_name, 'postgresql-database-plugin');
  t.deepEqual(d.allowed_roles, ['readonly', 'custom', 'templated', 'creator', 'short']);
  t.is(d.verify_connection, true);
  const details = d.connection_details as Record<string, unknown>;
  t.is(details.connection_url, templateUrl());
  t.is(details.username, BROKER_USER);
  t.is(details.max_open_connections, 4);
  t.false('password' in details);
  t.false(r.text.includes(BROKER_PASSWORD));

  await ok(t, api(b, 'POST', 'database/config/literal', { body: { plugin_name: 'postgresql-database-plugin', connection_url: targetUrl(BROKER_USER, BROKER_PASSWORD) } }));
  const lit = await ok(t, api(b, 'GET', 'database/config/literal'), 200);
  t.false(lit.text.includes(BROKER_PASSWORD));
  t.regex(String((dataOf<{ connection_details: { connection_url: string } }>(lit)).connection_details.connection_url), /:\*{5}@/);
  const list = await ok(t, api(b, 'GET', 'database/config?list=true'), 200);
  t.deepEqual(dataOf<{ keys: string[] }>(list).keys.sort(), ['literal', 'main']);
  await ok(t, api(b, 'DELETE', 'database/config/literal'));
  t.is((await api(b, 'GET', 'database/config/literal')).status, 404);
});

test.serial('verify_connection: a wrong password or an unreachable host is a 400 that says which, and nothing is stored', async (t) => {
  const base = { plugin_name: 'postgresql-database-plugin', connection_url: templateUrl(), username: BROKER_USER };
  const wrong = await api(b, 'POST', 'database/config/bad', { body: { ...base, password: 'not-the-password' } });
  t.is(wrong.status, 400, wrong.text);
  t.regex(errorsOf(wrong), /authentication failed/);
  t.false(wrong.text.includes('not-the-password'));
  t.is((await api(b, 'GET', 'database/config/bad')).status, 404);

  const port = await closedPort();
  // (Refused at once by the closed port: the answer names the unreachable host, not a timeout. No wall-clock check: timing belongs in bench/.)
  const down = await api(b, 'POST', 'database/config/bad', { body: { ...base, password: BROKER_PASSWORD, connection_url: templateUrl(port) } });
  t.is(down.status, 400, down.text);
  t.notRegex(errorsOf(down), /timed? ?out/i);
  t.regex(errorsOf(down), /cannot reach 127\.0\.0\.1:\d+/);
  t.false(down.text.includes(BROKER_PASSWORD));
  t.is((await api(b, 'GET', 'database/config/bad')).status, 404);

  const plugin = await api(b, 'POST', 'database/config/bad', { body: { ...base, password: BROKER_PASSWORD, plugin_name: 'mysql-database-plugin' } });
  t.is(plugin.status, 400);
  t.regex(errorsOf(plugin), /plugin_name/);
  const url = await api(b, 'POST', 'database/config/bad', { body: { ...base, password: BROKER_PASSWORD, connection_url: 'mysql://x@y/z' } });
  t.is(url.status, 400);
  t.regex(errorsOf(url), /connection_url/);
  const policy = await api(b, 'POST', 'database/config/bad', { body: { ...base, password: BROKER_PASSWORD, password_policy: 'no-such-policy' } });
  t.is(policy.status, 400, policy.text);
  t.regex(errorsOf(policy), /no-such-policy/);
  const tpl = await api(b, 'POST', 'database/config/bad', { body: { ...base, password: BROKER_PASSWORD, username_template: '{{ .Nope }}' } });
  t.is(tpl.status, 400);
  t.regex(errorsOf(tpl), /username_template/);
  t.is((await api(b, 'GET', 'database/config/bad')).status, 404);
});

test.serial('bad input is a 4xx with nothing created', async (t) => {
  const rolesBefore = await roleCount();
  const cases: Array<[string, string, unknown]> = [
    ['POST', `database/roles/${encodeURIComponent('a"b')}`, { db_name: 'main', default_group: GROUP }],
    ['POST', `database/roles/${encodeURIComponent('a;DROP ROLE x')}`, { db_name: 'main', default_group: GROUP }],
    ['POST', `database/roles/${encodeURIComponent("o'neil")}`, { db_name: 'main', default_group: GROUP }],
    ['POST', 'database/roles/evil', { db_name: 'main"; DROP ROLE postgres; --', default_group: GROUP }],
    ['POST', 'database/roles/evil', { db_name: 'nosuchconfig', default_group: GROUP }],
    ['POST', 'database/roles/evil', { db_name: 'main' }],
    ['POST', 'database/roles/evil', { db_name: 'main', default_group: GROUP, default_ttl: 'soon' }],
    ['POST', 'database/roles/evil', { db_name: 'main', default_group: GROUP, max_ttl: '1 hour' }],
    ['POST', 'database/roles/evil', { db_name: 'main', default_group: GROUP, default_ttl: '2h', max_ttl: '1h' }],
    ['POST', 'database/roles/evil', { db_name: 'main', default_group: GROUP, default_ttl: -5 }],
    ['POST', `database/config/${encodeURIComponent('x"y')}`, { plugin_name: 'postgresql-database-plugin', connection_url: templateUrl() }],
    ['GET', 'database/creds/nosuchrole', undefined],
    ['GET', `database/creds/${encodeURIComponent('a";DROP')}`, undefined],
  ];
  for (const [method, p, body] of cases) {
    const r = await api(b, method, p, body === undefined ? {} : { body });
    t.true(r.status >= 400 && r.status < 500, `${method} ${p} → ${r.status} ${r.text}`);
    t.true(errorsOf(r).length > 0, `${p}: ${r.text}`);
  }
  const malformed = await api(b, 'POST', 'database/roles/evil', { rawBody: '{"db_name": "main", ', headers: { 'content-type': 'application/json' } });
  t.is(malformed.status, 400, malformed.text);
  t.is((await api(b, 'GET', 'database/roles/evil')).status, 404);

  // A role that the config does not allow.
  await ok(t, api(b, 'POST', 'database/roles/notallowed', { body: { db_name: 'main', default_group: GROUP } }));
  const denied = await api(b, 'GET', 'database/creds/notallowed');
  t.is(denied.status, 400, denied.text);
  t.regex(errorsOf(denied), /allowed_roles/);
  t.is(await roleCount(), rolesBefore);
  const keys = dataOf<{ keys: string[] }>(await api(b, 'GET', 'database/roles?list=true')).keys;
  t.deepEqual(keys.sort(), ['notallowed', 'readonly']);
  await ok(t, api(b, 'DELETE', 'database/roles/notallowed'));
});

test.serial('custom creation statements get the SCRAM verifier for {{password}}; a failing statement creates nothing', async (t) => {
  await ok(
    t,
    api(b, 'POST', 'database/roles/custom', {
      body: {
        db_name: 'main',
        creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT ${GROUP} TO "{{name}}";`],
        default_ttl: 600,
      },
    }),
  );
  const { username, password } = await mint(t, 'custom');
  t.is(await asUser(username, password, async (c) => (await c.query('SELECT * FROM items')).rowCount), 1);
  const read = dataOf<{ creation_statements: string[]; default_ttl: number }>(await ok(t, api(b, 'GET', 'database/roles/custom'), 200));
  t.is(read.default_ttl, 600);
  t.is(read.creation_statements.length, 1);

  const before = await roleCount();
  await ok(t, api(b, 'POST', 'database/roles/custom', { body: { creation_statements: `CREATE ROLE "{{name}}" LOGIN; GRANT no_such_group TO "{{name}}"` } }));
  const failed = await api(b, 'GET', 'database/creds/custom');
  t.is(failed.status, 400, failed.text);
  t.regex(errorsOf(failed), /no_such_group/);
  t.is(await roleCount(), before);
});

test.serial('username_template: Vault functions, and the result is checked', async (t) => {
  await ok(t, api(b, 'POST', 'database/roles/templated', { body: { db_name: 'main', default_group: GROUP } }));
  await ok(t, api(b, 'POST', 'database/config/main', { body: { username_template: '{{ printf "app-%s-%s" (.RoleName | uppercase) (random 6) }}_{{unix_time}}' } }));
  const { username } = await mint(t, 'templated');
  t.regex(username, /^app-TEMPLATED-[A-Za-z0-9]{6}_\d{10}$/);
  const long = await api(b, 'POST', 'database/config/main', { body: { username_template: '{{ random 70 }}' } });
  t.is(long.status, 400);
  t.regex(errorsOf(long), /63 bytes/);
  await ok(t, api(b, 'POST', 'database/config/main', { body: { username_template: '' } }));
  t.regex((await mint(t, 'templated')).username, /^v-root-template-/);
});

test.serial('revocation terminates live sessions, reassigns owned objects to the broker, drops the role, and is idempotent', async (t) => {
  await ok(t, api(b, 'POST', 'database/roles/creator', { body: { db_name: 'main', default_group: `${prefix}_creators` } }));
  const { username, password } = await mint(t, 'creator');
  const session = new pg.Client({ connectionString: targetUrl(username, password) });
  const ended = new Promise<string>((resolve) => {
    session.on('error', (e) => resolve(e.message));
    session.on('end', () => resolve('end'));
  });
  await session.connect();
  await session.query(`CREATE TABLE scratch.${username.replace(/-/g, '_')} (x int)`);

  // The SecretType's SQL, run the way the lease manager would through the engine (as the non-superuser broker).
  const { revokeUser } = await import('../src/engines/database/target-sql.ts');
  const log = { warn: () => {} } as unknown as Parameters<typeof revokeUser>[3];
  const pool = new pg.Pool({ connectionString: targetUrl(BROKER_USER, BROKER_PASSWORD) });
  try {
    const client = await pool.connect();
    try {
      await revokeUser(client, username, null, log);
      await revokeUser(client, username, null, log);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
  t.truthy(await ended);
  t.is(await superuser(async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username])).rowCount), 0);
  const owner = await superuser(async (c) => (await c.query<{ o: string }>(`SELECT tableowner AS o FROM pg_tables WHERE schemaname = 'scratch'`)).rows);
  t.deepEqual(owner, [{ o: BROKER_USER }], 'REASSIGN OWNED gave the table to the broker');
  const login = await asUser(username, password, async () => 'in').catch((e: Error) => e.message);
  t.regex(login, /authentication failed/);
});

test.serial('through the lease manager: renew moves VALID UNTIL, revoke kills the session and drops the user', async (t) => {
  if (!hasLeases) {
    t.pass('no lease manager yet');
    return;
  }
  const v = vaultClient(b);
  const res = await v.read('database/creds/readonly');
  const { username, password } = res.data as { username: string; password: string };
  minted.push(password);
  const leaseId = String(res.lease_id);
  const validUntil = async (): Promise<number> =>
    superuser(async (c) => (await c.query<{ u: Date }>('SELECT rolvaliduntil AS u FROM pg_roles WHERE rolname = $1', [username])).rows[0]?.u.getTime() ?? 0);
  await v.renew({ lease_id: leaseId, increment: 120 });
  const after = await validUntil();
  t.true(Math.abs(after - (b.clock.now().getTime() + 120_000)) < 10_000, `VALID UNTIL ${new Date(after).toISOString()}`);

  const session = new pg.Client({ connectionString: targetUrl(username, password) });
  const ended = new Promise<string>((resolve) => {
    session.on('error', (e) => resolve(e.message));
    session.on('end', () => resolve('end'));
  });
  await session.connect();
  await v.revoke({ lease_id: leaseId });
  t.truthy(await ended);
  t.is(await validUntil(), 0, 'role dropped');
  await v.revoke({ lease_id: leaseId });
});

test.serial('connection_url: a literal password holding "@" is masked whole on read', async (t) => {
  const secret = `p@ss-${randomBytes(6).toString('hex')}`;
  const url = `postgresql://admin:${secret}@127.0.0.1:${await closedPort()}/${targetDb}?sslmode=disable`;
  await ok(t, api(b, 'POST', 'database/config/atpw', { body: { plugin_name: 'postgresql-database-plugin', connection_url: url, verify_connection: false } }));
  const r = await ok(t, api(b, 'GET', 'database/config/atpw'), 200);
  const shown = dataOf<{ connection_details: { connection_url: string } }>(r).connection_details.connection_url;
  t.is(shown, `postgresql://admin:*****@127.0.0.1:${new URL(url).port}/${targetDb}?sslmode=disable`);
  t.false(r.text.includes(secret.split('@')[1] ?? secret));
  t.false(r.text.includes(secret));
  await ok(t, api(b, 'DELETE', 'database/config/atpw'));
});

test.serial('connection_url: parameters that read broker files and unix socket hosts are a 400, and nothing is stored', async (t) => {
  const base = { plugin_name: 'postgresql-database-plugin', username: BROKER_USER, password: BROKER_PASSWORD };
  const cases: Array<[string, RegExp]> = [
    [`${templateUrl()}?sslcert=/nonexistent`, /sslcert/],
    [`${templateUrl()}?sslmode=require&sslkey=/etc/shadow`, /sslkey/],
    [`${templateUrl()}?sslrootcert=/etc/passwd`, /sslrootcert/],
    [`${templateUrl()}?sslcrl=/etc/passwd`, /sslcrl/],
    [`${templateUrl()}?host=/var/run/postgresql`, /unix socket/],
    [`postgresql://{{username}}:{{password}}@%2Fvar%2Frun%2Fpostgresql/${targetDb}`, /unix socket/],
  ];
  for (const [connection_url, message] of cases) {
    for (const verify_connection of [true, false]) {
      const r = await api(b, 'POST', 'database/config/files', { body: { ...base, connection_url, verify_connection } });
      t.is(r.status, 400, `${connection_url}: ${r.text}`);
      t.regex(errorsOf(r), message);
      t.regex(errorsOf(r), /^connection_url: /);
    }
  }
  t.is((await api(b, 'GET', 'database/config/files')).status, 404);
});

test.serial('a connection cut while a target query runs is a 503, and the broker keeps serving', async (t) => {
  const proxy = await startTcpProxy(cluster.port);
  t.teardown(() => proxy.close());
  await ok(
    t,
    api(b, 'POST', 'database/config/proxied', {
      body: { plugin_name: 'postgresql-database-plugin', connection_url: templateUrl(proxy.port), username: BROKER_USER, password: BROKER_PASSWORD, allowed_roles: '*' },
    }),
  );
  const create = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE ${GROUP}`;
  // The slow role's first statement waits for an advisory lock that the test holds: it runs until the cut, however slow the machine.
  const lockKey = 0x5ea1b0;
  await ok(t, api(b, 'POST', 'database/roles/slow', { body: { db_name: 'proxied', creation_statements: [`SELECT pg_advisory_xact_lock(${lockKey})`, create] } }));
  await ok(t, api(b, 'POST', 'database/roles/fast', { body: { db_name: 'proxied', default_group: GROUP } }));
  minted.push((await mint(t, 'fast')).password);

  const holder = new pg.Client({ connectionString: cluster.url(targetDb) });
  await holder.connect();
  t.teardown(() => holder.end().catch(() => undefined));
  await holder.query('SELECT pg_advisory_lock($1)', [lockKey]);
  const pending = api(b, 'GET', 'database/creds/slow');
  await lockWaited(t);
  await proxy.down();
  const r = await pending;
  t.is(r.status, 503, r.text);
  t.regex(errorsOf(r), /database "proxied" is unavailable/);
  await holder.query('SELECT pg_advisory_unlock($1)', [lockKey]);
  // The broker is in this process: had the cut thrown an uncaught exception, this test run would have failed with it.
  const health = await api(b, 'GET', 'sys/health');
  t.is(health.status, 200, health.text);
  t.is((await api(b, 'GET', 'database/config/main')).status, 200);

  // While the target is down, a mint fails with a 503 and opens the short breaker.
  const whileDown = await api(b, 'GET', 'database/creds/fast');
  t.is(whileDown.status, 503, whileDown.text);
  t.regex(errorsOf(whileDown), /database "proxied" is unavailable/);
  // Once the target is back, the breaker still answers until its time is up on the clock; then the same config works again.
  await proxy.up();
  const held = await api(b, 'GET', 'database/creds/fast');
  t.is(held.status, 503, held.text);
  b.clock.advance(BREAKER_MS);
  const again = await api(b, 'GET', 'database/creds/fast');
  t.is(again.status, 200, again.text);
  if (again.status === 200) minted.push(dataOf<{ password: string }>(again).password);
  t.false(b.logs().includes('uncaught'), 'no uncaught exception logged');
});

test.serial('a burst beyond max_open_connections waits for a free connection instead of failing (no breaker)', async (t) => {
  await ok(
    t,
    api(b, 'POST', 'database/config/narrow', {
      body: { plugin_name: 'postgresql-database-plugin', connection_url: templateUrl(), username: BROKER_USER, password: BROKER_PASSWORD, allowed_roles: '*', max_open_connections: 1 },
    }),
  );
  const create = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE ${GROUP}`;
  // Real time on purpose: what is checked is that the wait for a free connection (pg-pool's own timer) is not the
  // 4 s TCP connect timeout. The first creation statement waits on an advisory lock the test holds, so it keeps the
  // one connection busy; the other 6 requests wait for it until past the connect timeout, and only then is the lock
  // released.
  const lockKey = 0x5ea1b1;
  await ok(t, api(b, 'POST', 'database/roles/sleepy', { body: { db_name: 'narrow', creation_statements: [`SELECT pg_advisory_xact_lock(${lockKey})`, create] } }));
  const holder = new pg.Client({ connectionString: cluster.url(targetDb) });
  await holder.connect();
  t.teardown(() => holder.end().catch(() => undefined));
  await holder.query('SELECT pg_advisory_lock($1)', [lockKey]);
  const sent = Date.now();
  const answered: number[] = [];
  const pending = Array.from({ length: 7 }, () => api(b, 'GET', 'database/creds/sleepy').then((r) => (answered.push(r.status), r)));
  await lockWaited(t);
  // What is waited for here is a moment: the connect timeout counted from the requests, which only the clock shows.
  const past = sent + CONNECT_TIMEOUT_MS + 500;
  await pollUntil('the connect timeout to pass with the requests waiting', () => Date.now() >= past, { at: [past] });
  t.deepEqual(answered, [], 'no request answered while the connection was busy');
  await holder.query('SELECT pg_advisory_unlock($1)', [lockKey]);
  const results = await Promise.all(pending);
  for (const r of results) {
    t.is(r.status, 200, r.text);
    if (r.status === 200) minted.push(dataOf<{ password: string }>(r).password);
  }
  await ok(t, api(b, 'DELETE', 'database/config/narrow'));
});

test.serial('rotate-root: the old root password stops working, creds still mint, the new one is never returned', async (t) => {
  const r = await api(b, 'POST', 'database/rotate-root/main');
  t.is(r.status, 204, r.text);
  const old = await withPgClient(targetUrl(BROKER_USER, BROKER_PASSWORD), async () => 'in').catch((e: Error) => e.message);
  t.regex(old, /authentication failed/);
  const { username, password } = await mint(t, 'readonly');
  t.is(await asUser(username, password, async (c) => (await c.query('SELECT 1')).rowCount), 1);
  const cfg = await ok(t, api(b, 'GET', 'database/config/main'), 200);
  t.false('password' in (dataOf<{ connection_details: Record<string, unknown> }>(cfg).connection_details));
  const stored = await superuser(async (c) => (await c.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [BROKER_USER])).rows[0]?.p);
  t.regex(stored ?? '', /^SCRAM-SHA-256\$4096:/);
  await ok(t, api(b, 'POST', 'database/reset/main'));
  await mint(t, 'readonly');
});

test.serial('concurrent rotate-root calls and config writes leave the stored password the one the target has', async (t) => {
  const calls = [
    ...Array.from({ length: 5 }, () => api(b, 'POST', 'database/rotate-root/main')),
    api(b, 'POST', 'database/config/main', { body: { allowed_roles: 'readonly,custom,templated,creator,short,down' } }),
    api(b, 'POST', 'database/config/main', { body: { max_open_connections: 3 } }),
  ];
  const results = await Promise.all(calls);
  const rotations = results.slice(0, 5);
  for (const r of rotations) t.true(r.status === 204 || r.status === 409, `${r.status} ${r.text}`);
  t.true(rotations.some((r) => r.status === 204), 'at least one rotation went through');
  for (const r of rotations.filter((x) => x.status === 409)) t.regex(errorsOf(r), /superseded/);
  for (const r of results.slice(5)) t.is(r.status, 204, r.text);

  // A fresh connection logs in with the stored password: creds still mint and work.
  await ok(t, api(b, 'POST', 'database/reset/main'));
  const { username, password } = await mint(t, 'readonly');
  t.is(await asUser(username, password, async (c) => (await c.query('SELECT 1')).rowCount), 1);
  const cfg = dataOf<{ allowed_roles: string[]; connection_details: { max_open_connections: number } }>(await ok(t, api(b, 'GET', 'database/config/main'), 200));
  t.true(cfg.allowed_roles.includes('down'));
  t.is(cfg.connection_details.max_open_connections, 3);
  // A rotation statement the target refuses is a 400 that changes nothing; a rotation after that still works.
  await ok(t, api(b, 'POST', 'database/config/main', { body: { root_rotation_statements: [`ALTER ROLE "${prefix}_no_such_role" WITH PASSWORD '{{password}}'`] } }));
  const refused = await api(b, 'POST', 'database/rotate-root/main');
  t.is(refused.status, 400, refused.text);
  t.regex(errorsOf(refused), /rotating the root password failed/);
  await ok(t, api(b, 'POST', 'database/config/main', { body: { root_rotation_statements: [] } }));
  await mint(t, 'readonly');
  await ok(t, api(b, 'POST', 'database/rotate-root/main'));
  await mint(t, 'readonly');
});

test.serial('a target that is down makes creds fail fast with a clear 503', async (t) => {
  const port = await closedPort();
  await ok(
    t,
    api(b, 'POST', 'database/config/down', {
      body: { plugin_name: 'postgresql-database-plugin', connection_url: templateUrl(port), username: 'u', password: 'p', verify_connection: false, allowed_roles: '*' },
    }),
  );
  await ok(t, api(b, 'POST', 'database/roles/down', { body: { db_name: 'down', default_group: GROUP } }));
  // Twice: the second call answers from the same cause (no retry loop, no hang); timing belongs in bench/, not here.
  for (let i = 0; i < 2; i++) {
    const r = await api(b, 'GET', 'database/creds/down');
    t.is(r.status, 503, r.text);
    t.notRegex(errorsOf(r), /timed? ?out/i);
    t.regex(errorsOf(r), /database "down" is unavailable: cannot reach 127\.0\.0\.1:\d+/);
  }
  const reset = await api(b, 'POST', 'database/reset/down');
  t.is(reset.status, 503);
});

test.serial('logs and a dump of the cluster hold none of the minted passwords nor the root password', async (t) => {
  t.true(minted.length >= 25);
  const dump = await cluster.dumpAll();
  const logs = b.logs();
  for (const secret of [...minted, BROKER_PASSWORD]) {
    t.false(dump.includes(secret), 'dump');
    t.false(logs.includes(secret), 'logs');
  }
});
