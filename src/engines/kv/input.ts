/** Shared zod pieces for KV v2 inputs. Vault's field types accept numbers and booleans as strings too (query strings, CLI). */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import { isPlainObject, type SecretData } from './model.ts';

const UINT32_MAX = 4_294_967_295;

/** A non-negative integer, as a JSON number or a decimal string. */
export const nonNegativeInt = z.union(
  [z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.string().regex(/^\d{1,15}$/).transform(Number)],
  { error: 'must be a non-negative integer' },
);

export const maxVersionsField = nonNegativeInt.refine((n) => n <= UINT32_MAX, { error: 'must be at most 4294967295' });

export const boolField = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')], {
  error: 'must be a boolean',
});

/** Parsed in the handler with parseDuration, which reports Vault's duration forms in its 400. */
export const durationField = z.union([z.number(), z.string()], { error: 'must be a duration such as "30m" or a number of seconds' });

/** A JSON object, passed through untouched (no copying, so keys such as "__proto__" survive as data). */
export const dataField = z.custom<SecretData>(isPlainObject, { error: 'must be a JSON object' });

/** Versions for delete/undelete/destroy: [1, 2], ["1"] or "1,2" (Vault's comma int slice). */
export const versionsField = z.union(
  [
    z.array(nonNegativeInt).min(1, { error: 'must be a non-empty list of version numbers' }).max(1000),
    z.string().regex(/^\d{1,15}(,\d{1,15}){0,999}$/).transform((s) => s.split(',').map(Number)),
  ],
  { error: 'must be a non-empty list of version numbers' },
);

export const casOptions = z.object({ cas: nonNegativeInt.optional() }).nullish();

const MAX_CUSTOM_KEYS = 64;
const MAX_CUSTOM_KEY_LENGTH = 128;
const MAX_CUSTOM_VALUE_LENGTH = 512;
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f]/g;

/** custom_metadata values as Vault weak-decodes them (numbers and booleans become strings); null only in patches. */
export const customMetadataField = z.custom<Record<string, string | number | boolean | null>>(
  (v) => isPlainObject(v) && Object.values(v).every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x)),
  { error: 'must be an object of string values' },
);

const hasUnprintable = (s: string): boolean => s.replace(UNPRINTABLE, '') !== s;

/** Converts and validates custom metadata the way Vault does (≤ 64 keys, key ≤ 128 and value ≤ 512 characters, printable). */
export function normaliseCustomMetadata(raw: Record<string, string | number | boolean | null>): Record<string, string> {
  const entries = Object.entries(raw)
    .filter((e): e is [string, string | number | boolean] => e[1] !== null)
    .map(([k, v]): [string, string] => [k, String(v)]);
  const prefix = 'custom_metadata validation failed';
  if (entries.length > MAX_CUSTOM_KEYS) {
    throw badRequest(`${prefix}: payload must contain at most ${MAX_CUSTOM_KEYS} keys, provided ${entries.length}`);
  }
  for (const [k, v] of entries) {
    const key = k.slice(0, 40).replace(UNPRINTABLE, '?');
    if (k.length === 0 || k.length > MAX_CUSTOM_KEY_LENGTH) {
      throw badRequest(`${prefix}: length of key "${key}" is ${k.length} but must be 0 < len(key) <= ${MAX_CUSTOM_KEY_LENGTH}`);
    }
    if (v.length === 0 || v.length > MAX_CUSTOM_VALUE_LENGTH) {
      throw badRequest(`${prefix}: length of value for key "${key}" is ${v.length} but must be 0 < len(value) <= ${MAX_CUSTOM_VALUE_LENGTH}`);
    }
    if (hasUnprintable(k) || hasUnprintable(v)) throw badRequest(`${prefix}: key or value of "${key}" contains unprintable characters`);
  }
  return Object.fromEntries(entries);
}
