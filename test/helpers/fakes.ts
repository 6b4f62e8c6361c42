// A fake clock and a seeded source of randomness for in-process tests (test/helpers/app.ts, engine-harness.ts).
import { createHash } from 'node:crypto';
import type { Clock } from '../../src/lib/clock.ts';
import type { Random } from '../../src/lib/random.ts';

/** A clock that moves only when the test moves it. */
export interface FakeClock extends Clock {
  /** Moves the clock forward by `ms` (never backward) and returns the new time. */
  advance(ms: number): Date;
  /** Sets the clock to `t` and returns it. */
  set(t: Date | number): Date;
}

export function createFakeClock(start: Date | number = Date.now()): FakeClock {
  let t = typeof start === 'number' ? start : start.getTime();
  return {
    now: () => new Date(t),
    advance(ms: number): Date {
      if (!Number.isFinite(ms) || ms < 0) throw new Error(`FakeClock.advance: ${ms} is not a forward step`);
      t += ms;
      return new Date(t);
    },
    set(to: Date | number): Date {
      t = typeof to === 'number' ? to : to.getTime();
      return new Date(t);
    },
  };
}

export interface SeededRandom extends Random {
  readonly seed: string;
}

/**
 * Deterministic bytes from a seed: SHA-256 of (seed, block counter), concatenated. The same seed gives the same keys,
 * tokens and ids, so a failure replays with `startApp({ seed })`. For tests only: nothing here is secret.
 */
export function createSeededRandom(seed: string): SeededRandom {
  let block = 0;
  let pool = Buffer.alloc(0);
  const bytes = (n: number): Buffer => {
    const parts: Buffer[] = [pool];
    let have = pool.length;
    while (have < n) {
      const b = createHash('sha256').update(seed).update(':').update(String(block++)).digest();
      parts.push(b);
      have += b.length;
    }
    const all = Buffer.concat(parts);
    pool = all.subarray(n);
    // A copy: callers zero key buffers they stop using, which must not touch the pool.
    return Buffer.from(all.subarray(0, n));
  };
  return {
    seed,
    bytes,
    uuid(): string {
      const b = bytes(16);
      b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
      b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
      const h = b.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
  };
}
