// Issue 21's review: a scheduler slot that meets PostgreSQL away (a failover) must still run, once, and never stay
// `running` in job_runs. In-process brokers on a real PostgreSQL with a fake clock; the outage is made exact by a
// trigger that terminates the broker's own backend (SQLSTATE 57P01, what a primary going down sends) the first time
// the slot's claim or its result write reaches job_runs. No failover, no timing: the fault hits that one statement.
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

const JOB = 'engine-maintenance';
// Every 10 s: a slot's retries have until shortly before the next one (9 s of real time with the clock standing still).
const EVERY_10S = { SEALBOX_MAINTENANCE_SCHEDULE: '*/10 * * * * *' };
const slotAfter = (from: number, ms = 0): number => Math.ceil((from + ms) / 10_000) * 10_000;

interface Row {
  slot: Date;
  replica: string;
  status: string;
  error: string | null;
}

const rowsOf = (url: string): Promise<Row[]> =>
  withPgClient(url, async (c) => (await c.query<Row>(`SELECT slot, replica, status, error FROM job_runs WHERE job = $1 AND kind = 'scheduled' ORDER BY slot`, [JOB])).rows);

/** Held by the test for as long as it runs: the faulted statement waits on it until its termination takes effect. */
const HELD_LOCK = 0x5ea1b2;

/** The first `when` statement on this job's job_runs rows (INSERT: the claim; UPDATE to a result: its record) loses its connection. */
async function faultOnce(t: ExecutionContext, url: string, when: 'claim' | 'record'): Promise<() => Promise<number>> {
  const name = `test_fault_${when}`;
  // Advisory locks are per database, and each test has its own.
  const holder = new pg.Client({ connectionString: url });
  holder.on('error', () => {});
  await holder.connect();
  t.teardown(() => holder.end().catch(() => undefined));
  await holder.query('SELECT pg_advisory_lock($1)', [HELD_LOCK]);
  await withPgClient(url, async (c) => {
    await c.query(`CREATE SEQUENCE ${name}_seq`);
    await c.query(`CREATE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.job = '${JOB}' AND nextval('${name}_seq') = 1 THEN
          PERFORM pg_terminate_backend(pg_backend_pid());
          -- Waits on a lock the test holds: the termination ends the wait (and the statement), never the lock.
          PERFORM pg_advisory_xact_lock(${HELD_LOCK});
        END IF;
        RETURN NEW;
      END $$`);
    const event = when === 'claim' ? 'BEFORE INSERT' : "BEFORE UPDATE OF status";
    await c.query(`CREATE TRIGGER ${name} ${event} ON job_runs FOR EACH ROW ${when === 'record' ? "WHEN (NEW.status <> 'running')" : ''} EXECUTE FUNCTION ${name}()`);
  });
  // How many statements reached the trigger (1: the fault; 2 or more: it was tried again).
  return () => withPgClient(url, async (c) => Number((await c.query<{ n: string }>(`SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS n FROM ${name}_seq`)).rows[0]?.n ?? 0));
}

async function pair(): Promise<{ databaseUrl: string; a: InProcessBroker; b: InProcessBroker; replicaOfA: string; at: number }> {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const a = await startApp({ databaseUrl, env: EVERY_10S });
  const b = await startApp({ databaseUrl, dataDir: a.dataDir, rootToken: a.rootToken, env: EVERY_10S });
  // One clean slot, run by a alone: it names a's replica.
  const at = slotAfter(Math.max(a.clock.now().getTime(), b.clock.now().getTime()), 1000);
  a.clock.set(at);
  b.clock.set(at);
  if ((await a.app.jobs.tick(JOB)) !== 'ok') throw new Error('the first slot did not run');
  const replicaOfA = (await rowsOf(databaseUrl))[0]?.replica ?? '';
  return { databaseUrl, a, b, replicaOfA, at };
}

for (const when of ['claim', 'record'] as const) {
  test(`the slot's ${when === 'claim' ? 'claim' : 'result write'} loses its connection: the slot is tried again and ends ok, and the other replica does not run it`, async (t) => {
    const { databaseUrl, a, b, replicaOfA, at } = await pair();
    t.teardown(() => Promise.all([a.stop(), b.stop()]).then(() => undefined));
    const reached = await faultOnce(t, databaseUrl, when);
    const slot = at + 10_000;
    a.clock.set(slot);
    b.clock.set(slot);
    t.is(await a.app.jobs.tick(JOB), 'ok');
    t.true((await reached()) >= 2, 'the statement met the fault, and was sent again');
    // The other replica's tick of the same slot finds it taken (and finished): it does not run it again.
    t.is(await b.app.jobs.tick(JOB), 'not-claimed');
    const rows = await rowsOf(databaseUrl);
    t.deepEqual(
      rows.map((r) => [r.slot.getTime(), r.replica, r.status]),
      [
        [at, replicaOfA, 'ok'],
        [slot, replicaOfA, 'ok'],
      ],
    );
    // The next slot runs as usual.
    a.clock.set(slot + 10_000);
    b.clock.set(slot + 10_000);
    t.deepEqual((await Promise.all([a.app.jobs.tick(JOB), b.app.jobs.tick(JOB)])).sort(), ['not-claimed', 'ok']);
    t.false((await rowsOf(databaseUrl)).some((r) => r.status === 'running'));
  });
}

test('a slot left running: by this replica it is run again; by another, only once its claim is older than the lease', async (t) => {
  const { databaseUrl, a, b, replicaOfA, at } = await pair();
  t.teardown(() => Promise.all([a.stop(), b.stop()]).then(() => undefined));
  const leftRunning = (slot: number, replica: string, startedAt: number) =>
    withPgClient(databaseUrl, (c) => c.query(`INSERT INTO job_runs (job, slot, kind, replica, started_at) VALUES ($1, $2, 'scheduled', $3, $4)`, [JOB, new Date(slot), replica, new Date(startedAt)]));
  const tickAt = async (x: InProcessBroker, slot: number) => {
    x.clock.set(slot);
    return x.app.jobs.tick(JOB);
  };
  // a's own claim whose answer was lost (its run never started): a's tick of the slot takes it back and runs it.
  const own = at + 10_000;
  await leftRunning(own, replicaOfA, own);
  t.is(await tickAt(a, own), 'ok');
  // Another replica's fresh claim: it may still be running it; neither a nor b takes it.
  const fresh = at + 20_000;
  await leftRunning(fresh, 'elsewhere/1/fresh', fresh);
  t.is(await tickAt(a, fresh), 'not-claimed');
  t.is(await tickAt(b, fresh), 'not-claimed');
  // Another replica's claim older than the lease (2 min), the job running nowhere: taken over, by one replica.
  const stale = at + 30_000;
  await leftRunning(stale, 'elsewhere/2/dead', stale - 3 * 60_000);
  a.clock.set(stale);
  b.clock.set(stale);
  t.deepEqual((await Promise.all([a.app.jobs.tick(JOB), b.app.jobs.tick(JOB)])).sort(), ['not-claimed', 'ok']);

  const rows = new Map((await rowsOf(databaseUrl)).map((r) => [r.slot.getTime(), r]));
  t.is(rows.get(own)?.status, 'ok');
  t.is(rows.get(own)?.replica, replicaOfA);
  t.is(rows.get(fresh)?.status, 'running');
  t.is(rows.get(fresh)?.replica, 'elsewhere/1/fresh');
  t.is(rows.get(stale)?.status, 'ok');
  t.not(rows.get(stale)?.replica, 'elsewhere/2/dead');
});
