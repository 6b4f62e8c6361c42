// Batched expiry (issue 18 item 6): the expiry worker hands a batch of due leases to the database engine, which
// revokes each target's users in a few round trips (sessions ended in one query, one statement list for all the
// drops). Outcomes stay per lease: a user whose revocation fails is retried alone; the others are revoked.
// The broker runs in-process with a fake clock; the targets are real PostgreSQL databases.
import test from 'ava';
import pg from 'pg';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { newTarget, type Target } from './helpers/pg-target.ts';
import { withPgClient } from './helpers/postgres.ts';
import { revokeUsers } from '../src/engines/database/target-sql.ts';
import { createLogger } from '../src/lib/log.ts';

async function ok(b: InProcessBroker, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await api(b, method, path, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

async function addConfig(b: InProcessBroker, name: string, target: Target): Promise<void> {
  await ok(b, 'POST', `database/config/${name}`, {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
    username: target.cluster.user,
    password: target.cluster.password,
    allowed_roles: '*',
  });
}

interface Creds {
  leaseId: string;
  username: string;
  password: string;
}

async function mintMany(b: InProcessBroker, role: string, n: number): Promise<Creds[]> {
  const out: Creds[] = [];
  const queue = Array.from({ length: n }, (_, i) => i);
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (queue.pop() !== undefined) {
        const r = (await ok(b, 'GET', `database/creds/${role}`)) as { lease_id: string; data: { username: string; password: string } };
        out.push({ leaseId: r.lease_id, username: r.data.username, password: r.data.password });
      }
    }),
  );
  return out;
}

const rolesLeft = (target: Target, names: readonly string[]): Promise<number> =>
  withPgClient(target.url, async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM pg_roles WHERE rolname = ANY($1)', [names])).rows[0]?.n));

const leaseExists = async (b: InProcessBroker, id: string): Promise<boolean> => (await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: id } })).status === 200;

async function session(target: Target, c: Creds): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: c.username, password: c.password });
  client.on('error', () => {});
  await client.connect();
  return client;
}

const revokedLines = (b: InProcessBroker): string[] => b.logLines().filter((l) => l.msg === 'lease revoked').map((l) => String(l.lease_id));

test('revokeUsers: 40 users (one owning objects, live sessions, odd names) in four round trips; names are quoted, not run', async (t) => {
  const target = await newTarget('batch_readers');
  const names = Array.from({ length: 38 }, (_, i) => `v-batch.${i}@x+y`);
  const evil = 'evil"; DROP ROLE batch_keep; --';
  const owner = 'v-batch-owner';
  await withPgClient(target.url, async (c) => {
    await c.query('CREATE ROLE batch_keep NOLOGIN');
    for (const n of [...names, evil, owner]) await c.query(`CREATE ROLE ${pg.escapeIdentifier(n)} LOGIN PASSWORD 'pw' IN ROLE batch_readers`);
    await c.query(`CREATE TABLE owned_by_user (id int)`);
    await c.query(`ALTER TABLE owned_by_user OWNER TO ${pg.escapeIdentifier(owner)}`);
  });
  const live = await Promise.all([names[0], evil].map(async (user) => {
    const client = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user, password: 'pw' });
    client.on('error', () => {});
    await client.connect();
    return client;
  }));
  const all = [...names, evil, owner, 'v-batch-never-existed'];
  let queries = 0;
  await withPgClient(target.url, async (c) => {
    const counted = new Proxy(c, {
      get(obj, prop, receiver) {
        if (prop === 'query') queries += 1;
        return Reflect.get(obj, prop, receiver) as unknown;
      },
    }) as unknown as pg.PoolClient;
    await revokeUsers(counted, all.map((username) => ({ username, custom: null })), createLogger({ level: 'silent' }));
  });
  t.is(queries, 4, 'find the users, end their sessions, one statement list, end late sessions');
  t.is(await rolesLeft(target, all), 0, 'every user dropped');
  t.is(await rolesLeft(target, ['batch_keep']), 1, 'a name holding quotes and ";" is an identifier, never SQL');
  for (const client of live) await t.throwsAsync(client.query('SELECT 1'), undefined, 'the user’s session was terminated');
  const table = await withPgClient(target.url, async (c) => (await c.query<{ o: string }>(`SELECT tableowner AS o FROM pg_tables WHERE tablename = 'owned_by_user'`)).rows[0]?.o);
  t.is(table, target.cluster.user, 'objects of a dropped user are reassigned to the broker');
  for (const client of live) await client.end().catch(() => undefined);
});

test('120 due leases of one role: one kick revokes them all, drops the roles, ends their sessions, logs each lease', async (t) => {
  const target = await newTarget('batch_readers');
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await ok(b, 'POST', 'sys/mounts/database', { type: 'database' });
  await addConfig(b, 'main', target);
  await ok(b, 'POST', 'database/roles/ro', { db_name: 'main', default_group: 'batch_readers', default_ttl: '1m', max_ttl: '1m' });
  const creds = await mintMany(b, 'ro', 120);
  const live = await Promise.all(creds.slice(0, 3).map((c) => session(target, c)));
  t.is(await rolesLeft(target, creds.map((c) => c.username)), 120);

  b.clock.advance(61_000);
  t.is(await b.kick('lease-expiry'), 'ok');
  t.is(await rolesLeft(target, creds.map((c) => c.username)), 0, 'every role dropped');
  for (const client of live) await t.throwsAsync(client.query('SELECT 1'), undefined, 'a live session of a revoked user was terminated');
  t.deepEqual(revokedLines(b).sort(), creds.map((c) => c.leaseId).sort(), 'each lease revoked once, and logged');
  for (const c of creds.slice(0, 5)) t.false(await leaseExists(b, c.leaseId));
  t.false(b.logs().includes('batched revocation failed'), 'the batch path took them');
  for (const c of creds) t.false(b.logs().includes(c.password), 'no password in the logs');
  for (const client of live) await client.end().catch(() => undefined);
});

