// Concurrent mints group-commit their storage writes (issue 18): the lease intents of mints arriving together are
// one INSERT, their leases (each ending its intent) another. Each mint still gets its own user, stored lease and
// revocation; a batch that storage refuses fails each of its mints and leaves no user on the target without a lease
// or intent to clean it up; a lease count quota that appears meanwhile is still enforced.
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import type pg from 'pg';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { api, type ApiResponse } from './helpers/broker.ts';
import { startPostgres, withPgClient, type PgCluster } from './helpers/postgres.ts';

const prefix = `mb${randomBytes(3).toString('hex')}`;
const GROUP = `${prefix}_readers`;
const BROKER_USER = `${prefix}_broker`;
const BROKER_PASSWORD = `bp-${randomBytes(12).toString('hex')}`;

let cluster: PgCluster;
let targetDb: string;
let storageUrl: string;
let b: InProcessBroker;

const target = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPgClient(cluster.url(targetDb), fn);
const storage = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPgClient(storageUrl, fn);
const count = async (c: pg.Client, sql: string, params: unknown[] = []): Promise<number> => Number((await c.query<{ n: string }>(sql, params)).rows[0]?.n);
/** The users minted for `role` that exist on the target. */
const usersOf = (role: string): Promise<string[]> =>
  target(async (c) => (await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname LIKE $1 ORDER BY rolname', [`v-root-${role}-%`])).rows.map((r) => r.rolname));
const leasesUnder = (path: string): Promise<number> => storage((c) => count(c, 'SELECT count(*) AS n FROM leases WHERE starts_with(id, $1)', [path]));
const intents = (): Promise<number> => storage((c) => count(c, 'SELECT count(*) AS n FROM lease_intents'));
const mintMany = (role: string, n: number): Promise<ApiResponse[]> => Promise.all(Array.from({ length: n }, () => api(b, 'GET', `database/creds/${role}`)));
const addRole = async (role: string): Promise<void> => {
  const r = await api(b, 'POST', `database/roles/${role}`, { body: { db_name: 'main', default_group: GROUP, default_ttl: '1h', max_ttl: '2h' } });
  if (r.status !== 204) throw new Error(`role ${role}: ${r.status} ${r.text}`);
};

test.before(async () => {
  cluster = await startPostgres();
  targetDb = new URL(await cluster.createDatabase()).pathname.slice(1);
  storageUrl = await cluster.createDatabase();
  await target(async (c) => {
    await c.query('CREATE TABLE items (id int PRIMARY KEY)');
    await c.query(`CREATE ROLE ${GROUP} NOLOGIN`);
    await c.query(`GRANT SELECT ON items TO ${GROUP}`);
    await c.query(`CREATE ROLE ${BROKER_USER} LOGIN CREATEROLE PASSWORD '${BROKER_PASSWORD}'`);
    await c.query(`GRANT ${GROUP} TO ${BROKER_USER} WITH ADMIN OPTION`);
    await c.query(`GRANT pg_signal_backend TO ${BROKER_USER}`);
  });
  b = await startApp({ databaseUrl: storageUrl });
  if ((await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } })).status !== 204) throw new Error('mount failed');
  const cfg = await api(b, 'POST', 'database/config/main', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${cluster.port}/${targetDb}`,
      username: BROKER_USER,
      password: BROKER_PASSWORD,
      allowed_roles: '*',
      max_open_connections: 8,
    },
  });
  if (cfg.status !== 204) throw new Error(`config failed: ${cfg.status} ${cfg.text}`);
});

test.after.always(async () => {
  await b?.stop();
});

test.serial('50 mints at once: 50 distinct users that log in, 50 leases stored, no intent left; revoke-prefix drops them all', async (t) => {
  await addRole('many');
  const answers = await mintMany('many', 50);
  for (const r of answers) t.is(r.status, 200, r.text);
  const creds = answers.map((r) => r.json as { lease_id: string; data: { username: string; password: string } });
  const names = creds.map((c) => c.data.username);
  t.is(new Set(names).size, 50, 'each mint has its own user');
  t.is(new Set(creds.map((c) => c.lease_id)).size, 50, 'and its own lease');
  t.deepEqual(await usersOf('many'), [...names].sort());
  // Read-your-writes: every lease is in storage once its answer is out, and its intent is gone.
  t.is(await leasesUnder('database/creds/many/'), 50);
  t.is(await intents(), 0);
  for (const c of creds) {
    const seen = await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: c.lease_id } });
    t.is(seen.status, 200, seen.text);
  }
  for (const c of creds.slice(0, 10)) {
    const ok = await withPgClient(`postgresql://${c.data.username}:${encodeURIComponent(c.data.password)}@127.0.0.1:${cluster.port}/${targetDb}`, async (u) => (await u.query('SELECT count(*) FROM items')).rowCount);
    t.is(ok, 1, 'the minted user logs in and reads');
  }
  const revoked = await api(b, 'PUT', 'sys/leases/revoke-prefix/database/creds/many');
  t.is(revoked.status, 204, revoked.text);
  t.deepEqual(await usersOf('many'), [], 'every user is dropped through its lease');
  t.is(await leasesUnder('database/creds/many/'), 0);
});

