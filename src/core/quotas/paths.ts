import { badRequest } from '../../lib/errors.ts';

// eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
const CONTROL = /[\u0000-\u001f\u007f\\]/;
const SLASH = 47;

/** Vault's default rate_limit_exempt_paths. */
export const DEFAULT_EXEMPT_PATHS: readonly string[] = [
  'sys/generate-recovery-token/attempt',
  'sys/generate-recovery-token/update',
  'sys/generate-root/attempt',
  'sys/generate-root/update',
  'sys/health',
  'sys/seal-status',
  'sys/unseal',
];

/** Always exempt, whatever the configuration says: load balancers must be able to probe a flooded broker. */
export const ALWAYS_EXEMPT = 'sys/health';

/**
 * Trims slashes (and a leading "v1/") from a user-supplied API path and rejects what could never name a
 * request path: control characters, backslashes, empty, "." and ".." segments.
 */
export function normalizeApiPath(raw: string, field: string): string {
  const trimmed = raw.trim().replace(/^\/+/, '').replace(/^v1\//, '').replace(/\/+$/, '');
  if (trimmed.length > 512) throw badRequest(`${field}: path is too long`);
  if (CONTROL.test(trimmed)) throw badRequest(`${field}: control characters and backslashes are not allowed`);
  if (trimmed !== '' && trimmed.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw badRequest(`${field}: "${trimmed.slice(0, 80)}" has an empty, "." or ".." segment`);
  }
  return trimmed;
}

/**
 * Whether the API path held in `path` from `offset` on (a raw URL path and 4 for "/v1/", or a decoded path and 0)
 * is `prefix` or lies below it at a segment boundary. Allocates nothing: this runs on every request.
 */
export function underPrefix(path: string, offset: number, prefix: string): boolean {
  if (prefix === '') return true;
  if (!path.startsWith(prefix, offset)) return false;
  const end = offset + prefix.length;
  return path.length === end || path.charCodeAt(end) === SLASH;
}
