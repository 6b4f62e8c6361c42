import { toBuffer, type Queryable } from './db.ts';

export type RotationStep = 'create' | 'set' | 'test' | 'finish' | 'retire';

/** One rotation (migrations/0007). `pending` is sealed by the barrier; this layer never opens it. */
export interface RotationRow {
  id: string;
  mountId: string | null;
  kind: string;
  target: string;
  schedule: string | null;
  periodSeconds: number | null;
  paused: boolean;
  nextRunAt: Date | null;
  lastRunAt: Date | null;
  lastStatus: string | null;
  lastError: string | null;
  runId: string | null;
  runSlot: Date | null;
  runKind: 'scheduled' | 'manual' | null;
  step: RotationStep | null;
  pending: Buffer | null;
  attempts: number;
  /** The row's integrity MAC (core/integrity/row-mac.ts). */
  mac: Buffer | null;
  /** Seconds `retire` waits for consumers; null: the broker default; 0: no retirement. */
  graceSeconds: number | null;
  /** In the retire step: when the previous credential is retired whatever consumers say. */
  retireAt: Date | null;
  /** In the retire step: the path whose consumers it waits for. */
  retirePath: string | null;
}

/** Who had acknowledged the new version when a run retired the previous credential (rotation_runs.consumers). */
export interface RetireRecord {
  version: number;
  acknowledged: { accessor: string; identity: string | null; version: number }[];
  pending: { accessor: string; identity: string | null; version: number }[];
  /** "acknowledged" (every live consumer), "grace" (grace ran out), "forced" (a new run was asked for), "none" (no consumers), "off" (grace 0). */
  reason: string;
}

export interface RotationRunRow {
  runId: string;
  slot: Date | null;
  kind: 'scheduled' | 'manual';
  replica: string;
  startedAt: Date;
  finishedAt: Date | null;
  status: 'running' | 'ok' | 'failed';
  step: string | null;
  error: string | null;
  consumers: RetireRecord | null;
  /** Every step the run went through, in order (migrations/0015); empty for runs from before it. */
  steps: RunStep[];
}

/** One entry of rotation_runs.steps: a step entered at `at`, or (status "failed") an attempt of it that failed. */
export interface RunStep {
  step: string;
  at: Date;
  status?: 'failed';
  error?: string;
}

/** Appends one entry to rotation_runs.steps (in the statement that moves the run on). */
const appendStep = (step: string, at: string): string =>
  `steps = coalesce(steps, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('step', ${step}::text, 'at', ${at}::timestamptz))`;

const parseSteps = (v: unknown): RunStep[] => {
  const list: unknown = typeof v === 'string' ? JSON.parse(v) : v;
  if (!Array.isArray(list)) return [];
  const out: RunStep[] = [];
  for (const e of list as unknown[]) {
    if (typeof e !== 'object' || e === null) continue;
    const { step, at, status, error } = e as Record<string, unknown>;
    const t = typeof at === 'string' ? new Date(at) : null;
    if (typeof step !== 'string' || !t || Number.isNaN(t.getTime())) continue;
    out.push({ step, at: t, ...(status === 'failed' ? { status } : {}), ...(typeof error === 'string' ? { error } : {}) });
  }
  return out;
};

interface Raw {
  id: string;
  mount_id: string | null;
  kind: string;
  target: string;
  schedule: string | null;
  period_seconds: string | number | null;
  paused: boolean;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_status: string | null;
  last_error: string | null;
  run_id: string | null;
  run_slot: Date | null;
  run_kind: 'scheduled' | 'manual' | null;
  step: RotationStep | null;
  pending: Uint8Array | null;
  attempts: number;
  mac: Uint8Array | null;
  grace_seconds: string | number | null;
  retire_at: Date | null;
  retire_path: string | null;
}

const COLUMNS = `id, mount_id, kind, target, schedule, period_seconds, paused, next_run_at, last_run_at, last_status, last_error,
  run_id, run_slot, run_kind, step, pending, attempts, mac, grace_seconds, retire_at, retire_path`;
