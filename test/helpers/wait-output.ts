// Waiting for something a process says, instead of sleeping (issue 16): each check runs when output arrives, and
// the only timer is the deadline that turns a wait that never ends into a failure naming what was expected.
import type { Readable } from 'node:stream';
import { clearTimeout, setTimeout } from 'node:timers';
import type { Broker } from './broker.ts';

const DEFAULT_DEADLINE_MS = 60_000;

/**
 * Resolves when `check()` is true, testing it now and again whenever `stream` emits data or the process exits.
 * Rejects after `deadlineMs`, or when the stream ends first, with `describe()` in the message.
 */
export function whenOutput(stream: Readable, check: () => boolean, describe: () => string, deadlineMs = DEFAULT_DEADLINE_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const finish = (err?: Error): void => {
      clearTimeout(deadline);
      stream.off('data', onData);
      stream.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    // Listeners added after the owner's: by the time this runs, the owner has recorded the chunk.
    const onData = (): void => {
      if (check()) finish();
    };
    const onClose = (): void => finish(check() ? undefined : new Error(`the output ended before: ${describe()}`));
    const deadline = setTimeout(() => finish(new Error(`not within ${deadlineMs} ms: ${describe()}`)), deadlineMs);
    stream.on('data', onData);
    stream.on('close', onClose);
    if (check()) finish();
  });
}

/** Collects a stream's text and waits for it to contain something. */
export function collect(stream: Readable): { text(): string; waitFor(needle: string | RegExp, deadlineMs?: number): Promise<string> } {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (c: string) => (text += c));
  const has = (needle: string | RegExp): boolean => (typeof needle === 'string' ? text.includes(needle) : needle.test(text));
  return {
    text: () => text,
    async waitFor(needle, deadlineMs) {
      await whenOutput(stream, () => has(needle), () => `output containing ${String(needle)}; got:\n${text.slice(-2000)}`, deadlineMs);
      return text;
    },
  };
}

type LogLine = Record<string, unknown>;

/**
 * Counts a broker's log lines that match, so that a test can wait for the next one: take `mark()` before the action,
 * then `await next(mark)` for a line logged after it.
 */
export function brokerLog(b: Pick<Broker, 'proc' | 'logLines' | 'logs'>, match: (l: LogLine) => boolean, what: string) {
  const count = (): number => b.logLines().filter(match).length;
  const stdout = b.proc.stdout;
  if (!stdout) throw new Error('broker has no stdout');
  return {
    mark: count,
    next: (since: number, deadlineMs?: number): Promise<void> =>
      whenOutput(stdout, () => count() > since, () => `broker log line "${what}" (seen ${count()}, wanted more than ${since}); log tail:\n${b.logs().slice(-2000)}`, deadlineMs),
  };
}
