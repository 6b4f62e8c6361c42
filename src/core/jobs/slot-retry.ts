/**
 * Retrying a scheduled slot through a storage outage (issue 21): a slot whose claim, run or result write met the
 * database being away (a failover, a cut link) is tried again with backoff until shortly before the job's next tick,
 * rather than left unrun, or claimed and `running` for ever.
 */
import { AppError } from '../../lib/errors.ts';
import { isConnectionError } from '../../storage/pg-conn-errors.ts';

/** The database was unreachable or not the primary (a 503 for a request): worth trying again, on this replica. */
export const storageUnavailable = (err: unknown): boolean => (err instanceof AppError && err.code === 'unavailable') || isConnectionError(err);

/** Retries give up this long before the job's next tick (node-cron's noOverlap would block that tick). */
export const RETRY_MARGIN_MS = 1000;
/** …and never go on longer than this after the tick, whatever the schedule (a daily job waits out a long failover). */
export const RETRY_MAX_MS = 10 * 60_000;
/**
 * A slot left `running` by another replica that long ago (and whose job no replica is running: the advisory lock is
 * free) is taken over by a claim of the same slot; a replica retrying its own slot refreshes its claim on each try.
 */
export const CLAIM_LEASE_MS = 2 * 60_000;

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 2000;

export interface SlotRetry {
  /** Waits before the next try; false when there is none (the deadline is near, or the scheduler stops). */
  next(): Promise<boolean>;
}

/**
 * Backoff (100 ms doubling to 2 s) on real time, up to `deadlineOf()` (performance.now milliseconds). `cancelled` is
 * polled and `onCancel` lets stop() cut a wait short.
 */
export function slotRetry(deadlineOf: () => number, cancelled: () => boolean, onCancel: (wake: () => void) => () => void): SlotRetry {
  let delay = FIRST_DELAY_MS;
  // Worked out at the first failure: a slot that never meets an outage pays nothing for it.
  let deadline: number | undefined;
  return {
    async next(): Promise<boolean> {
      deadline ??= deadlineOf();
      const wait = Math.min(delay, deadline - performance.now());
      if (cancelled() || wait <= 0) return false;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
      await new Promise<void>((resolve) => {
        let off = (): void => undefined;
        const timer = setTimeout(() => {
          off();
          resolve();
        }, wait);
        off = onCancel(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      return !cancelled();
    },
  };
}
