// A database user minted by a broker that dies before the user's lease is stored is found and dropped: the mint
// records a sealed intent before CREATE ROLE, the lease insert ends it, and the lease-intent-sweep job revokes the
// users of intents that never got a lease.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type pg from 'pg';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

const prefix = `li${randomBytes(3).toString('hex')}`;
const GROUP = `${prefix}_readers`;
const BROKER_USER = `${prefix}_broker`;
const BROKER_PASSWORD = `bp-${randomBytes(12).toString('hex')}`;

test.serial('SIGKILL between CREATE ROLE and the lease insert: after a restart the sweep drops the user; a leased user is kept', async (t) => {
  const cluster = await startPostgres();
  const targetUrl = await cluster.createDatabase();
  const targetDb = new URL(targetUrl).pathname.slice(1);
  const storageUrl = await cluster.createDatabase();
  const superuser = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPgClient(cluster.url(targetDb), fn);
  const storage = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPgClient(storageUrl, fn);
  await superuser(async (c) => {
    await c.query(`CREATE ROLE ${GROUP} NOLOGIN`);
    await c.query(`CREATE ROLE ${BROKER_USER} LOGIN CREATEROLE PASSWORD '${BROKER_PASSWORD}'`);
    await c.query(`GRANT ${GROUP} TO ${BROKER_USER} WITH ADMIN OPTION`);
  });
  const minted = async (): Promise<string[]> =>
    superuser(async (c) => (await c.query<{ rolname: string }>("SELECT rolname FROM pg_roles WHERE rolname LIKE 'v-%-app-%' ORDER BY rolname")).rows.map((r) => r.rolname));
  const intents = async (): Promise<number> => storage(async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM lease_intents')).rows[0]?.n));

  const rootToken = `root-${randomBytes(8).toString('hex')}`;
  const crashing = await startBroker({
    databaseUrl: storageUrl,
    rootToken,
    env: { SEALBOX_TEST_MODE: '1', SEALBOX_TEST_FAILPOINTS: 'lease:before-insert' },
  });
  t.teardown(() => crashing.stop());
  t.is((await api(crashing, 'POST', 'sys/mounts/database', { body: { type: 'database' } })).status, 204);
  const cfg = await api(crashing, 'POST', 'database/config/main', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${cluster.port}/${targetDb}`,
      username: BROKER_USER,
      password: BROKER_PASSWORD,
      allowed_roles: 'app',
    },
  });
  t.is(cfg.status, 204, cfg.text);
  t.is((await api(crashing, 'POST', 'database/roles/app', { body: { db_name: 'main', default_group: GROUP, default_ttl: '1h' } })).status, 204);

  // The broker creates the user, then dies before the lease is stored: the client never gets the credentials.
  const lost = await api(crashing, 'GET', 'database/creds/app').then(
    (r) => r.status,
    () => 0,
  );
  t.is(lost, 0, 'the request died with the broker');
  await crashing.stop();
  t.is(crashing.proc.signalCode, 'SIGKILL');
  const orphans = await minted();
  t.is(orphans.length, 1, 'the user exists on the target without a lease');
  t.is(await intents(), 1, 'and its intent is recorded');
  // The intent is sealed: the username is not in the storage database in the clear.
  const dump = await storage(async (c) => (await c.query<{ t: string }>('SELECT internal::text AS t FROM lease_intents')).rows.map((r) => r.t).join(''));
  t.false(dump.includes(Buffer.from(orphans[0] ?? '-').toString('hex')), 'the username is not stored in plaintext');

  const b: Broker = await startBroker({ databaseUrl: storageUrl, dataDir: crashing.dataDir, rootToken, env: { SEALBOX_LEASE_INTENT_GRACE: '0s' } });
  t.teardown(() => b.stop());
  // A mint that completes: its lease is stored and its intent ends in the same transaction.
  const ok = await api(b, 'GET', 'database/creds/app');
  t.is(ok.status, 200, ok.text);
  const kept = (ok.json as { data: { username: string } }).data.username;
  t.is(await intents(), 1, 'only the dead broker’s intent is left');

  // Kick the sweep through the API, not by waiting for its slot.
  const run = await api(b, 'POST', 'sys/scheduler/jobs/lease-intent-sweep/run');
  t.deepEqual((run.json as { data: unknown }).data, { status: 'ok' }, run.text);
  t.deepEqual(await minted(), [kept], 'the unleased user is dropped, the leased one is kept');
  t.is(await intents(), 0);
  // The sweep logs before it answers, but the line may still be in the broker's pipe.
  t.true(await b.waitForLogLine((l) => String(l.msg).includes('revoked a secret created by a broker that stopped before storing its lease')), 'the sweep says what it did');
});
