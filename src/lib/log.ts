import pino, { type Logger, type DestinationStream } from 'pino';

export type { Logger };

/** Paths pino must never print. Secrets reach logs only by mistake; this is the net under that mistake. */
export const REDACT_PATHS = [
  'token',
  'password',
  'secret',
  'rootToken',
  'root_token',
  'client_token',
  'key',
  'keys',
  'keys_base64',
  'req.headers["x-vault-token"]',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.token',
  '*.password',
  '*.secret',
  '*.client_token',
  '*.data',
];

export function createLogger(opts: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: opts.level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
