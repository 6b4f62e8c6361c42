/**
 * Rotations (DESIGN §6, issue 7): a persisted state machine after AWS Secrets Manager's four steps. For each run:
 *   create: the target makes the pending value; it is sealed and stored with step=set BEFORE anything changes;
 *   set:    the target applies it (ALTER ROLE …);              then step=test is stored;
 *   test:   the target proves it works (logs in);              then step=finish is stored;
 *   finish: the target makes pending current; the run is closed and the next due time computed.
 * A crash anywhere resumes from the stored step (steps are idempotent), on this replica or another once the claim
 * ends. Due rotations are claimed with FOR UPDATE SKIP LOCKED, and a scheduled slot is recorded once in
 * rotation_runs, so each slot runs on one replica.
 */
import { AppError } from '../../lib/errors.ts';
import type { Queryable } from '../../storage/db.ts';
import { SESSION_LOCK_CLASS, type RetireRecord, type RotationRow, type RotationStep } from '../../storage/rotations-store.ts';
import type { MountInfo, RotationContext, RotationRegistry } from '../engine.ts';
import { rowIntegrityError } from '../integrity/row-mac.ts';
import { rotationFields } from '../integrity/rows.ts';
import { decideRetire, mountPrefix } from '../consumers/retire-step.ts';
import { checkRotationFloor } from './rotation-floor.ts';
import { sealedRetire, withRetire } from './retire-seal.ts';
import { moveMountRotations } from './move-mount.ts';
import { checkSchedule, nextDue, withTimeout } from './schedule.ts';
export { checkSchedule, nextDue } from './schedule.ts';
export { failpointsFrom } from './failpoints.ts';
import { CONTEXTS } from '../barrier/contexts.ts';

import type { RotationManagerDeps } from './manager-deps.ts';
export type { RotationManagerDeps } from './manager-deps.ts';

/** A rotation whose row fails its integrity check is not run; it is looked at again after this long. */
const TAMPERED_RETRY_MS = 3600_000;

/**
 * A claim is short and kept alive by a heartbeat while its run is driven, so that the run of a replica that died
 * (SIGKILL, OOM) is resumed elsewhere, or after a restart, within CLAIM_SECONDS rather than minutes later.
 */
const CLAIM_SECONDS = 15;
const HEARTBEAT_MS = 4000;
const MAX_FAST_ATTEMPTS = 5;
const ERROR_CHARS = 500;
const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, ERROR_CHARS) || 'failed';
const ctxOf = CONTEXTS.rotations;

/** A step's write found the claim no longer this driver's (taken over, e.g. across a failover): stop, record nothing. */
class ClaimLost extends Error {}
const mine = (moved: boolean): void => {
  if (!moved) throw new ClaimLost('claim lost');
};

class NotStarted extends Error {
  constructor(readonly reason: 'claim-lost' | 'slot-taken') {
    super(reason);
  }
}

