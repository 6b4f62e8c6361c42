import cron from 'node-cron';
import { nextCronSlot } from '../../lib/cron-next.ts';
import { badRequest } from '../../lib/errors.ts';

/** No step may hold a rotation forever (a lock wait on the target, a login that never answers). */
const STEP_TIMEOUT_MS = 60_000;

/** Rejects if `p` has not settled within STEP_TIMEOUT_MS. */
export function withTimeout<T>(p: Promise<T>, step: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the ${step} step did not finish within ${STEP_TIMEOUT_MS / 1000} s`)), STEP_TIMEOUT_MS);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/** The next due time after `from`: the next cron slot (UTC), or `from + period`. Null: on demand only. */
export function nextDue(schedule: string | null, periodSeconds: number | null, from: Date): Date | null {
  // From `from` (the broker's clock), not from the wall clock as node-cron's getNextRuns counts.
  if (schedule) return nextCronSlot(schedule, from);
  if (periodSeconds && periodSeconds > 0) return new Date(from.getTime() + periodSeconds * 1000);
  return null;
}
/** Validates a rotation schedule: a cron expression (UTC) or a period of at least 1 s. */
export function checkSchedule(when: { schedule?: string | null; periodSeconds?: number | null }): void {
  if (when.schedule && !cron.validate(when.schedule)) throw badRequest(`rotation_schedule: "${when.schedule.slice(0, 80)}" is not a valid cron expression`);
  if (when.periodSeconds !== undefined && when.periodSeconds !== null && when.periodSeconds < 1) throw badRequest('rotation_period: must be at least 1s');
}
