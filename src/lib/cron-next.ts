/**
 * The slots of a cron expression (UTC) after a given instant. node-cron's `getNextRuns` counts from the wall clock
 * (`new Date()`), but the broker's time is its injected clock (src/lib/clock.ts), which a test moves ahead of the
 * wall clock: slots are computed here from that time, with node-cron's own parser and matcher.
 */
import cron from 'node-cron';

/** How far ahead a slot is looked for: a 29 February can be eight years away (1900 and 2100 are not leap years). */
const MAX_DAYS = 366 * 8 + 2;
const DAY_MS = 86_400_000;

/** Up to `count` slots of `schedule` (a valid cron expression, UTC) strictly after `from`, earliest first. */
export function cronSlotsAfter(schedule: string, from: Date, count: number): Date[] {
  const fields = cron.parse(schedule);
  const asc = (v: (number | string)[]) => v.filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
  const [hours, minutes, seconds] = [asc(fields.hour), asc(fields.minute), asc(fields.second)];
  const months = new Set(fields.month);
  const task = cron.createTask(schedule, () => undefined, { timezone: 'UTC' });
  const runs: Date[] = [];
  try {
    const fromMs = Math.floor(from.getTime() / 1000) * 1000;
    const firstDay = Math.floor(fromMs / DAY_MS) * DAY_MS;
    for (let d = 0; d < MAX_DAYS && runs.length < count; d++) {
      const day = firstDay + d * DAY_MS;
      if (!months.has(new Date(day).getUTCMonth() + 1)) continue;
      // A day matches (month, day of month, day of week) at its first listed time iff it matches at every listed time.
      const first = day + ((hours[0] ?? 0) * 3600 + (minutes[0] ?? 0) * 60 + (seconds[0] ?? 0)) * 1000;
      if (!task.match(new Date(first))) continue;
      for (const h of hours)
        for (const m of minutes)
          for (const s of seconds) {
            const at = day + (h * 3600 + m * 60 + s) * 1000;
            if (at <= fromMs) continue;
            runs.push(new Date(at));
            if (runs.length >= count) return runs;
          }
    }
    return runs;
  } finally {
    void task.destroy();
  }
}

/** The first slot of `schedule` (UTC) after `from`, or null if none comes within the years looked at. */
export function nextCronSlot(schedule: string, from: Date): Date | null {
  return cronSlotsAfter(schedule, from, 1)[0] ?? null;
}
