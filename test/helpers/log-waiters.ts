/**
 * Waiting for a broker's log line as an event (spawned or in-process broker alike): `seen` is fed every parsed line,
 * `waitFor` resolves true once a matching line is seen (at once if one already was), false after `timeoutMs`.
 * An answer over HTTP can arrive before the log line it caused has been read from a pipe.
 */
export type LogLine = Record<string, unknown>;

export function createLogWaiters(lines: readonly LogLine[]) {
  const waiters = new Set<(line: LogLine) => void>();
  return {
    seen(line: LogLine): void {
      for (const w of waiters) w(line);
    },
    waitFor(match: (line: LogLine) => boolean, timeoutMs = 10_000, ended?: Promise<unknown>): Promise<boolean> {
      if (lines.some(match)) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (found: boolean): void => {
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(found);
        };
        const waiter = (line: LogLine): void => {
          if (match(line)) done(true);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(waiter);
        void ended?.then(() => done(lines.some(match)));
      });
    },
  };
}
