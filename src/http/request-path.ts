import { AppError, badRequest } from '../lib/errors.ts';

const ENCODED_FORBIDDEN = /%(2e|2f|5c|[01][0-9a-f]|7f)/i;
// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Takes the raw request target and returns the API path under /v1 (no leading or trailing slash).
 * Rejects, rather than normalises, anything that could name another path: dot segments (raw or
 * percent-encoded), encoded slashes or backslashes, NUL and control characters, and empty segments.
 */
export function parseApiPath(rawTarget: string): string {
  const q = rawTarget.indexOf('?');
  const raw = q === -1 ? rawTarget : rawTarget.slice(0, q);
  if (raw !== '/v1' && !raw.startsWith('/v1/')) throw new AppError('not_found', '');
  if (raw.length > 4096) throw badRequest('request path is too long');
  if (ENCODED_FORBIDDEN.test(raw)) throw badRequest('invalid request path: encoded dots, slashes or control characters are not allowed');
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw.slice(4));
  } catch {
    throw badRequest('invalid request path: bad percent-encoding');
  }
  if (CONTROL.test(decoded) || decoded.includes('\\')) throw badRequest('invalid request path: control characters are not allowed');
  const trimmed = decoded.replace(/^\/+/, '').replace(/\/+$/, '');
  const segments = trimmed.split('/');
  if (segments.some((s) => s === '.' || s === '..')) throw badRequest('invalid request path: "." and ".." segments are not allowed');
  if (trimmed !== '' && segments.some((s) => s === '')) throw badRequest('invalid request path: empty path segment');
  return trimmed;
}
