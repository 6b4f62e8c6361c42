// Session locks across a lost connection (a failover, a restart): asked again for a lock it holds, `hold` answers
// only once the replacement connection has taken every lock again, so a rotation claim never records a key that no
// session holds. Real PostgreSQL: the lock connection's backend is ended with pg_terminate_backend.
import { once } from 'node:events';
import test from 'ava';
import pg from 'pg';
import { createLogger } from '../lib/log.ts';
import { startPostgres, withPgClient } from '../../test/helpers/postgres.ts';
import { createSessionLocks } from './pg-session-locks.ts';

const heldKeys = (url: string): Promise<string[]> =>
  withPgClient(url, async (c) => (await c.query<{ k: string }>("SELECT objid::text AS k FROM pg_locks WHERE locktype = 'advisory' AND classid = 7999 AND objsubid = 2 AND granted ORDER BY 1")).rows.map((r) => r.k));

test('a lock asked for again after its connection died is held again when hold resolves', async (t) => {
  const url = await (await startPostgres()).createDatabase();
  const clients: pg.Client[] = [];
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: url, application_name: 'session-locks-test' });
    await c.connect();
    clients.push(c);
    return c;
  };
  const locks = createSessionLocks({ connect, log: createLogger({ level: 'silent' }) });
  t.teardown(() => locks.close());
  await locks.hold(7999, 1);
  await locks.hold(7999, 2);
  t.deepEqual(await heldKeys(url), ['1', '2']);
  await locks.hold(7999, 1);
  t.deepEqual(await heldKeys(url), ['1', '2'], 'asked again while held: nothing changes');

  const first = clients[0] as pg.Client;
  const failed = once(first, 'error');
  await withPgClient(url, (c) => c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'session-locks-test'"));
  await failed;
  t.deepEqual(await heldKeys(url), [], 'the locks went with the connection');
  // hold() again (the claim path): it must not answer before both locks are back on a new connection.
  await locks.hold(7999, 1);
  t.is(clients.length, 2, 'a new connection');
  t.deepEqual(await heldKeys(url), ['1', '2'], 'both locks are held again when hold resolves');
});