const date = (d: Date | null): Date | null => (d ? new Date(d) : null);
const toRow = (r: Raw): RotationRow => ({
  id: r.id,
  mountId: r.mount_id,
  kind: r.kind,
  target: r.target,
  schedule: r.schedule,
  periodSeconds: r.period_seconds === null ? null : Number(r.period_seconds),
  paused: r.paused,
  nextRunAt: date(r.next_run_at),
  lastRunAt: date(r.last_run_at),
  lastStatus: r.last_status,
  lastError: r.last_error,
  runId: r.run_id,
  runSlot: date(r.run_slot),
  runKind: r.run_kind,
  step: r.step,
  pending: r.pending ? toBuffer(r.pending) : null,
  attempts: r.attempts,
  mac: r.mac ? toBuffer(r.mac) : null,
  graceSeconds: r.grace_seconds === null ? null : Number(r.grace_seconds),
  retireAt: date(r.retire_at),
  retirePath: r.retire_path,
});

/**
 * A claim is live while its claim_until has not passed AND the claimant's session lock (class 7002, key
 * claim_session) is held by some session: a broker that died (SIGKILL, OOM) frees its claims at once.
 * A backoff (claim_until with no claim_id) is a retry time, not a claim: it is not freed this way.
 */
export const SESSION_LOCK_CLASS = 7002;
/**
 * The furthest ahead the broker ever sets claim_until (a failed step's longest backoff is 10 minutes, a claim 15 s, a
 * retire recheck 5 s): one further ahead was written by someone else, and holding a run (a retire step, say) back on
 * it would let a database writer keep a rotated-out credential alive, so it counts as free.
 */
const CLAIM_HORIZON = "interval '1 hour'";
const claimFree = (now: string): string => `(claim_until IS NULL OR claim_until <= ${now} OR claim_until > ${now}::timestamptz + ${CLAIM_HORIZON}
    OR (claim_id IS NOT NULL AND claim_session IS NOT NULL AND NOT EXISTS (
      SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.classid = ${SESSION_LOCK_CLASS}::oid
        AND l.objid = rotations.claim_session::oid AND l.objsubid = 2 AND l.granted)))`;

