/**
 * The scheduler (DESIGN §6, issue 7): node-cron fires every job on every replica, in UTC. A *shared* job (lease
 * expiry) runs on all replicas at once, which split its work themselves. An *exclusive* job runs each slot on
 * exactly one replica: the slot is claimed with an INSERT into job_runs, and the job body also holds an advisory
 * lock so that a slow run never overlaps the next one on another replica (node-cron's noOverlap is per process).
 * Next-due times and history live in PostgreSQL; a slot missed while every broker was down runs once at start-up.
 * A slot that meets the database away (a failover) is tried again until shortly before the next tick (slot-retry.ts).
 */
import cron, { type ScheduledTask, type TaskContext } from 'node-cron';
import type { Clock } from '../../lib/clock.ts';
import { nextCronSlot } from '../../lib/cron-next.ts';
import type { Logger } from '../../lib/log.ts';
import type { Db } from '../../storage/db.ts';
import type { RowMac } from '../integrity/row-mac.ts';
import { jobFields } from '../integrity/rows.ts';
import type { JobRow, JobRunRow, SchedulerStore } from '../../storage/scheduler-store.ts';
import { jobLockKey, replicaSessionKey, SCHEDULER_SESSION_CLASS, sweepAbandonedRuns } from './abandoned-runs.ts';
import { CLAIM_LEASE_MS, RETRY_MARGIN_MS, RETRY_MAX_MS, slotRetry, storageUnavailable } from './slot-retry.ts';

export interface JobSpec {
  name: string;
  /** Cron, UTC; 5 fields, or 6 with seconds first. */
  schedule: string;
  /** One replica per slot (claimed in PostgreSQL) and never overlapping; false: every replica runs it. */
  exclusive: boolean;
  /** Exclusive jobs only: a slot missed while no broker ran is run once at start-up. */
  catchUp?: boolean;
  run(): Promise<void>;
}

export interface SchedulerDeps {
  db: Db;
  store: SchedulerStore;
  clock: Clock;
  log: Logger;
  /** Names this process in job_runs.replica. */
  replicaId: string;
  /** Skips runs while false (sealed). */
  ready(): boolean;
  /** A stored pause is honoured only when its MAC checks: a writer cannot stop a job (issue 13). */
  rowMac: RowMac;
}

export type RunOutcome = JobRunRow['status'] | 'not-claimed';
/** A tick's outcome: a run's, or 'not-due' (the schedule does not match the clock's now), or 'not-ready' (sealed, stopping or not started). */
export type TickOutcome = RunOutcome | 'not-due' | 'not-ready';

const ERROR_CHARS = 500;
/** A slot's body is run again after the storage went away under it at most this many times (a failover is one event). */
const BODY_ATTEMPTS = 3;
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, ERROR_CHARS) || 'failed';
const lockKey = jobLockKey;

export function validSchedule(expr: string): boolean {
  return cron.validate(expr);
}