export function createRotationManager(deps: RotationManagerDeps) {
  const { db, store } = deps;
  /**
   * This process's session lock (issue 20 item 6): every claim records its key, and a claim whose key no session
   * holds any more (its broker died) is free at once. Without the lock (it could not be taken) claims lapse as before.
   */
  const sessionKey = 1 + (deps.random.bytes(4).readUInt32BE(0) % 0x7ffffffe);
  // Asked at each claim, not once: after a failover the lock must be held on the new primary before a claim records
  // its key, or another replica would see a live claim as a dead broker's (the store answers at once while it holds).
  const claimSession = (): Promise<number | null> =>
    db.holdSessionLock(SESSION_LOCK_CLASS, sessionKey).then(
      () => sessionKey,
      (err: Error) => {
        deps.log.warn({ err: err.message }, 'could not take the rotation session lock; claims of a dead broker lapse after their time');
        return null;
      },
    );
  const now = (): Date => deps.clock.now();
  /** Every schedule that comes through the API: valid, and not more often than the floor. */
  const checkApiSchedule = (when: { schedule?: string | null; periodSeconds?: number | null }): void => {
    checkSchedule(when);
    checkRotationFloor(when, deps.minIntervalSeconds ?? 0, now());
  };

  function failpoint(name: string): void {
    if (deps.failpoints.has(name)) {
      deps.log.warn({ failpoint: name }, 'test failpoint: killing the process');
      process.kill(process.pid, 'SIGKILL');
    }
  }

  const sealPending = (id: string, value: Record<string, unknown>): Buffer => deps.barrier.encrypt(ctxOf(id), Buffer.from(JSON.stringify(value), 'utf8')).sealed;

  async function openPending(row: RotationRow): Promise<Record<string, unknown>> {
    if (!row.pending) throw new Error('the pending value is missing');
    const plain = await deps.barrier.decrypt(ctxOf(row.id), row.pending);
    return JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
  }

  /** The next due time from the schedule as stored now: an operator may have changed it while the run went on. */
  async function nextDueNow(id: string, from: Date): Promise<Date | null> {
    const row = await store.get(db, id);
    return row ? nextDue(row.schedule, row.periodSeconds, from) : null;
  }

  /** Drives one claimed rotation from its stored step to the end. Returns the outcome; never throws. */
  async function drive(row: RotationRow, claimId: string, kind: 'scheduled' | 'manual', forceRetire = false): Promise<'ok' | 'failed' | 'skipped'> {
    if (!deps.rowMac.ok('rotations', rotationFields(row), row.mac, row.id)) {
      await store.skipSlot(db, row.id, claimId, new Date(now().getTime() + TAMPERED_RETRY_MS)).catch(() => undefined);
      return 'failed';
    }
    let current = row;
    if (!current.runId) {
      const runId = deps.random.uuid();
      const slot = kind === 'scheduled' ? current.nextRunAt : null;
      const run = { runId, slot, kind, replica: deps.replicaId, now: now() };
      const started = await db
        .tx(async (q) => {
          const r = await store.startRun(q, current.id, claimId, run);
          if (r !== 'ok') throw new NotStarted(r);
          return r;
        })
        .catch((err: unknown) => {
          if (err instanceof NotStarted) return err.reason;
          throw err;
        });
      if (started === 'slot-taken') await store.skipSlot(db, current.id, claimId, await nextDueNow(current.id, now()));
      if (started !== 'ok') return 'skipped';
      current = { ...current, runId, runSlot: slot, runKind: kind, step: 'create', pending: null };
    }
    const runId = current.runId as string;
    const target = deps.targetFor(current.mountId, current.kind);
    const ctx: RotationContext = { id: current.id, target: current.target, runId };
    let finished = false;
    /** The drive only closed a retire step begun earlier: the run was already reported when its value went live. */
    const retireOnly = current.step === 'retire';
    let failedStep: RotationStep | null = current.step;
    let failedError: string | null = null;
    const heartbeat = setInterval(() => {
      void store.extendClaim(db, current.id, claimId, new Date(now().getTime() + CLAIM_SECONDS * 1000)).catch(() => undefined);
    }, HEARTBEAT_MS);
    heartbeat.unref();
    try {
      if (!target) throw new Error(`nothing rotates "${current.kind}" here (was the mount removed?)`);
      let step: RotationStep | null = current.step ?? 'create';
      let pending: Record<string, unknown> | null = step === 'create' ? null : await openPending(current);
      while (step) {
        // A claim that lapsed (this process stalled) may be driven elsewhere by now: stop rather than run a step twice at once.
        if (!(await store.extendClaim(db, current.id, claimId, new Date(now().getTime() + CLAIM_SECONDS * 1000)))) {
          deps.log.warn({ rotation: current.id, run_id: runId }, 'rotation claim lost; leaving the run to its new owner');
          return 'skipped';
        }
        failedStep = step;
        switch (step) {
          case 'create': {
            pending = await withTimeout(target.create(ctx), 'create');
            mine(await store.advance(db, current.id, claimId, runId, 'set', now(), sealPending(current.id, pending)));
            failpoint('rotation:after-create');
            step = 'set';
            break;
          }
          case 'set':
            await withTimeout(target.set(ctx, pending ?? {}), 'set');
            failpoint('rotation:after-set-before-persist');
            mine(await store.advance(db, current.id, claimId, runId, 'test', now()));
            failpoint('rotation:after-set');
            step = 'test';
            break;
          case 'test':
            await withTimeout(target.test(ctx, pending ?? {}), 'test');
            mine(await store.advance(db, current.id, claimId, runId, 'finish', now()));
            failpoint('rotation:after-test');
            step = 'finish';
            break;
          case 'finish': {
            await withTimeout(target.finish(ctx, pending ?? {}), 'finish');
            failpoint('rotation:after-finish-before-persist');
            const t = now();
            const grace = current.graceSeconds ?? deps.defaultGraceSeconds ?? 0;
            const consumerPath = target.retire && grace > 0 && deps.consumers ? target.consumerPath : undefined;
            if (consumerPath && ((await target.retires?.(ctx, pending ?? {})) ?? true)) {
              const retirePath = `${mountPrefix(current.id, current.kind, current.target)}${consumerPath(current.target)}`;
              const retireAt = new Date(t.getTime() + grace * 1000);
              pending = withRetire(pending ?? {}, retireAt, retirePath);
              mine(await store.enterRetire(db, current.id, claimId, runId, { retireAt, retirePath, pending: sealPending(current.id, pending), at: t }));
              failpoint('rotation:after-finish');
              step = 'retire';
              break;
            }
            mine(await store.finishRun(db, current.id, claimId, runId, { status: 'ok', error: null, now: t, nextRunAt: await nextDueNow(current.id, t) }));
            step = null;
            break;
          }
          case 'retire': {
            const t = now();
            const version = typeof pending?.version === 'number' ? pending.version : 0;
            const sealed = sealedRetire(pending);
            const decision = await decideRetire(deps.consumers ?? null, {
              path: sealed.path,
              version,
              // A run that entered retire before the deadline was sealed (an older broker) retires now.
              retireAt: sealed.at ?? t,
              now: t,
              force: forceRetire,
            });
            if (decision.act === 'wait') {
              await store.waitRetire(db, current.id, claimId, decision.recheckAt);
              step = null;
              break;
            }
            if (decision.act === 'retire' && target.retire) {
              await withTimeout(target.retire(ctx, pending ?? {}), 'retire');
              failpoint('rotation:after-retire-before-persist');
            }
            const record: RetireRecord = decision.record;
            mine(await store.finishRun(db, current.id, claimId, runId, { status: 'ok', error: null, now: t, nextRunAt: await nextDueNow(current.id, t), consumers: record }));
            deps.log.info({ rotation: current.id, run_id: runId, retired: decision.act === 'retire', reason: record.reason }, 'rotation retire step done');
            step = null;
            break;
          }
        }
      }
      deps.log.info({ rotation: current.id, run_id: runId }, 'rotation finished');
      finished = true;
      return 'ok';
    } catch (err) {
      if (err instanceof ClaimLost) {
        deps.log.warn({ rotation: current.id, run_id: runId }, 'rotation claim lost; leaving the run to its new owner');
        return 'skipped';
      }
      const error = errorText(err);
      failedError = error;
      const attempts = current.attempts + 1;
      // Keep the run at its step (nothing is rolled back: the pending value may already be live) and retry with backoff.
      const delayMs = attempts >= MAX_FAST_ATTEMPTS ? 10 * 60_000 : Math.min(60_000, 1000 * 2 ** attempts);
      const t = now();
      await store.stepFailed(db, current.id, claimId, { error, retryAt: new Date(t.getTime() + delayMs), runId, step: failedStep, at: t }).catch(() => undefined);
      deps.log.warn({ rotation: current.id, run_id: runId, step: current.step, attempts, err: error }, 'rotation step failed; will retry');
      return 'failed';
    } finally {
      clearInterval(heartbeat);
      // Outside the try: a failed notification must not turn a finished rotation into a failed one.
      const report = failedError !== null || (finished && !retireOnly);
      if (finished && !retireOnly) await deps.publish({ type: 'rotation/finished', path: current.id }).catch(() => undefined);
      if (report) deps.observe?.(current.kind, finished ? 'ok' : 'failed');
      if (report)
        await deps
          .audit?.({ id: current.id, runId, kind, status: finished ? 'ok' : 'failed', step: finished ? null : failedStep, error: failedError })
          .catch((err: Error) => deps.log.error({ rotation: current.id, err: err.message }, 'could not audit a rotation run'));
    }
  }

  const sign = (r: Parameters<typeof rotationFields>[0]): Buffer | null => deps.rowMac.sign('rotations', rotationFields(r));

  /** Creates or re-registers a rotation, signed; it stays paused only if its checked row says so. */
  async function upsert(r: { id: string; mountId: string | null; kind: string; target: string; schedule: string | null; periodSeconds: number | null; nextRunAt: Date | null }): Promise<void> {
    const existing = await store.get(db, r.id);
    const trusted = existing !== null && deps.rowMac.ok('rotations', rotationFields(existing), existing.mac, existing.id);
    // Pause and grace survive a re-registration only from a row that passes its check (else: running, broker default).
    const paused = trusted && existing.paused;
    const graceSeconds = trusted ? existing.graceSeconds : null;
    await store.upsert(db, { ...r, paused, graceSeconds, mac: sign({ ...r, paused, graceSeconds }) });
  }

  /** Runs a rotation now (rotate-role, sys/rotations/:id/run), waiting for a run in progress elsewhere. */
  async function runNow(id: string): Promise<'ok' | 'failed'> {
    const claimId = deps.random.uuid();
    const sessionId = await claimSession();
    for (let waited = 0; ; waited += 200) {
      const t = now();
      const row = await store.claimOne(db, id, claimId, t, new Date(t.getTime() + CLAIM_SECONDS * 1000), sessionId);
      if (row) {
        if (!deps.rowMac.ok('rotations', rotationFields(row), row.mac, row.id)) {
          await store.release(db, id, claimId);
          throw rowIntegrityError();
        }
        // A run waiting to retire its previous value is closed now (a new rotation is asked for), then the new run starts.
        const retiring = row.step === 'retire';
        // A run already in progress (e.g. interrupted) is finished first: that is the rotation asked for.
        const outcome = await drive(row, claimId, row.runKind ?? 'manual', retiring);
        if (retiring && outcome === 'ok') continue;
        return outcome === 'skipped' ? 'failed' : outcome;
      }
      if (!(await store.get(db, id))) throw new AppError('not_found', '');
      if (waited >= 30_000) throw new AppError('unavailable', `rotation "${id.slice(0, 200)}" is running elsewhere; try again`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  return {
    /** The scheduler's shared `rotations` job: claims due rotations and drives them. */
    async tick(limit = 8): Promise<void> {
      const claimId = deps.random.uuid();
      const t = now();
      const rows = await store.claimDue(db, claimId, t, new Date(t.getTime() + CLAIM_SECONDS * 1000), limit, await claimSession());
      for (const row of rows) await drive(row, claimId, row.runKind ?? 'scheduled');
    },

    runNow,

    list: () => store.list(db),
    async get(id: string): Promise<RotationRow | null> {
      const row = await store.get(db, id);
      if (row) deps.rowMac.verify('rotations', rotationFields(row), row.mac, row.id);
      return row;
    },
    history: (id: string, limit: number) => store.history(db, id, limit),
    /** A run in its retire step: the consumers it waits for (sys/rotations/:id). */
    async retireView(row: RotationRow): Promise<{ path: string; version: number; acknowledged: string[]; pending: string[] } | null> {
      if (row.step !== 'retire' || !deps.consumers) return null;
      const pending = await openPending(row);
      const { path } = sealedRetire(pending);
      if (!path) return null;
      const version = typeof pending.version === 'number' ? pending.version : 0;
      const s = await deps.consumers.standing(path, version);
      const name = (c: { accessor: string; identity: string | null }) => c.identity ?? c.accessor;
      return { path, version, acknowledged: s.acknowledged.map(name), pending: s.pending.map(name) };
    },
    defaultGraceSeconds: deps.defaultGraceSeconds ?? 0,
    /** The retire step's grace of one rotation (null: the broker default; 0: no retirement). */
    async setGrace(id: string, graceSeconds: number | null): Promise<void> {
      const row = await store.get(db, id);
      if (!row) throw new AppError('not_found', '');
      deps.rowMac.verify('rotations', rotationFields(row), row.mac, row.id);
      await store.setGrace(db, id, graceSeconds, sign({ ...row, graceSeconds }));
    },
    /** An acknowledgement arrived on `path`: the runs that wait on it are looked at by the next tick. */
    wakeRetire: (path: string) => store.wakeRetire(db, path),

    async setControls(id: string, c: { schedule?: string | null; paused?: boolean }): Promise<boolean> {
      const row = await store.get(db, id);
      if (!row) return false;
      deps.rowMac.verify('rotations', rotationFields(row), row.mac, row.id);
      const paused = c.paused ?? row.paused;
      if (c.schedule !== undefined) {
        checkApiSchedule({ schedule: c.schedule });
        const periodSeconds = c.schedule ? null : row.periodSeconds;
        const mac = sign({ ...row, schedule: c.schedule, periodSeconds, paused });
        return store.setControls(db, id, { schedule: c.schedule, periodSeconds, nextRunAt: nextDue(c.schedule, periodSeconds, now()), paused: c.paused }, mac);
      }
      return store.setControls(db, id, { paused: c.paused }, sign({ ...row, paused }));
    },

    /** The registry an engine of `mount` uses: its rotations are `<mount path><kind>/<target>`. */
    registryFor(mount: MountInfo): RotationRegistry {
      const idOf = (kind: string, target: string) => `${mount.path}${kind}/${target}`;
      return {
        check: checkApiSchedule,
        async upsert(kind, target, when) {
          checkApiSchedule(when);
          const schedule = when.schedule ?? null;
          const periodSeconds = when.periodSeconds ?? null;
          await upsert({ id: idOf(kind, target), mountId: mount.id, kind, target, schedule, periodSeconds, nextRunAt: nextDue(schedule, periodSeconds, now()) });
        },
        remove: (kind, target) => store.remove(db, idOf(kind, target)),
        runNow: async (kind, target) => {
          const outcome = await runNow(idOf(kind, target));
          if (outcome !== 'ok') {
            const row = await store.get(db, idOf(kind, target));
            throw new AppError('bad_request', `rotation failed: ${row?.lastError ?? 'unknown error'}; it will be retried`);
          }
        },
        nextRun: async (kind, target) => {
          const row = await store.get(db, idOf(kind, target));
          return row ? row.nextRunAt : null;
        },
        inFlight: async (kind, target) => {
          const row = await store.get(db, idOf(kind, target));
          if (!row?.runId || !row.step || !row.pending) return null;
          const pending = await openPending(row);
          return { step: row.step, pending, retireAt: row.step === 'retire' ? sealedRetire(pending).at : null };
        },
        lastRotated: async (kind, target) => {
          const row = await store.get(db, idOf(kind, target));
          return row?.lastStatus === 'ok' ? row.lastRunAt : (row?.lastRunAt ?? null);
        },
      };
    },

    /** Drops a removed mount's rotations. */
    forgetMount: (mountId: string): Promise<void> => store.removeMount(db, mountId),
    moveMount: (q: Queryable, mountId: string, fromPath: string, toPath: string): Promise<void> => moveMountRotations({ store, rowMac: deps.rowMac }, q, mountId, fromPath, toPath),

    /** Creates a core rotation (the keyring) if it does not exist yet. */
    async ensureCore(id: string, kind: string, schedule: string | null): Promise<void> {
      checkSchedule({ schedule });
      // Without a configured schedule, keep whatever an operator set through sys/rotations.
      if (schedule === null && (await store.get(db, id))) return;
      await upsert({ id, mountId: null, kind, target: kind, schedule, periodSeconds: null, nextRunAt: nextDue(schedule, null, now()) });
    },
  };
}

export type RotationManager = ReturnType<typeof createRotationManager>;
