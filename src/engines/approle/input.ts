/** Shared zod pieces for AppRole inputs. Like Vault's field types, they also accept numbers and booleans as strings. */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';

/** Vault's limit on role names, role IDs and secret IDs (maxHmacInputLength). */
export const MAX_CREDENTIAL_LENGTH = 4096;

const NON_NEGATIVE = 'must be a non-negative integer';
export const nonNegativeInt = z.union(
  [
    z.number().int({ error: NON_NEGATIVE }).min(0, { error: NON_NEGATIVE }).max(2_147_483_647, { error: 'must be at most 2147483647' }),
    z.string().regex(/^\d{1,9}$/, { error: NON_NEGATIVE }).transform(Number),
  ],
  { error: NON_NEGATIVE },
);

export { boolField, durationField, stringListField } from '../../lib/vault-fields.ts';

/** A credential as sent on the wire: a non-empty string, trimmed as Vault trims it. */
export const credentialField = z
  .string({ error: (issue) => (issue.input === undefined ? 'required' : 'must be a string') })
  .max(MAX_CREDENTIAL_LENGTH, { error: `must be at most ${MAX_CREDENTIAL_LENGTH} characters` })
  .transform((s) => s.trim())
  .refine((s) => s.length > 0, { error: 'must not be empty' });

const MAX_METADATA_KEYS = 64;
const MAX_METADATA_KEY_LENGTH = 128;
const MAX_METADATA_VALUE_LENGTH = 512;

/** Secret ID metadata: an object, a JSON-encoded object (node-vault sends a string) or "k1=v1,k2=v2". */
export const metadataField = z.union(
  [z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])), z.string().max(64 * 1024)],
  { error: 'must be an object of string values or a JSON-encoded one' },
);

function parseMetadataString(s: string): Record<string, unknown> {
  const text = s.trim();
  if (text === '') return {};
  if (text.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw badRequest('failed to parse metadata: not valid JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badRequest('failed to parse metadata: must be a JSON object');
    return parsed as Record<string, unknown>;
  }
  const out: Record<string, unknown> = {};
  for (const pair of text.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw badRequest('failed to parse metadata: expected a JSON object or "key=value" pairs');
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

/** Converts metadata to a string map and checks Vault-like limits (≤ 64 keys, key ≤ 128, value ≤ 512 characters). */
export function normaliseMetadata(raw: z.output<typeof metadataField> | undefined): Record<string, string> {
  if (raw === undefined) return {};
  const obj = typeof raw === 'string' ? parseMetadataString(raw) : raw;
  const entries = Object.entries(obj);
  if (entries.length > MAX_METADATA_KEYS) throw badRequest(`metadata: at most ${MAX_METADATA_KEYS} keys`);
  const out: Record<string, string> = {};
  for (const [k, v] of entries) {
    if (!['string', 'number', 'boolean'].includes(typeof v)) throw badRequest('metadata: values must be strings');
    const value = String(v);
    if (k.length === 0 || k.length > MAX_METADATA_KEY_LENGTH) throw badRequest(`metadata: keys must be 1 to ${MAX_METADATA_KEY_LENGTH} characters`);
    if (value.length > MAX_METADATA_VALUE_LENGTH) throw badRequest(`metadata: values must be at most ${MAX_METADATA_VALUE_LENGTH} characters`);
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
