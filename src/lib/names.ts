/**
 * The one rule for user-chosen names that reach storage keys, lease ids and policy paths (roles, configs, quotas,
 * password policies, certificate entries, issuers, policies): 1 to 128 characters of letters, digits, "_", "-" and
 * ".", starting with a letter, digit or "_" (so never ".", ".." or a leading "-"). Callers that need less say so on
 * top (the database engine's 64 characters; policy names are lower-cased first).
 */
import { z } from 'zod';
import { badRequest } from './errors.ts';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export const NAME_RULE = 'must be 1 to 128 characters of letters, digits, "_", "-" and ".", starting with a letter, digit or "_"';

export const isName = (value: string): boolean => NAME.test(value);

/** The name, or a 400 naming `what` (e.g. "role name", "quota name"). */
export function checkName(value: string | undefined, what: string): string {
  const name = value ?? '';
  if (!isName(name)) throw badRequest(`${what}: "${name.slice(0, 64)}" ${NAME_RULE}`);
  return name;
}

/** The shared name type as a zod schema, for path parameters (`withParams(z.object({ name }))`) and body fields. */
export const name = z.string().regex(NAME, { error: NAME_RULE });

/** The common path parameters: a `:name` segment. */
export const nameParams = z.object({ name });
