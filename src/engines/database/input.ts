/** Shared zod pieces for database engine inputs. Like Vault's field types, they also accept numbers and booleans as strings. */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';

const MAX_LIST_ITEMS = 256;
/** A statement list as a whole: generous, but bounded (a request body is limited anyway). */
const MAX_STATEMENTS_LENGTH = 64 * 1024;

const NON_NEGATIVE = 'must be a non-negative integer';
export const nonNegativeInt = z.union(
  [
    z.number().int({ error: NON_NEGATIVE }).min(0, { error: NON_NEGATIVE }).max(10_000, { error: 'must be at most 10000' }),
    z.string().regex(/^\d{1,5}$/, { error: NON_NEGATIVE }).transform(Number),
  ],
  { error: NON_NEGATIVE },
);

export { boolField, durationField, stringListField } from '../../lib/vault-fields.ts';

/**
 * Vault's statement lists: an array of strings, or one string that is a JSON array, base64 of the statements, or the
 * statements themselves (never split on commas: statements contain commas).
 */
export const statementsField = z
  .union([z.array(z.string().max(MAX_STATEMENTS_LENGTH)).max(MAX_LIST_ITEMS), z.string().max(MAX_STATEMENTS_LENGTH)], {
    error: 'must be a list of SQL statements or a string of statements separated by ";"',
  })
  .transform((v) => normaliseStatements(v));

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function fromString(s: string): string[] {
  const text = s.trim();
  if (text === '') return [];
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw badRequest('statements: a value starting with "[" must be a JSON array of strings');
    }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) throw badRequest('statements: must be a JSON array of strings');
    return parsed;
  }
  // A statement always has a space; base64 never does.
  if (text.length % 4 === 0 && BASE64.test(text)) {
    const decoded = Buffer.from(text, 'base64').toString('utf8');
    if (!decoded.includes('\uFFFD') && /\s/.test(decoded)) return [decoded];
  }
  return [text];
}

function normaliseStatements(v: string | string[]): string[] {
  const list = typeof v === 'string' ? fromString(v) : v;
  return list.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** A plain bounded string field, e.g. a username or a policy name. */
export const shortString = (max: number) => z.string({ error: 'must be a string' }).max(max, { error: `must be at most ${max} characters` });

/** Vault's credential_config (key=value pairs for the credential_type): an empty map only. */
export const credentialConfigField = z.record(z.string().max(128), z.union([z.string().max(1024), z.number(), z.boolean()]), {
  error: 'must be an object of key/value pairs',
});

/**
 * sealbox makes passwords with the config's password_policy, so a role's credential_config (Vault: password_policy
 * per role for "password") is refused when it holds anything, rather than stored and not applied.
 */
export function checkCredentialConfig(v: Record<string, unknown> | undefined): void {
  const keys = Object.keys(v ?? {});
  if (keys.length > 0) {
    throw badRequest(`credential_config: not supported (${keys.slice(0, 4).map((k) => `"${k.slice(0, 32)}"`).join(', ')}); a role's passwords follow the config's password_policy`);
  }
}
