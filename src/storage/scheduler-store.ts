import { toBuffer, type Queryable } from './db.ts';

export interface JobRow {
  name: string;
  schedule: string;
  paused: boolean;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastStatus: string | null;
  lastError: string | null;
  /** The row's integrity MAC over (name, paused) (core/integrity/row-mac.ts). */
  mac: Buffer | null;
}

export interface JobRunRow {
  job: string;
  slot: Date;
  kind: 'scheduled' | 'catchup' | 'manual';
  replica: string;
  startedAt: Date;
  finishedAt: Date | null;
  status: 'running' | 'ok' | 'failed' | 'skipped';
  error: string | null;
}

interface RawJob {
  name: string;
  schedule: string;
  paused: boolean;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_status: string | null;
  last_error: string | null;
  mac: Uint8Array | null;
}

const toJob = (r: RawJob): JobRow => ({
  name: r.name,
  schedule: r.schedule,
  paused: r.paused,
  nextRunAt: r.next_run_at ? new Date(r.next_run_at) : null,
  lastRunAt: r.last_run_at ? new Date(r.last_run_at) : null,
  lastStatus: r.last_status,
  lastError: r.last_error,
  mac: r.mac ? toBuffer(r.mac) : null,
});

/** scheduled_jobs and job_runs (migrations/0006). */
export function createSchedulerStore() {
  return {
    /**
     * Takes the exclusive job lock for the transaction `q` (false: another replica holds it). The connection holds the
     * lock while the job works on others, so it must outlive the idle-in-transaction timeout.
     */
    async tryLockJob(q: Queryable, key: number): Promise<boolean> {
      await q.query('SET LOCAL idle_in_transaction_session_timeout = 0');
      const r = await q.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock(7001, $1) AS ok', [key]);
      return r.rows[0]?.ok === true;
    },
    /** Creates the job row, or updates its schedule; returns the stored row (its next_run_at as last written). */
    /** Every job at start-up in one statement (one round trip, one commit: issue 17's start-up). */
    async upsertMany(q: Queryable, jobs: readonly { name: string; schedule: string }[]): Promise<Map<string, JobRow>> {
      const r = await q.query<RawJob>(
        `INSERT INTO scheduled_jobs (name, schedule) SELECT * FROM unnest($1::text[], $2::text[])
         ON CONFLICT (name) DO UPDATE SET schedule = EXCLUDED.schedule, updated_at = now()
         RETURNING name, schedule, paused, next_run_at, last_run_at, last_status, last_error, mac`,
        [jobs.map((j) => j.name), jobs.map((j) => j.schedule)],
      );
      return new Map(r.rows.map((row) => [row.name, toJob(row)]));
    },

    async setNextRuns(q: Queryable, runs: readonly { name: string; nextRunAt: Date | null }[]): Promise<void> {
      if (runs.length === 0) return;
      await q.query(
        `UPDATE scheduled_jobs s SET next_run_at = v.at FROM unnest($1::text[], $2::timestamptz[]) AS v(name, at) WHERE s.name = v.name`,
        [runs.map((x) => x.name), runs.map((x) => x.nextRunAt)],
      );
    },

    async get(q: Queryable, name: string): Promise<JobRow | null> {
      const r = await q.query<RawJob>(`SELECT name, schedule, paused, next_run_at, last_run_at, last_status, last_error, mac FROM scheduled_jobs WHERE name = $1`, [name]);
      return r.rows[0] ? toJob(r.rows[0]) : null;
    },

    async list(q: Queryable): Promise<JobRow[]> {
      const r = await q.query<RawJob>(`SELECT name, schedule, paused, next_run_at, last_run_at, last_status, last_error, mac FROM scheduled_jobs ORDER BY name`);
      return r.rows.map(toJob);
    },

    async setPaused(q: Queryable, name: string, paused: boolean, mac: Buffer | null): Promise<boolean> {
      const r = await q.query(`UPDATE scheduled_jobs SET paused = $2, mac = $3, updated_at = now() WHERE name = $1`, [name, paused, mac]);
      return r.rowCount > 0;
    },

    /**
     * Claims a slot for this replica; false when another replica has it. A row for the slot still `running` is taken
     * over (its replica and start time become this claim's) when it is this replica's own (a claim whose answer was
     * lost in an outage, or a run whose result could not be written: the caller knows no run of it is in flight here),
     * or another replica's that was claimed before `staleBefore` while no replica holds the job's advisory lock
     * (`lockKey`: nothing of the job runs anywhere). The row lock makes one replica win a takeover.
     */
    async claim(q: Queryable, job: string, slot: Date, kind: JobRunRow['kind'], replica: string, now: Date, takeover?: { staleBefore: Date; lockKey: number }): Promise<boolean> {
      const r = await q.query(
        `INSERT INTO job_runs (job, slot, kind, replica, started_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (job, slot) DO UPDATE SET replica = EXCLUDED.replica, started_at = EXCLUDED.started_at
         WHERE job_runs.status = 'running'
           AND (job_runs.replica = EXCLUDED.replica OR ($6::timestamptz IS NOT NULL AND job_runs.started_at < $6::timestamptz AND pg_try_advisory_xact_lock(7001, $7::int)))`,
        [job, slot, kind, replica, now, takeover?.staleBefore ?? null, takeover?.lockKey ?? 0],
      );
      return r.rowCount > 0;
    },

    /** Records a claimed slot's outcome, if the claim is still this replica's (false: already recorded, or taken over). */
    async finish(q: Queryable, job: string, slot: Date, replica: string, status: JobRunRow['status'], error: string | null, now: Date): Promise<boolean> {
      const r = await q.query(`UPDATE job_runs SET finished_at = $4, status = $5, error = $6 WHERE job = $1 AND slot = $2 AND replica = $3 AND status = 'running'`, [
        job,
        slot,
        replica,
        now,
        status,
        error,
      ]);
      return r.rowCount > 0;
    },

    /** Records the outcome on the job row and when it is due next (null: unknown). */
    async recordRun(q: Queryable, name: string, f: { at: Date; status: string; error: string | null; nextRunAt: Date | null }): Promise<void> {
      await q.query(
        `UPDATE scheduled_jobs SET last_run_at = $2, last_status = $3, last_error = $4, next_run_at = $5, updated_at = now() WHERE name = $1`,
        [name, f.at, f.status, f.error, f.nextRunAt],
      );
    },

    async history(q: Queryable, job: string, limit: number): Promise<JobRunRow[]> {
      const r = await q.query<{ job: string; slot: Date; kind: JobRunRow['kind']; replica: string; started_at: Date; finished_at: Date | null; status: JobRunRow['status']; error: string | null }>(
        `SELECT job, slot, kind, replica, started_at, finished_at, status, error FROM job_runs WHERE job = $1 ORDER BY started_at DESC LIMIT $2`,
        [job, limit],
      );
      return r.rows.map((x) => ({
        job: x.job,
        slot: new Date(x.slot),
        kind: x.kind,
        replica: x.replica,
        startedAt: new Date(x.started_at),
        finishedAt: x.finished_at ? new Date(x.finished_at) : null,
        status: x.status,
        error: x.error,
      }));
    },

    /** The slots still `running` that were claimed before `staleBefore`. */
    async staleRunning(q: Queryable, staleBefore: Date): Promise<{ job: string; slot: Date; replica: string }[]> {
      const r = await q.query<{ job: string; slot: Date; replica: string }>(`SELECT job, slot, replica FROM job_runs WHERE status = 'running' AND started_at < $1 LIMIT 1000`, [staleBefore]);
      return r.rows.map((x) => ({ job: x.job, slot: new Date(x.slot), replica: x.replica }));
    },

    /** The keys of the session-level advisory locks of `classId` that some session holds (two-int form). */
    async heldSessionKeys(q: Queryable, classId: number): Promise<Set<number>> {
      const r = await q.query<{ k: string }>(
        `SELECT objid::bigint::text AS k FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid AND objsubid = 2 AND granted`,
        [classId],
      );
      return new Set(r.rows.map((x) => Number(x.k)));
    },

    /**
     * Closes as `failed` these slots if still `running` (claimed by `replica`) since before `staleBefore`, unless the
     * job's advisory lock is held (something of the job runs, so the row may be live). Returns how many.
     */
    async abandon(q: Queryable, runs: readonly { job: string; slot: Date; replica: string; lockKey: number }[], f: { staleBefore: Date; now: Date; error: string }): Promise<number> {
      const r = await q.query(
        `UPDATE job_runs r SET status = 'failed', finished_at = $5, error = $6
           FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::int[]) AS c(job, slot, replica, key)
          WHERE r.job = c.job AND r.slot = c.slot AND r.replica = c.replica AND r.status = 'running' AND r.started_at < $7
            AND pg_try_advisory_xact_lock(7001, c.key)`,
        [runs.map((x) => x.job), runs.map((x) => x.slot), runs.map((x) => x.replica), runs.map((x) => x.lockKey), f.now, f.error, f.staleBefore],
      );
      return r.rowCount;
    },

    /** Drops run history older than `before` (kept bounded by a daily job). */
    async pruneRuns(q: Queryable, before: Date): Promise<number> {
      const r = await q.query(`DELETE FROM job_runs WHERE started_at < $1 AND status <> 'running'`, [before]);
      return r.rowCount;
    },
  };
}

export type SchedulerStore = ReturnType<typeof createSchedulerStore>;