export function createScheduler(deps: SchedulerDeps) {
  const specs = new Map<string, JobSpec>();
  const tasks = new Map<string, ScheduledTask>();
  const running = new Set<Promise<unknown>>();
  const localRunning = new Set<string>();
  /** Slots (job and time) being claimed, run or recorded by this process: a claim left `running` by this replica is ours to take again only when its slot is not here. */
  const inFlight = new Set<string>();
  /** Cut a retry's backoff short at stop(). */
  const wakers = new Set<() => void>();
  /** Missed slots found at start-up while sealed: run at the job's first tick after unseal. */
  const pendingCatchUp = new Map<string, Date>();
  let stopped = false;
  /** Set once start() has stored every job's row: ticks before it (timers armed early) do nothing. */
  let stored = false;
  /** Manual slots are the clock's now, but never the same instant twice for a job (a fake clock may stand still). */
  const lastManual = new Map<string, number>();
  const manualSlot = (name: string): Date => {
    let at = Math.max(deps.clock.now().getTime(), (lastManual.get(name) ?? -Infinity) + 1);
    // Scheduled slots are whole seconds: a manual slot never is, so a run-now can never take a timer's slot (or lose to it).
    if (at % 1000 === 0) at += 1;
    lastManual.set(name, at);
    return new Date(at);
  };

  const cronLogger = {
    info: (m: string) => deps.log.debug({ source: 'node-cron' }, m),
    warn: (m: string) => deps.log.warn({ source: 'node-cron' }, m),
    error: (m: string | Error) => deps.log.error({ source: 'node-cron', err: m instanceof Error ? m.message : m }, 'scheduler error'),
    debug: (m: string | Error) => deps.log.debug({ source: 'node-cron' }, m instanceof Error ? m.message : m),
  };

  /** Runs the body, holding the job's advisory lock on PostgreSQL (PGlite is one process: nothing to exclude). */
  async function underLock(spec: JobSpec): Promise<boolean> {
    if (deps.db.kind === 'pglite') {
      // One process: an in-process flag keeps a manual run from overlapping a scheduled one.
      if (localRunning.has(spec.name)) return false;
      localRunning.add(spec.name);
      try {
        await spec.run();
      } finally {
        localRunning.delete(spec.name);
      }
      return true;
    }
    return deps.db.tx(async (q) => {
      if (!(await deps.store.tryLockJob(q, lockKey(spec.name)))) return false;
      await spec.run();
      return true;
    });
  }

  /** The claimed slot's run: pause check, then the body under the lock. A storage outage meanwhile is thrown (the slot is tried again). */
  async function runClaimed(spec: JobSpec, kind: JobRunRow['kind']): Promise<{ status: JobRunRow['status']; error: string | null }> {
    try {
      const row = await deps.store.get(deps.db, spec.name);
      if (row?.paused && kind !== 'manual' && deps.rowMac.ok('scheduled_jobs', jobFields(row), row.mac, row.name)) return { status: 'skipped', error: null };
      if (!(await underLock(spec))) return { status: 'skipped', error: 'the previous run is still going' };
      return { status: 'ok', error: null };
    } catch (err) {
      if (storageUnavailable(err)) throw err;
      const error = errorText(err);
      deps.log.warn({ job: spec.name, err: error }, 'scheduled job failed');
      return { status: 'failed', error };
    }
  }

  /** The slot's outcome on its job_runs row and the job's row, in one transaction (a retry writes both or neither). */
  async function record(spec: JobSpec, slot: Date, out: { status: JobRunRow['status']; error: string | null }): Promise<void> {
    const now = deps.clock.now();
    await deps.db.tx(async (q) => {
      // Not ours any more (recorded by an earlier try whose answer was lost, or taken over): the job row is not ours to write either.
      if (!(await deps.store.finish(q, spec.name, slot, deps.replicaId, out.status, out.error, now))) return;
      await deps.store.recordRun(q, spec.name, { at: now, status: out.status, error: out.error, nextRunAt: tasks.get(spec.name)?.getNextRun() ?? null });
    });
  }

  /** Until when (performance.now) a timer's slot is tried again: shortly before the job's next slot, and never past RETRY_MAX_MS. */
  function retryDeadline(spec: JobSpec, slot: Date, kind: JobRunRow['kind']): number {
    // A run-now answers an operator's request: one try, as before.
    if (kind === 'manual') return -Infinity;
    // The next slot after this one, on the scheduler's clock.
    const next = nextCronSlot(spec.schedule, slot)?.getTime() ?? Infinity;
    const budget = Math.min(next - deps.clock.now().getTime() - RETRY_MARGIN_MS, RETRY_MAX_MS);
    return performance.now() + budget;
  }

  /**
   * One exclusive run of a slot: claim it, check pause, run under the lock, record the outcome. Meeting the storage
   * away (a failover), it tries again with backoff on this replica: the claim (taking back its own row), the body
   * if it did not finish, and the record of a known outcome (the body is not run again for a lost write).
   */
  async function runSlot(spec: JobSpec, slot: Date, kind: JobRunRow['kind']): Promise<RunOutcome> {
    const key = `${spec.name}@${slot.getTime()}`;
    if (inFlight.has(key)) return 'not-claimed';
    inFlight.add(key);
    try {
      return await runSlotTries(spec, slot, kind);
    } finally {
      inFlight.delete(key);
    }
  }

  /** Held for the process's life from its first claim: while it is, no sweep takes this replica's `running` slots for abandoned. */
  let session: Promise<void> | null = null;
  const holdSession = (): Promise<void> =>
    (session ??= deps.db.holdSessionLock(SCHEDULER_SESSION_CLASS, replicaSessionKey(deps.replicaId)).catch((err: unknown) => {
      deps.log.warn({ err: errorText(err) }, 'could not take the scheduler session lock; taking it again at the next slot');
      session = null;
    }));

  async function runSlotTries(spec: JobSpec, slot: Date, kind: JobRunRow['kind']): Promise<RunOutcome> {
    const { db, store } = deps;
    // Not waited for: a sweep takes only rows older than CLAIM_LEASE_MS, and a slot need not wait on a failing connection.
    void holdSession();
    const retry = slotRetry(
      () => retryDeadline(spec, slot, kind),
      () => stopped || !deps.ready(),
      (wake) => {
        wakers.add(wake);
        return () => wakers.delete(wake);
      },
    );
    let outcome: { status: JobRunRow['status']; error: string | null } | null = null;
    let bodyAttempts = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!outcome) {
          const now = deps.clock.now();
          const takeover = { staleBefore: new Date(now.getTime() - CLAIM_LEASE_MS), lockKey: lockKey(spec.name) };
          if (!(await store.claim(db, spec.name, slot, kind, deps.replicaId, now, takeover))) return 'not-claimed';
          bodyAttempts++;
          outcome = await runClaimed(spec, kind);
        }
        await record(spec, slot, outcome);
        if (attempt > 1) deps.log.info({ job: spec.name, slot: slot.toISOString(), attempt, status: outcome.status }, 'scheduled slot run after the storage came back');
        return outcome.status;
      } catch (err) {
        if (!storageUnavailable(err)) throw err;
        const bodyGaveUp = !outcome && bodyAttempts >= BODY_ATTEMPTS;
        if (bodyGaveUp) outcome = { status: 'failed', error: errorText(err) };
        if (!(await retry.next())) throw err;
        deps.log.info({ job: spec.name, slot: slot.toISOString(), attempt, err: errorText(err) }, 'storage unavailable for a scheduled slot; trying it again');
      }
    }
  }

  function track<T>(p: Promise<T>): Promise<T> {
    running.add(p);
    // The caller handles p's rejection; this bookkeeping branch must not become an unhandled one.
    p.then(
      () => running.delete(p),
      () => running.delete(p),
    );
    return p;
  }

  /** One timer tick at `date`: the scheduled slot's outcome (a shared job's run: 'ok' or 'failed'). */
  async function fire(spec: JobSpec, date: Date): Promise<TickOutcome> {
    if (stopped || !stored || !deps.ready()) return 'not-ready';
    if (!spec.exclusive) {
      return spec.run().then(
        (): TickOutcome => 'ok',
        (err: unknown): TickOutcome => {
          deps.log.warn({ job: spec.name, err: errorText(err) }, 'scheduled job failed');
          return 'failed';
        },
      );
    }
    const missed = pendingCatchUp.get(spec.name);
    if (missed) {
      pendingCatchUp.delete(spec.name);
      await runSlot(spec, missed, 'catchup').catch((err: unknown) => deps.log.warn({ job: spec.name, err: errorText(err) }, 'catch-up run failed'));
    }
    const slot = new Date(Math.floor(date.getTime() / 1000) * 1000);
    return runSlot(spec, slot, 'scheduled').catch((err: unknown): TickOutcome => {
      deps.log.warn({ job: spec.name, err: errorText(err) }, 'could not run a scheduled slot');
      return 'failed';
    });
  }

  return {
    /** Registers a job; call before start(). */
    add(spec: JobSpec): void {
      if (!cron.validate(spec.schedule)) throw new Error(`job ${spec.name}: invalid cron expression "${spec.schedule}"`);
      specs.set(spec.name, spec);
    },

    /**
     * Makes the timers and, unless `timers: false`, starts them: no database statement, so the broker calls this
     * while its database is still opening (node-cron's first next-match computations cost ~100 ms of this thread
     * for a dozen jobs, issue 17). A tick before start() has stored the rows does nothing. start() arms what is not yet armed.
     */
    async arm(opts: { timers?: boolean } = {}): Promise<void> {
      for (const spec of specs.values()) {
        if (tasks.has(spec.name)) continue;
        const task = cron.createTask(spec.schedule, (ctx: TaskContext) => track(fire(spec, ctx.date)), { name: spec.name, timezone: 'UTC', noOverlap: true, logger: cronLogger });
        tasks.set(spec.name, task);
        if (opts.timers ?? true) await task.start();
      }
    },

    /**
     * Stores the jobs, runs the catch-up of slots missed while no broker ran, and starts the timers. With
     * `timers: false` (in-process tests) no timer starts: jobs run only through runNow and kick.
     */
    async start(opts: { timers?: boolean } = {}): Promise<void> {
      const timers = opts.timers ?? true;
      const { db, store } = deps;
      await this.arm(opts);
      // One statement for all the rows, and one for their next runs: start-up does not pay a round trip per job (issue 17).
      const rows = await store.upsertMany(db, [...specs.values()].map((spec) => ({ name: spec.name, schedule: spec.schedule })));
      const nextRuns: { name: string; nextRunAt: Date | null }[] = [];
      for (const spec of specs.values()) {
        const row = rows.get(spec.name);
        const task = tasks.get(spec.name);
        if (!row || !task) continue;
        const now = deps.clock.now();
        const missedSlot = spec.exclusive && spec.catchUp && row.nextRunAt && row.nextRunAt.getTime() < now.getTime() - 1000 ? row.nextRunAt : null;
        // Sealed at start (a Shamir seal waits for operators): the catch-up runs at the first tick after unseal.
        if (missedSlot && !deps.ready()) pendingCatchUp.set(spec.name, missedSlot);
        if (missedSlot && deps.ready() && row.nextRunAt) {
          // Once, not once per missed slot: the missed due time is the catch-up's slot, so only one replica runs it.
          deps.log.info({ job: spec.name, missed: row.nextRunAt.toISOString() }, 'running a job slot missed while the broker was down');
          await track(runSlot(spec, row.nextRunAt, 'catchup')).catch((err: unknown) => deps.log.warn({ job: spec.name, err: errorText(err) }, 'catch-up run failed'));
        }
        // node-cron knows the next run only once the task is started.
        if (timers && !pendingCatchUp.has(spec.name) && (!spec.exclusive || row.nextRunAt === null || row.nextRunAt.getTime() < now.getTime())) {
          nextRuns.push({ name: spec.name, nextRunAt: task.getNextRun() });
        }
      }
      stored = true;
      await store.setNextRuns(db, nextRuns);
    },

    /**
     * Runs a job now, whatever its schedule says (operators; tests, after advancing a fake clock, instead of waiting
     * for node-cron). An exclusive job runs as a manual slot, recorded in job_runs ('skipped' while a run is going);
     * a shared job runs its body on this replica at once ('ok' or 'failed', not recorded, as its ticks are not).
     */
    async runNow(name: string): Promise<RunOutcome> {
      const spec = specs.get(name);
      if (!spec) throw new Error(`unknown job ${name}`);
      if (!spec.exclusive) {
        return track(
          spec.run().then(
            (): RunOutcome => 'ok',
            (err: unknown): RunOutcome => {
              deps.log.warn({ job: spec.name, err: errorText(err) }, 'job run failed');
              return 'failed';
            },
          ),
        );
      }
      return track(runSlot(spec, manualSlot(spec.name), 'manual'));
    },

    /**
     * What the job's timer does when the clock's now (to the second) matches its schedule: its scheduled slot of now,
     * claimed and recorded as a timer's ('not-due' when the schedule does not match). In-process tests, whose timers
     * do not run, move a fake clock onto a slot and tick instead of waiting for node-cron.
     */
    async tick(name: string): Promise<TickOutcome> {
      const spec = specs.get(name);
      const task = tasks.get(name);
      if (!spec || !task) throw new Error(`unknown job ${name}`);
      const now = deps.clock.now();
      if (!task.match(now)) return 'not-due';
      return track(fire(spec, now));
    },

    /** The registered job names (for tests and tools that kick each job). */
    names: (): string[] => [...specs.keys()],

    has: (name: string): boolean => specs.has(name),
    /** Closes slots left `running` by replicas that are gone (abandoned-runs.ts); run by a periodic job. */
    sweepAbandoned: (): Promise<number> => sweepAbandonedRuns(deps, (job, slot) => inFlight.has(`${job}@${slot.getTime()}`)),
    list: (): Promise<JobRow[]> => deps.store.list(deps.db),
    history: (name: string, limit: number): Promise<JobRunRow[]> => deps.store.history(deps.db, name, limit),
    setPaused: (name: string, paused: boolean): Promise<boolean> => deps.store.setPaused(deps.db, name, paused, deps.rowMac.sign('scheduled_jobs', jobFields({ name, paused }))),

    async stop(): Promise<void> {
      stopped = true;
      for (const wake of [...wakers]) wake();
      // A run in flight records the job's next due time from its timer: the timers go after the runs, or a slot
      // ending during shutdown would store none, and the slots missed until the next start would not be caught up.
      await Promise.allSettled([...running]);
      for (const t of tasks.values()) await t.destroy();
      tasks.clear();
      await Promise.allSettled([...running]);
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
