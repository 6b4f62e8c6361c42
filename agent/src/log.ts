/**
 * The agent's logger: JSON lines on stdout in pino's format (`{"level":30,"time":"<ISO>","name":"sealbox-agent",
 * ...bindings,...fields,"msg":"..."}`, pino's level numbers), written synchronously. Not pino itself: loading pino
 * (with thread-stream, sonic-boom, redaction and serializers) cost about 3-4 MB of RSS in every pod for the few calls
 * the agent makes (issue 18). Tokens and secret values are never passed to it.
 */
import fs from 'node:fs';

export type LogFields = Record<string, unknown>;

export interface LogFn {
  (msg: string): void;
  (fields: LogFields, msg?: string): void;
}

export interface Logger {
  readonly level: string;
  fatal: LogFn;
  error: LogFn;
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
  trace: LogFn;
  /** A logger that adds `bindings` to every line (after the parent's). */
  child(bindings: LogFields): Logger;
}

export const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const;
type LevelName = keyof typeof LEVELS;

/** Writes one line to stdout: whole, retried on EAGAIN (a non-blocking pipe); dropped if stdout is gone (EPIPE). */
export function writeStdout(line: string): void {
  let buf = Buffer.from(line);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(fs.writeSync(1, buf));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** pino's serialisation of an Error value (the agent logs messages, not Error objects, but one must not print as {}). */
const replacer = (_key: string, v: unknown): unknown => (v instanceof Error ? { type: v.name, message: v.message, stack: v.stack } : v);

export interface LoggerOptions {
  /** Where a line goes (it ends with "\n"). Default: stdout. */
  write?: (line: string) => void;
  /** The time of a line. Default: the system clock. */
  now?: () => Date;
}

/** `level` is one of trace, debug, info, warn, error, fatal, silent (config.ts checks it). */
export function createLogger(level = 'info', opts: LoggerOptions = {}): Logger {
  const write = opts.write ?? writeStdout;
  const now = opts.now ?? (() => new Date());
  const min = level in LEVELS ? LEVELS[level as LevelName] : Infinity;
  const make = (prefix: string): Logger => {
    const fn = (name: LevelName): LogFn => {
      const n = LEVELS[name];
      if (n < min) return () => undefined;
      return (a: string | LogFields, b?: string) => {
        const fields = typeof a === 'string' ? undefined : JSON.stringify(a, replacer);
        const msg = typeof a === 'string' ? a : b;
        const body = fields && fields.length > 2 ? `,${fields.slice(1, -1)}` : '';
        write(`{"level":${n},"time":"${now().toISOString()}"${prefix}${body}${msg === undefined ? '' : `,"msg":${JSON.stringify(msg)}`}}\n`);
      };
    };
    return {
      level,
      fatal: fn('fatal'),
      error: fn('error'),
      warn: fn('warn'),
      info: fn('info'),
      debug: fn('debug'),
      trace: fn('trace'),
      child(bindings) {
        const more = JSON.stringify(bindings, replacer);
        return make(more.length > 2 ? `${prefix},${more.slice(1, -1)}` : prefix);
      },
    };
  };
  return make(',"name":"sealbox-agent"');
}
