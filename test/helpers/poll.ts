// The one condition wait of the tests (issue 16). It waits for a condition a test can observe (an answer of the
// broker, a row of the target database, a file), never for time itself, and it never re-checks on a timer: the
// condition is checked once now, and again each time something that could change it happens:
//   - test/helpers/activity.ts's signal: a broker (spawned or in-process) logged something or exited, an agent
//     printed something, a watched file changed, an SSE chunk or a listened-to NOTIFY arrived;
//   - the caller's own events (`on`): e.g. a request of a load loop completing, a process exiting;
//   - the moments the caller names (`at`) when what it waits for is a moment: a TTL that runs out on the broker's
//     wall clock has no other event than the clock reaching it.
// Between two of these nothing runs (no timer, no query). Checks never overlap: a signal that comes during a check
// runs one more check after it. The deadline only turns a wait that never ends into a failure that names what
// was expected. Prefer an event of its own where the caller has one (b.waitForLogLine, whenOutput, an SSE
// stream's waitFor).
import { onActivity } from './activity.ts';

/** Something that can wake a wait: subscribe `wake`, return the unsubscribe. */
export type Wake = (wake: () => void) => () => void;

export interface PollOptions {
  /** Fail after this long. Default 30 s. */
  timeoutMs?: number;
  /** Events of the caller that can change the condition, besides the activity signal. */
  on?: Wake[];
  /** Wall-clock moments (ms since the epoch) at which the condition is due to change: it is checked then too. */
  at?: number[];
  /** Extra text for the failure message (e.g. the broker's last log lines). */
  context?: () => string;
}

/** A Wake for an EventEmitter-like source's event. */
export function wakeOn(source: { on(e: string, f: () => void): unknown; off(e: string, f: () => void): unknown }, event: string): Wake {
  return (wake) => {
    source.on(event, wake);
    return () => source.off(event, wake);
  };
}

/**
 * Checks `check` until it yields a truthy value and returns that value. A check that throws counts as "not yet";
 * its last error goes in the failure message.
 */
export function pollUntil<T>(what: string, check: () => Promise<T | null | undefined | false> | T | null | undefined | false, opts: PollOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let running = false;
    let again = false;
    let last: unknown;
    const timers: NodeJS.Timeout[] = [];
    const unsubscribe: (() => void)[] = [];
    const finish = (err: Error | undefined, value?: T): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      for (const u of unsubscribe) u();
      if (err) reject(err);
      else resolve(value as T);
    };
    const wake = (): void => {
      if (done) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      void (async () => {
        try {
          do {
            again = false;
            try {
              const v = await check();
              if (v) return finish(undefined, v);
            } catch (err) {
              last = err;
            }
          } while (again && !done);
        } finally {
          running = false;
        }
      })();
    };
    timers.push(
      setTimeout(() => {
        const why = last === undefined ? '' : ` (last error: ${last instanceof Error ? last.message : String(last)})`;
        finish(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${why}${opts.context ? `\n${opts.context()}` : ''}`));
      }, timeoutMs),
    );
    for (const at of opts.at ?? []) timers.push(setTimeout(wake, Math.max(0, at - Date.now() + 1)));
    unsubscribe.push(onActivity(wake));
    for (const w of opts.on ?? []) unsubscribe.push(w(wake));
    wake();
  });
}