/** Makes a storage table refuse inserts for the duration of `fn` (a statement trigger), then lifts it. */
async function refusing<T>(table: string, fn: () => Promise<T>): Promise<T> {
  await storage(async (c) => {
    await c.query(`CREATE OR REPLACE FUNCTION ${prefix}_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$`);
    await c.query(`CREATE TRIGGER ${prefix}_refuse BEFORE INSERT ON ${table} FOR EACH STATEMENT EXECUTE FUNCTION ${prefix}_refuse()`);
  });
  try {
    return await fn();
  } finally {
    await storage((c) => c.query(`DROP TRIGGER ${prefix}_refuse ON ${table}`));
  }
}

/** A statement storage refuses (not a lost connection, which is a 503) is the broker's generic 500, in Vault's form. */
const failedCleanly = (t: ExecutionContext, r: ApiResponse): void => {
  t.is(r.status, 500, r.text);
  t.deepEqual(r.json, { errors: ['internal error'] });
};

test.serial('a lease batch that storage refuses fails each of its mints with a Vault error, and every user it created is dropped', async (t) => {
  await addRole('refused');
  const answers = await refusing('leases', () => mintMany('refused', 12));
  for (const r of answers) failedCleanly(t, r);
  t.deepEqual(await usersOf('refused'), [], 'no user outlives its missing lease');
  t.is(await leasesUnder('database/creds/refused/'), 0);
  t.is(await intents(), 0, 'each intent ended with its user');
  t.true(b.logs().includes('lease registration failed; the new secret was revoked at once'));
  // Storage accepts again: mints work.
  const after = await mintMany('refused', 3);
  for (const r of after) t.is(r.status, 200, r.text);
  t.is((await usersOf('refused')).length, 3);
  t.is(await leasesUnder('database/creds/refused/'), 3);
});

test.serial('an intent batch that storage refuses fails its mints before any user is created', async (t) => {
  await addRole('nointent');
  const answers = await refusing('lease_intents', () => mintMany('nointent', 8));
  for (const r of answers) failedCleanly(t, r);
  t.deepEqual(await usersOf('nointent'), [], 'nothing was created on the target');
  t.is(await leasesUnder('database/creds/nointent/'), 0);
  t.is(await intents(), 0);
});

test.serial('a lease count quota created while the quota list is cached still caps concurrent mints', async (t) => {
  await addRole('capped');
  // One mint reads (and caches) the quota list with no quota in it; the fake clock keeps that cache fresh.
  t.is((await api(b, 'GET', 'database/creds/capped')).status, 200);
  const q = await api(b, 'POST', 'sys/quotas/lease-count/capped', { body: { path: 'database/creds/capped', max_leases: 3 } });
  t.is(q.status, 204, q.text);
  const answers = await mintMany('capped', 6);
  t.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 429, 429, 429, 429], answers.map((r) => r.text).join('\n'));
  t.is(await leasesUnder('database/creds/capped/'), 3);
  t.is((await usersOf('capped')).length, 3, 'no user is left behind past the quota');
  t.is(await intents(), 0);
  t.is((await api(b, 'DELETE', 'sys/quotas/lease-count/capped')).status, 204);
});
