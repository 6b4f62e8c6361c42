// Issue 21's review, gap C: a job slot claimed by a broker that died stays `running` in job_runs for ever (only a
// claim of the same slot takes a row over, and no later slot is that row). The periodic lease-orphan-sweep closes such
// a row as `failed` ("abandoned") once it is older than the claim lease, its replica's scheduler session lock is held
// by no session (or it is this replica's own and not in flight here), and nothing of its job runs (the job's
// advisory lock is free). In-process broker on a real PostgreSQL with a fake clock; a dead broker is a row written
// for a replica id, a live one a session holding its lock (which then ends, as a killed broker's does).
import test from 'ava';
import pg from 'pg';
import { ABANDONED_ERROR, jobLockKey, replicaSessionKey, SCHEDULER_SESSION_CLASS } from '../src/core/jobs/abandoned-runs.ts';
import { CLAIM_LEASE_MS } from '../src/core/jobs/slot-retry.ts';
import { startApp } from './helpers/app.ts';
import { pollUntil } from './helpers/poll.ts';
import { startPostgres } from './helpers/postgres.ts';

test('slots left running by a replica that is gone are closed as abandoned; live, busy and fresh ones are not', async (t) => {
  const cluster = await startPostgres();
  const databaseUrl = await cluster.createDatabase();
  const b = await startApp({ databaseUrl });
  t.teardown(() => b.stop());
  const sql = new pg.Client({ connectionString: databaseUrl });
  sql.on('error', () => undefined);
  await sql.connect();
  t.teardown(() => sql.end().catch(() => undefined));

  // A slot of this broker names its replica, and from its first claim its scheduler holds its session lock.
  t.is(await b.kick('keyring-rewrap'), 'ok');
  const self = (await sql.query<{ replica: string }>("SELECT replica FROM job_runs WHERE job = 'keyring-rewrap'")).rows[0]?.replica ?? '';
  t.truthy(self);
  const held = async (replica: string): Promise<boolean> =>
    ((
      await sql.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid AND objid = $2::bigint::oid AND objsubid = 2 AND granted", [
        SCHEDULER_SESSION_CLASS,
        replicaSessionKey(replica),
      ])
    ).rowCount ?? 0) > 0;
  // Taken in the background at the first slot (not awaited there, no log line): re-checked at 100 ms beats too.
  const asked = Date.now();
  await pollUntil('the scheduler session lock is held', () => held(self), { timeoutMs: 10_000, at: Array.from({ length: 100 }, (_, i) => asked + (i + 1) * 100) });

  const now = b.clock.now().getTime();
  const stale = new Date(now - CLAIM_LEASE_MS - 60_000);
  const rows: [string, string, string, Date][] = [
    // [label, job, replica, started_at]
    ['dead', 'engine-maintenance', 'gone-host/4242/deadbeef', stale],
    ['removed-job', 'a-job-no-broker-has-any-more', 'gone-host/4242/deadbeef', stale],
    ['fresh', 'login-failures-prune', 'gone-host/4243/cafe0000', new Date(now - 30_000)],
    ['live', 'token-tidy', 'other-host/77/0badf00d', stale],
    ['busy', 'lease-intent-sweep', 'gone-host/4244/feedface', stale],
    ['own', 'job-history-prune', self, stale],
  ];
  for (const [label, job, replica, at] of rows) {
    await sql.query("INSERT INTO job_runs (job, slot, kind, replica, started_at) VALUES ($1, $2, 'manual', $3, $4)", [job, new Date(at.getTime() - 1), replica, at]);
    t.log(`${label}: ${job} by ${replica}`);
  }
  // The live replica's session holds its lock; something of the busy job runs (its advisory lock is held).
  const liveSession = new pg.Client({ connectionString: databaseUrl });
  liveSession.on('error', () => undefined);
  await liveSession.connect();
  t.teardown(() => liveSession.end().catch(() => undefined));
  await liveSession.query('SELECT pg_advisory_lock($1::int, $2::int)', [SCHEDULER_SESSION_CLASS, replicaSessionKey('other-host/77/0badf00d')]);
  await liveSession.query('SELECT pg_advisory_lock(7001, $1::int)', [jobLockKey('lease-intent-sweep')]);

  const statusOf = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const [label, job, replica] of rows) {
      const r = (await sql.query<{ status: string; error: string | null }>('SELECT status, error FROM job_runs WHERE job = $1 AND replica = $2 AND kind = $3', [job, replica, 'manual'])).rows[0];
      out[label] = r ? (r.status === 'failed' && r.error === ABANDONED_ERROR ? 'abandoned' : r.status) : 'missing';
    }
    return out;
  };

  t.is(await b.kick('lease-orphan-sweep'), 'ok');
  // Its own stale slot is not in flight here (a slot whose retries gave up while the storage was away): closed too.
  t.deepEqual(await statusOf(), { dead: 'abandoned', 'removed-job': 'abandoned', fresh: 'running', live: 'running', busy: 'running', own: 'abandoned' });
  t.true(b.logs().includes('closed job slots left running by a replica that is gone'));

  // The live replica dies (its session ends) and the busy job's run ends; the fresh claim grows old.
  await liveSession.end();
  b.clock.advance(CLAIM_LEASE_MS);
  t.is(await b.kick('lease-orphan-sweep'), 'ok');
  t.deepEqual(await statusOf(), { dead: 'abandoned', 'removed-job': 'abandoned', fresh: 'abandoned', live: 'abandoned', busy: 'abandoned', own: 'abandoned' });
  // The sweep's own slots were recorded as runs like any other (nothing it closed was live).
  const sweeps = (await sql.query<{ status: string }>("SELECT status FROM job_runs WHERE job = 'lease-orphan-sweep' ORDER BY started_at")).rows.map((r) => r.status);
  t.deepEqual(sweeps, ['ok', 'ok']);
});
