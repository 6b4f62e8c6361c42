/**
 * Turns errors from a target PostgreSQL into AppErrors with messages that say what went wrong, and never what
 * was sent (no connection string, no statement, no password).
 */
import { AppError } from '../../lib/errors.ts';

export type Failure = 'auth' | 'unreachable' | 'timeout' | 'sql' | 'connection' | 'unknown';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

const codeOf = (err: unknown): string => {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
};
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export function classify(err: unknown): Failure {
  const code = codeOf(err);
  const msg = messageOf(err);
  if (code === '28P01' || code === '28000') return 'auth';
  if (NETWORK_CODES.has(code)) return 'unreachable';
  if (/timeout/i.test(msg)) return 'timeout';
  if (/^(08|57|53)/.test(code) || /Connection terminated|connection (is )?closed|not queryable/i.test(msg)) return 'connection';
  if (/^[0-9A-Z]{5}$/.test(code)) return 'sql';
  return 'unknown';
}

/** A PostgreSQL error message, bounded; these carry identifiers at most, never parameter values. */
export const pgMessage = (err: unknown): string => messageOf(err).slice(0, 300);

/** Why a connection attempt failed, in words, e.g. for verify_connection. */
export function connectFailure(err: unknown, target: string, timeoutSeconds: number): string {
  switch (classify(err)) {
    case 'auth':
      return `authentication failed at ${target}: ${pgMessage(err)}`;
    case 'unreachable':
      return `cannot reach ${target}: ${codeOf(err) === 'ECONNREFUSED' ? 'connection refused' : codeOf(err).toLowerCase() || 'network error'}`;
    case 'timeout':
      return `cannot reach ${target}: no answer within ${timeoutSeconds} s`;
    case 'connection':
      return `cannot reach ${target}: the connection closed before the server answered`;
    case 'sql':
      return `${target} refused the connection: ${pgMessage(err)}`;
    case 'unknown':
      return `cannot connect to ${target}`;
  }
}

/** The 503 for a target that cannot be used right now. */
export const unavailable = (configName: string, reason: string): AppError =>
  new AppError('unavailable', `database "${configName}" is unavailable: ${reason}`);