test('a batch where one user’s revocation fails: the others are revoked, the failing lease alone backs off and is retried', async (t) => {
  const target = await newTarget('batch_readers');
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase(), env: { SEALBOX_LEASE_REVOKE_BACKOFF_MS: '1000' } });
  t.teardown(() => b.stop());
  await ok(b, 'POST', 'sys/mounts/database', { type: 'database' });
  await addConfig(b, 'main', target);
  // Custom, templated per user: a plain DROP ROLE fails for a user that owns a table.
  await ok(b, 'POST', 'database/roles/custom', {
    db_name: 'main',
    default_group: 'batch_readers',
    default_ttl: '1m',
    max_ttl: '1m',
    revocation_statements: ['DROP ROLE "{{name}}"'],
  });
  const creds = await mintMany(b, 'custom', 12);
  const stuck = creds[5] as Creds;
  const others = creds.filter((c) => c !== stuck);
  const table = `t_${stuck.username.replace(/[^a-z0-9]/gi, '_')}`;
  await withPgClient(target.url, async (c) => {
    await c.query(`CREATE TABLE ${pg.escapeIdentifier(table)} (id int)`);
    await c.query(`ALTER TABLE ${pg.escapeIdentifier(table)} OWNER TO ${pg.escapeIdentifier(stuck.username)}`);
  });

  b.clock.advance(61_000);
  t.is(await b.kick('lease-expiry'), 'ok');
  t.is(await rolesLeft(target, others.map((c) => c.username)), 0, 'the others are dropped');
  t.is(await rolesLeft(target, [stuck.username]), 1, 'the failing user stays');
  t.true(b.logs().includes('batched revocation failed; revoking its users one by one'));
  t.deepEqual(revokedLines(b).sort(), others.map((c) => c.leaseId).sort(), 'only the others are marked revoked');
  const lease = (await ok(b, 'PUT', 'sys/leases/lookup', { lease_id: stuck.leaseId })) as { data: { id: string } };
  t.is(lease.data.id, stuck.leaseId, 'the failing lease is kept');
  const retry = b.logLines().filter((l) => l.msg === 'lease revocation failed; will retry');
  t.deepEqual(retry.map((l) => l.lease_id), [stuck.leaseId]);
  t.is(retry[0]?.attempts, 1);

  // Fixed on the target: the retry (after its backoff, never before) drops it.
  await withPgClient(target.url, (c) => c.query(`DROP TABLE ${pg.escapeIdentifier(table)}`));
  t.is(await b.kick('lease-expiry'), 'ok');
  t.is(await rolesLeft(target, [stuck.username]), 1, 'not retried before its backoff');
  b.clock.advance(1_001);
  t.is(await b.kick('lease-expiry'), 'ok');
  t.is(await rolesLeft(target, [stuck.username]), 0, 'the retry dropped it');
  t.false(await leaseExists(b, stuck.leaseId));
});

test('one batch with leases of two targets (two configs) and two mounts: each group revoked on its own target', async (t) => {
  const first = await newTarget('batch_readers');
  const second = await newTarget('batch_readers');
  const b = await startApp({ databaseUrl: await first.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await ok(b, 'POST', 'sys/mounts/database', { type: 'database' });
  await ok(b, 'POST', 'sys/mounts/db2', { type: 'database' });
  await addConfig(b, 'one', first);
  await addConfig(b, 'two', second);
  const role = { default_group: 'batch_readers', default_ttl: '1m', max_ttl: '1m' };
  await ok(b, 'POST', 'database/roles/a', { db_name: 'one', ...role });
  await ok(b, 'POST', 'database/roles/b', { db_name: 'two', ...role });
  // The second mount reaches the first target with a different config name.
  await addConfigAt(b, 'db2', 'main', first);
  await ok(b, 'POST', 'db2/roles/c', { db_name: 'main', ...role });
  const a = await mintMany(b, 'a', 8);
  const bb = await mintMany(b, 'b', 8);
  const c = (await Promise.all(Array.from({ length: 8 }, () => ok(b, 'GET', 'db2/creds/c')))) as { lease_id: string; data: { username: string } }[];
  const sessions = await Promise.all([session(first, a[0] as Creds), session(second, bb[0] as Creds)]);

  b.clock.advance(61_000);
  t.is(await b.kick('lease-expiry'), 'ok');
  t.is(await rolesLeft(first, a.map((x) => x.username)), 0);
  t.is(await rolesLeft(second, bb.map((x) => x.username)), 0);
  t.is(await rolesLeft(first, c.map((x) => x.data.username)), 0);
  for (const s of sessions) await t.throwsAsync(s.query('SELECT 1'));
  t.is(revokedLines(b).length, 24);
  t.false(b.logs().includes('batched revocation failed'));
  for (const s of sessions) await s.end().catch(() => undefined);
});

async function addConfigAt(b: InProcessBroker, mount: string, name: string, target: Target): Promise<void> {
  await ok(b, 'POST', `${mount}/config/${name}`, {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
    username: target.cluster.user,
    password: target.cluster.password,
    allowed_roles: '*',
  });
}
