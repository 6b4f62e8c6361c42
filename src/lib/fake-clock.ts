import type { Clock } from './clock.ts';

/** A Clock that moves only when told to: for tests (pass it as buildApp's `clock`, then advance and kick a job). */
export interface FakeClock extends Clock {
  /** Moves time forward by `ms` (>= 0) and returns the new now. */
  advance(ms: number): Date;
  /** Moves time forward by `seconds`; shorthand for advance(seconds * 1000). */
  advanceSeconds(seconds: number): Date;
  /** Sets now to `to`; going backwards is allowed only with `{ backwards: true }` (a clock step, as NTP may do). */
  set(to: Date | string | number, opts?: { backwards?: boolean }): Date;
}

const DEFAULT_START = Date.UTC(2030, 0, 1, 0, 0, 0);

export function createFakeClock(start: Date | string | number = DEFAULT_START): FakeClock {
  const toMs = (t: Date | string | number): number => {
    const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Date.parse(t) : t;
    if (!Number.isFinite(ms)) throw new RangeError(`fake clock: not a time: ${String(t)}`);
    return ms;
  };
  let current = toMs(start);
  return {
    // A new Date each time: a caller that mutates what it got does not move the clock.
    now: () => new Date(current),
    advance(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`fake clock: cannot advance by ${ms} ms`);
      current += ms;
      return new Date(current);
    },
    advanceSeconds(seconds) {
      return this.advance(seconds * 1000);
    },
    set(to, opts) {
      const ms = toMs(to);
      if (ms < current && !opts?.backwards) throw new RangeError('fake clock: set() would go backwards; pass { backwards: true } to mean it');
      current = ms;
      return new Date(current);
    },
  };
}
