// The one polling loop of the tests (issue 16). A poll waits for a condition a test can observe (an answer of the
// broker, a row of the target database, a replication state), never for time itself: it returns as soon as the
// condition holds, and the deadline only turns a wait that never ends into a failure that names what was expected.
// Prefer an event where there is one (b.waitForLogLine, whenOutput, an SSE stream's waitFor); poll what has none.
import { setTimeout as wait } from 'node:timers/promises';

export interface PollOptions {
  /** Fail after this long. Default 30 s. */
  timeoutMs?: number;
  /** Between two checks. Default 50 ms. */
  everyMs?: number;
  /** Extra text for the failure message (e.g. the broker's last log lines). */
  context?: () => string;
}

/**
 * Checks `check` until it yields a truthy value and returns that value. A check that throws counts as "not yet";
 * its last error goes in the failure message.
 */
export async function pollUntil<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, opts: PollOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const everyMs = opts.everyMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const why = last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${why}${opts.context ? `\n${opts.context()}` : ''}`);
    }
    await wait(everyMs);
  }
}
