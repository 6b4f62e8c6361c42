/** Shared zod pieces for PKI inputs. Vault's field types accept numbers and booleans as strings too (query strings, CLI). */
import { z } from 'zod';

const MAX_LIST = 256;

/** Vault's comma-string-slice: a JSON array of strings or one comma-separated string; trimmed, empties dropped. */
export const stringList = z
  .union([z.array(z.string().max(1024)).max(MAX_LIST), z.string().max(64 * 1024)], {
    error: 'must be a list of strings or a comma-separated string',
  })
  .transform((v) => [...new Set((typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s.length > 0))]);

export const boolField = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')], { error: 'must be a boolean' });

/** Parsed in the handler with parseDuration, which reports Vault's duration forms in its 400. */
export const durationField = z.union([z.number(), z.string().max(64)], { error: 'must be a duration such as "30m" or a number of seconds' });

export const intField = z.union([z.number().int().min(-1).max(1_000_000), z.string().regex(/^-?\d{1,7}$/).transform(Number)], {
  error: 'must be an integer',
});

/** A PEM input (certificate, CSR); the size bound keeps parsing cheap. */
export const pemField = z.string().max(256 * 1024, { error: 'must be at most 256 KiB of PEM' });

export const formatField = z.enum(['pem', 'der', 'pem_bundle'], { error: 'must be "pem", "der" or "pem_bundle"' });
/** Vault's AllowedValues: "", "der" and "pem" all mean the key type's own encoding (in the `format`), "pkcs8" PKCS #8. */
export const privateKeyFormatField = z.enum(['der', 'pem', 'pkcs8', ''], { error: 'must be "der", "pem" or "pkcs8"' });

export const empty = z.object({});

/** The subject fields Vault accepts on roles and CA requests. */
export const subjectFields = {
  ou: stringList.optional(),
  organization: stringList.optional(),
  country: stringList.optional(),
  locality: stringList.optional(),
  province: stringList.optional(),
  street_address: stringList.optional(),
  postal_code: stringList.optional(),
};
