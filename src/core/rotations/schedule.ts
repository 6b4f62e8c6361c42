import cron from 'node-cron';
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

/**
 * node-cron's matcher of a task: the first slot strictly after any date. (The public getNextRuns counts from the wall
 * clock, not from `from`: with an injected clock ahead of it, a slot after `from` would not be found.)
 */
type CronMatcher = { getNextMatch?: (date: Date) => Date };

/** The next due time after `from`: the next cron slot (UTC), or `from + period`. Null: on demand only. */
export function nextDue(schedule: string | null, periodSeconds: number | null, from: Date): Date | null {
  if (schedule) {
    const task = cron.createTask(schedule, () => undefined, { timezone: 'UTC' });
    try {
      const matcher = (task as unknown as { timeMatcher?: CronMatcher }).timeMatcher;
      if (typeof matcher?.getNextMatch === 'function') return matcher.getNextMatch(from);
      return task.getNextRuns(2).find((d) => d.getTime() > from.getTime()) ?? null;
    } finally {
      void task.destroy();
    }
  }
  if (periodSeconds && periodSeconds > 0) return new Date(from.getTime() + periodSeconds * 1000);
  return null;
}
/** Validates a rotation schedule: a cron expression (UTC) or a period of at least 1 s. */
export function checkSchedule(when: { schedule?: string | null; periodSeconds?: number | null }): void {
  if (when.schedule && !cron.validate(when.schedule)) throw badRequest(`rotation_schedule: "${when.schedule.slice(0, 80)}" is not a valid cron expression`);
  if (when.periodSeconds !== undefined && when.periodSeconds !== null && when.periodSeconds < 1) throw badRequest('rotation_period: must be at least 1s');
}
