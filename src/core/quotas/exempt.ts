import { badRequest } from '../../lib/errors.ts';
import { normalizeApiPath } from './paths.ts';

const SLASH = 47;

/** An exempt path as Vault's path manager reads it: exact, or a prefix when it ends with `*`. */
export interface ExemptRule {
  path: string;
  prefix: boolean;
}

export function parseExemptPath(raw: string): ExemptRule {
  const s = raw.trim();
  const prefix = s.endsWith('*');
  const body = normalizeApiPath(prefix ? s.slice(0, -1) : s, 'rate_limit_exempt_paths');
  if (body === '' && !prefix) throw badRequest('rate_limit_exempt_paths: a path must not be empty');
  // "secret/*" keeps its slash so that it does not also cover "secrets/".
  return { path: prefix && /\/\*$/.test(s) && body !== '' ? `${body}/` : body, prefix };
}

export const formatExemptRule = (r: ExemptRule): string => (r.prefix ? `${r.path}*` : r.path);

/** Whether the API path in `path` from `offset` on matches the rule. Allocates nothing. */
export function exemptMatches(path: string, offset: number, r: ExemptRule): boolean {
  if (!path.startsWith(r.path, offset)) return false;
  if (r.prefix) return true;
  const end = offset + r.path.length;
  // A raw URL path may still carry one trailing slash.
  return path.length === end || (path.length === end + 1 && path.charCodeAt(end) === SLASH);
}
