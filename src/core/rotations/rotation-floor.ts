/**
 * The shortest interval between two runs of a rotation anyone may set through the API (`rotation_min_interval`,
 * default 1 minute): a tenant must not be able to make the broker rotate, and hit a target, every second.
 */
import { cronSlotsAfter } from '../../lib/cron-next.ts';
import { badRequest } from '../../lib/errors.ts';

/** How many upcoming slots of a cron expression are looked at: its short gaps show within its first repetitions. */
const SAMPLE = 60;

/** The shortest gap, in seconds, between the next runs of a (valid) cron expression, UTC. */
export function shortestCronGap(schedule: string, from: Date): number {
  const runs = cronSlotsAfter(schedule, from, SAMPLE).map((d) => d.getTime());
  let gap = Infinity;
  for (let i = 1; i < runs.length; i++) gap = Math.min(gap, ((runs[i] ?? 0) - (runs[i - 1] ?? 0)) / 1000);
  return gap;
}

/** A 400 naming the floor when a schedule or period would run more often than every `minSeconds`. */
export function checkRotationFloor(when: { schedule?: string | null; periodSeconds?: number | null }, minSeconds: number, from: Date): void {
  if (minSeconds <= 0) return;
  const floor = `rotations must be at least ${minSeconds}s apart (the broker's rotation_min_interval)`;
  if (when.schedule) {
    const gap = shortestCronGap(when.schedule, from);
    if (gap < minSeconds) throw badRequest(`schedule: "${when.schedule.slice(0, 80)}" runs ${gap}s apart, but ${floor}`);
  }
  if (when.periodSeconds !== undefined && when.periodSeconds !== null && when.periodSeconds > 0 && when.periodSeconds < minSeconds) {
    throw badRequest(`period: ${when.periodSeconds}s is too short: ${floor}`);
  }
}
