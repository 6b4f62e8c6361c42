/**
 * Rotation schedules as the database engine accepts them: a cron expression in UTC (`rotation_schedule`, five
 * fields or six with seconds) or a fixed period (`rotation_period`). Core stores and runs them; the engine only
 * validates them up front (a clear 400 before anything is written) and works out `ttl` for reads.
 */
import cron from 'node-cron';
import { nextCronSlot } from '../../lib/cron-next.ts';
import { badRequest } from '../../lib/errors.ts';
import { parseDuration } from '../../lib/durations.ts';

/** Vault's shortest rotation_period for static roles. */
export const MIN_PERIOD_SECONDS = 5;

export interface RotationWhen {
  /** '' when the rotation runs on a period (or only on demand). */
  schedule: string;
  /** 0 when the rotation runs on a schedule (or only on demand). */
  periodSeconds: number;
}

/** Checks a cron expression; '' means none. */
export function checkCron(expr: string, field: string): string {
  const s = expr.trim();
  if (s !== '' && !cron.validate(s)) throw badRequest(`${field}: "${s.slice(0, 80)}" is not a valid cron expression (five fields, or six with seconds; UTC)`);
  return s;
}

/**
 * Merges the given schedule fields over the stored ones. Giving one replaces the other; giving both is a 400.
 * An empty schedule or a zero period clears it.
 */
export function applyWhen(
  stored: RotationWhen,
  input: { schedule?: string; period?: string | number },
  fields: { schedule: string; period: string },
  minPeriod = MIN_PERIOD_SECONDS,
): RotationWhen {
  const hasSchedule = input.schedule !== undefined && input.schedule.trim() !== '';
  const hasPeriod = input.period !== undefined && String(input.period).trim() !== '' && String(input.period).trim() !== '0';
  if (hasSchedule && hasPeriod) throw badRequest(`${fields.schedule} and ${fields.period} are mutually exclusive: give one`);
  if (hasSchedule) return { schedule: checkCron(input.schedule ?? '', fields.schedule), periodSeconds: 0 };
  if (hasPeriod) {
    const periodSeconds = parseDuration(input.period, fields.period);
    if (periodSeconds < minPeriod) throw badRequest(`${fields.period}: must be at least ${minPeriod} seconds`);
    return { schedule: '', periodSeconds };
  }
  // Empty values clear what they name.
  return { schedule: input.schedule !== undefined ? '' : stored.schedule, periodSeconds: input.period !== undefined ? 0 : stored.periodSeconds };
}

/** The next run after `from`: the next cron slot (UTC), or `since + period`. Null when neither is set. */
export function nextRun(when: RotationWhen, since: Date | null, from: Date): Date | null {
  if (when.schedule !== '') return nextCronSlot(when.schedule, from);
  if (when.periodSeconds > 0) return new Date((since ?? from).getTime() + when.periodSeconds * 1000);
  return null;
}

/** What core's registry takes. */
export const registryWhen = (w: RotationWhen): { schedule?: string; periodSeconds?: number } =>
  w.schedule !== '' ? { schedule: w.schedule } : w.periodSeconds > 0 ? { periodSeconds: w.periodSeconds } : {};