export function createRotationsStore() {
  return {
    async upsert(
      q: Queryable,
      r: {
        id: string; mountId: string | null; kind: string; target: string; schedule: string | null; periodSeconds: number | null; nextRunAt: Date | null;
        paused: boolean; graceSeconds: number | null; mac: Buffer | null;
      },
    ): Promise<void> {
      await q.query(
        `INSERT INTO rotations (id, mount_id, kind, target, schedule, period_seconds, next_run_at, paused, mac, grace_seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET schedule = EXCLUDED.schedule, period_seconds = EXCLUDED.period_seconds,
           mount_id = EXCLUDED.mount_id, kind = EXCLUDED.kind, target = EXCLUDED.target, paused = EXCLUDED.paused, mac = EXCLUDED.mac,
           grace_seconds = EXCLUDED.grace_seconds,
           next_run_at = CASE WHEN rotations.schedule IS NOT DISTINCT FROM EXCLUDED.schedule
                               AND rotations.period_seconds IS NOT DISTINCT FROM EXCLUDED.period_seconds
                               AND rotations.next_run_at IS NOT NULL THEN rotations.next_run_at ELSE EXCLUDED.next_run_at END,
           updated_at = now()`,
        [r.id, r.mountId, r.kind, r.target, r.schedule, r.periodSeconds, r.nextRunAt, r.paused, r.mac, r.graceSeconds],
      );
    },
    async remove(q: Queryable, id: string): Promise<void> {
      await q.query(`DELETE FROM rotations WHERE id = $1`, [id]);
    },
    async countForMount(q: Queryable, mountId: string): Promise<number> {
      const r = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM rotations WHERE mount_id = $1', [mountId]);
      return r.rows[0]?.n ?? 0;
    },
    /** A mount's rotations, locked (sys/remount moves them with the mount). */
    async forMountForUpdate(q: Queryable, mountId: string): Promise<RotationRow[]> {
      const r = await q.query<Raw>(`SELECT ${COLUMNS} FROM rotations WHERE mount_id = $1 ORDER BY id FOR UPDATE`, [mountId]);
      return r.rows.map(toRow);
    },
    /** Gives a rotation a new id (its mount moved), its run history with it. */
    async rename(q: Queryable, from: string, to: string, mac: Buffer | null): Promise<void> {
      await q.query(`UPDATE rotations SET id = $2, mac = $3, updated_at = now() WHERE id = $1`, [from, to, mac]);
      await q.query(`UPDATE rotation_runs SET rotation_id = $2 WHERE rotation_id = $1`, [from, to]);
    },
    async removeMount(q: Queryable, mountId: string): Promise<void> {
      await q.query(`DELETE FROM rotations WHERE mount_id = $1`, [mountId]);
    },
    async get(q: Queryable, id: string): Promise<RotationRow | null> {
      const r = await q.query<Raw>(`SELECT ${COLUMNS} FROM rotations WHERE id = $1`, [id]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    async list(q: Queryable): Promise<RotationRow[]> {
      const r = await q.query<Raw>(`SELECT ${COLUMNS} FROM rotations ORDER BY id`);
      return r.rows.map(toRow);
    },
    async setControls(
      q: Queryable,
      id: string,
      c: { schedule?: string | null; periodSeconds?: number | null; nextRunAt?: Date | null; paused?: boolean },
      mac: Buffer | null,
    ): Promise<boolean> {
      const r = await q.query(
        `UPDATE rotations SET
           schedule = CASE WHEN $2::boolean THEN $3 ELSE schedule END,
           period_seconds = CASE WHEN $2::boolean THEN $4::bigint ELSE period_seconds END,
           next_run_at = CASE WHEN $2::boolean THEN $5 ELSE next_run_at END,
           paused = COALESCE($6, paused), mac = $7, updated_at = now()
         WHERE id = $1`,
        [id, c.schedule !== undefined || c.periodSeconds !== undefined, c.schedule ?? null, c.periodSeconds ?? null, c.nextRunAt ?? null, c.paused ?? null, mac],
      );
      return r.rowCount > 0;
    },

    /** Claims due rotations (a new slot is due, or a run waits to be resumed) for this replica until `claimUntil`. */
    async claimDue(q: Queryable, claimId: string, now: Date, claimUntil: Date, limit: number, session: number | null): Promise<RotationRow[]> {
      const r = await q.query<Raw>(
        `UPDATE rotations SET claim_id = $1, claim_until = $3, claim_session = $5
          WHERE id IN (SELECT id FROM rotations
                        WHERE ${claimFree('$2')}
                          -- a run in progress is finished even when paused: its new value may already be live
                          AND (run_id IS NOT NULL OR (NOT paused AND next_run_at <= $2))
                        ORDER BY next_run_at NULLS FIRST LIMIT $4 FOR UPDATE SKIP LOCKED)
          RETURNING ${COLUMNS}`,
        [claimId, now, claimUntil, limit, session],
      );
      return r.rows.map(toRow);
    },
    /** Claims one rotation (run now) unless another replica holds an unexpired claim. */
    async claimOne(q: Queryable, id: string, claimId: string, now: Date, claimUntil: Date, session: number | null): Promise<RotationRow | null> {
      const r = await q.query<Raw>(
        // A failed step's backoff (claim_until with no claim_id) does not hold back an operator's run now.
        `UPDATE rotations SET claim_id = $2, claim_until = $4, claim_session = $5
          WHERE id = $1 AND (claim_id IS NULL OR ${claimFree('$3')}) RETURNING ${COLUMNS}`,
        [id, claimId, now, claimUntil, session],
      );
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    async extendClaim(q: Queryable, id: string, claimId: string, claimUntil: Date): Promise<boolean> {
      const r = await q.query(`UPDATE rotations SET claim_until = $3 WHERE id = $1 AND claim_id = $2`, [id, claimId, claimUntil]);
      return r.rowCount > 0;
    },
    /**
     * Starts a run: sets the first step under this claim and records the run (a scheduled slot only once). Call it in
     * a transaction and roll back unless it returns 'ok'.
     */
    async startRun(
      q: Queryable,
      id: string,
      claimId: string,
      run: { runId: string; slot: Date | null; kind: 'scheduled' | 'manual'; replica: string; now: Date },
    ): Promise<'ok' | 'claim-lost' | 'slot-taken'> {
      const upd = await q.query(
        `UPDATE rotations SET run_id = $3, run_slot = $4, run_kind = $5, step = 'create', pending = NULL, attempts = 0 WHERE id = $1 AND claim_id = $2`,
        [id, claimId, run.runId, run.slot, run.kind],
      );
      if (upd.rowCount === 0) return 'claim-lost';
      const ins = await q.query(
        `INSERT INTO rotation_runs (rotation_id, run_id, slot, kind, replica, started_at, step, steps)
         VALUES ($1, $2, $3, $4, $5, $6, 'create', jsonb_build_array(jsonb_build_object('step', 'create', 'at', $6::timestamptz)))
         ON CONFLICT DO NOTHING`,
        [id, run.runId, run.slot, run.kind, run.replica, run.now],
      );
      return ins.rowCount === 0 ? 'slot-taken' : 'ok';
    },
    /**
     * Persists the next step (and the sealed pending value) before that step's effect; `at` (the broker's clock) goes in
     * the run's steps. One statement: the run's history gets the step only if the rotation moved on under this claim
     * (false: the claim was taken over, e.g. across a failover, and a stale driver must neither record nor go on).
     */
    async advance(q: Queryable, id: string, claimId: string, runId: string, step: RotationStep, at: Date, pending?: Buffer): Promise<boolean> {
      const r = await q.query(
        `WITH moved AS (UPDATE rotations SET step = $4, pending = COALESCE($5, pending), attempts = 0 WHERE id = $1 AND claim_id = $2 AND run_id = $3 RETURNING 1)
         UPDATE rotation_runs SET step = $4, ${appendStep('$4', '$6')} WHERE rotation_id = $1 AND run_id = $3 AND EXISTS (SELECT 1 FROM moved)`,
        [id, claimId, runId, step, pending ?? null, at],
      );
      return r.rowCount > 0;
    },
    /** Ends a run: clears it, records the outcome and the next due time, and lets the claim go (false: the claim was not ours any more). */
    async finishRun(
      q: Queryable,
      id: string,
      claimId: string,
      runId: string,
      f: { status: 'ok' | 'failed'; error: string | null; now: Date; nextRunAt: Date | null; consumers?: RetireRecord | null },
    ): Promise<boolean> {
      const r = await q.query(
        `WITH ended AS (
           UPDATE rotations SET run_id = NULL, run_slot = NULL, run_kind = NULL, step = NULL, pending = NULL, attempts = 0,
                  last_run_at = $4, last_status = $5, last_error = $6, next_run_at = $7, claim_id = NULL, claim_until = NULL,
                  retire_at = NULL, retire_path = NULL, updated_at = now()
            WHERE id = $1 AND claim_id = $2 AND run_id = $3 RETURNING 1)
         UPDATE rotation_runs SET finished_at = $4, status = $5, error = $6, consumers = $8 WHERE rotation_id = $1 AND run_id = $3 AND EXISTS (SELECT 1 FROM ended)`,
        [id, claimId, runId, f.now, f.status, f.error, f.nextRunAt, f.consumers ? JSON.stringify(f.consumers) : null],
      );
      return r.rowCount > 0;
    },
    /** Enters the retire step: the new value is current; the previous one is retired at `retireAt` at the latest (false: the claim was lost). */
    async enterRetire(q: Queryable, id: string, claimId: string, runId: string, r: { retireAt: Date; retirePath: string | null; pending: Buffer; at: Date }): Promise<boolean> {
      const res = await q.query(
        `WITH moved AS (
           UPDATE rotations SET step = 'retire', attempts = 0, retire_at = $4, retire_path = $5, pending = $6, last_status = 'ok', last_error = NULL
            WHERE id = $1 AND claim_id = $2 AND run_id = $3 RETURNING 1)
         UPDATE rotation_runs SET step = 'retire', ${appendStep("'retire'", '$7')} WHERE rotation_id = $1 AND run_id = $3 AND EXISTS (SELECT 1 FROM moved)`,
        [id, claimId, runId, r.retireAt, r.retirePath, r.pending, r.at],
      );
      return res.rowCount > 0;
    },
    /** A retire step that waits: let the claim go; the run is looked at again at `recheckAt` (or when a consumer acknowledges). */
    async waitRetire(q: Queryable, id: string, claimId: string, recheckAt: Date): Promise<void> {
      await q.query(`UPDATE rotations SET claim_id = NULL, claim_until = $3 WHERE id = $1 AND claim_id = $2`, [id, claimId, recheckAt]);
    },
    /** An acknowledgement on `path`: the runs waiting on it are looked at by the next tick. */
    async wakeRetire(q: Queryable, path: string): Promise<void> {
      await q.query(`UPDATE rotations SET claim_until = NULL WHERE retire_path = $1 AND step = 'retire' AND claim_id IS NULL`, [path]);
    },
    async setGrace(q: Queryable, id: string, graceSeconds: number | null, mac: Buffer | null): Promise<void> {
      await q.query(`UPDATE rotations SET grace_seconds = $2, mac = $3, updated_at = now() WHERE id = $1`, [id, graceSeconds, mac]);
    },
    /**
     * A step failed: keep the run where it is, retry after `retryAt`; the run's steps note the failed attempt (at `at`),
     * in the same statement and only while the claim is this driver's (a driver whose claim was taken over writes nothing).
     */
    async stepFailed(q: Queryable, id: string, claimId: string, f: { error: string; retryAt: Date; runId: string; step: string | null; at: Date }): Promise<void> {
      await q.query(
        `WITH failed AS (
           UPDATE rotations SET attempts = attempts + 1, last_error = $3, last_status = 'retrying', claim_id = NULL, claim_until = $4 WHERE id = $1 AND claim_id = $2 RETURNING 1)
         UPDATE rotation_runs SET steps = coalesce(steps, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('step', $6::text, 'at', $7::timestamptz, 'status', 'failed', 'error', $3::text))
          WHERE rotation_id = $1 AND run_id = $5 AND status = 'running' AND $6::text IS NOT NULL AND EXISTS (SELECT 1 FROM failed)`,
        [id, claimId, f.error, f.retryAt, f.runId, f.step, f.at],
      );
    },
    /** A slot that another replica already ran: move on to the next due time. */
    async skipSlot(q: Queryable, id: string, claimId: string, nextRunAt: Date | null): Promise<void> {
      await q.query(`UPDATE rotations SET next_run_at = $3, claim_id = NULL, claim_until = NULL WHERE id = $1 AND claim_id = $2`, [id, claimId, nextRunAt]);
    },
    async release(q: Queryable, id: string, claimId: string): Promise<void> {
      await q.query(`UPDATE rotations SET claim_id = NULL, claim_until = NULL WHERE id = $1 AND claim_id = $2`, [id, claimId]);
    },
    async history(q: Queryable, id: string, limit: number): Promise<RotationRunRow[]> {
      const r = await q.query<{ run_id: string; slot: Date | null; kind: 'scheduled' | 'manual'; replica: string; started_at: Date; finished_at: Date | null; status: RotationRunRow['status']; step: string | null; error: string | null; consumers: RetireRecord | string | null; steps: unknown }>(
        `SELECT run_id, slot, kind, replica, started_at, finished_at, status, step, error, consumers, steps FROM rotation_runs WHERE rotation_id = $1 ORDER BY started_at DESC LIMIT $2`,
        [id, limit],
      );
      return r.rows.map((x) => ({
        runId: x.run_id,
        slot: date(x.slot),
        kind: x.kind,
        replica: x.replica,
        startedAt: new Date(x.started_at),
        finishedAt: date(x.finished_at),
        status: x.status,
        step: x.step,
        error: x.error,
        consumers: typeof x.consumers === 'string' ? (JSON.parse(x.consumers) as RetireRecord) : x.consumers,
        steps: parseSteps(x.steps),
      }));
    },
  };
}

export type RotationsStore = ReturnType<typeof createRotationsStore>;
