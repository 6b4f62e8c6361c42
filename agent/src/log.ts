/** The agent's logger: pino JSON lines on stdout. Tokens and secret values are never passed to it. */
import pino, { type Logger } from 'pino';

export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { name: 'sealbox-agent' }, timestamp: pino.stdTimeFunctions.isoTime });
}
