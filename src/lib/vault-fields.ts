/** zod pieces for Vault's loosely typed request fields, shared by engines: booleans and numbers may come as strings. */
import { z } from 'zod';

const MAX_LIST_ITEMS = 256;
const MAX_ITEM_LENGTH = 256;

export const boolField = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')], {
  error: 'must be a boolean',
});

/** Parsed in the handler with parseDuration, which reports Vault's duration forms in its 400. */
export const durationField = z.union([z.number(), z.string().max(64)], {
  error: 'must be a duration such as "30m" or a number of seconds',
});

/** Vault's comma string slice: ["a", "b"] or "a,b". Items are trimmed; empty items are dropped. */
export const stringListField = z
  .union(
    [
      z.array(z.string().max(MAX_ITEM_LENGTH)).max(MAX_LIST_ITEMS),
      z.string().max(MAX_LIST_ITEMS * MAX_ITEM_LENGTH).transform((s) => s.split(',')),
    ],
    { error: 'must be a list of strings or a comma-separated string' },
  )
  .transform((items) => [...new Set(items.map((s) => s.trim()).filter((s) => s.length > 0))]);
