/**
 * Slots left `running` by a broker that died (issue 21's review). A claimed slot whose broker is SIGKILLed, OOM-killed
 * or loses its host stays `running` in job_runs: only a claim of the same slot takes a row over (slot-retry.ts), and
 * the slots after it are rows of their own, so nobody comes back to it (a manual run, a removed job, or just the
 * next tick of a live job). Each scheduler holds a session lock named after its replica id for its whole life; a row
 * still `running` after CLAIM_LEASE_MS whose replica's lock no session holds, and whose job nobody runs (the job's
 * advisory lock is free), is closed as `failed` with an "abandoned" error by a periodic job; so is one of this
 * replica's own that it no longer works on (a slot whose retries gave up during a long outage).
 */
import type { Clock } from '../../lib/clock.ts';
import type { Db } from '../../storage/db.ts';
import type { SchedulerStore } from '../../storage/scheduler-store.ts';
import { CLAIM_LEASE_MS } from './slot-retry.ts';

/** The advisory lock class of a scheduler's session lock (7001: the job locks; 7002: rotation claims). */
export const SCHEDULER_SESSION_CLASS = 7003;
export const ABANDONED_ERROR = 'abandoned: the replica that claimed this slot is gone (its database session ended)';

const fnv = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h;
};

/** A stable 32-bit key for pg_try_advisory_xact_lock, one per job name. */
export const jobLockKey = (name: string): number => fnv(name) | 0;

/** The session-lock key of a replica id: positive (pg_locks shows it as an oid), stable across brokers. */
export const replicaSessionKey = (replica: string): number => 1 + ((fnv(replica) >>> 0) % 0x7ffffffe);

export interface AbandonedRunsDeps {
  db: Db;
  store: SchedulerStore;
  clock: Clock;
  replicaId: string;
}

/**
 * Closes the slots abandoned by dead replicas, and this replica's own that it no longer works on (`inFlight` false:
 * their retries gave up while the storage was away); the number closed.
 */
export async function sweepAbandonedRuns(deps: AbandonedRunsDeps, inFlight: (job: string, slot: Date) => boolean): Promise<number> {
  const now = deps.clock.now();
  const staleBefore = new Date(now.getTime() - CLAIM_LEASE_MS);
  const candidates = await deps.store.staleRunning(deps.db, staleBefore);
  if (candidates.length === 0) return 0;
  const live = await deps.store.heldSessionKeys(deps.db, SCHEDULER_SESSION_CLASS);
  const gone = candidates.filter((c) => (c.replica === deps.replicaId ? !inFlight(c.job, c.slot) : !live.has(replicaSessionKey(c.replica))));
  if (gone.length === 0) return 0;
  return deps.store.abandon(
    deps.db,
    gone.map((c) => ({ ...c, lockKey: jobLockKey(c.job) })),
    { staleBefore, now, error: ABANDONED_ERROR },
  );
}
