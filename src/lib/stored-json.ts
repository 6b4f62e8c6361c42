/**
 * Stored JSON records read through a schema (the engines' `StorageView`, or any store with get/put): one way to read a
 * record instead of `JSON.parse(...) as T`, so that what comes back is checked and fields added later get defaults.
 */
import type { z } from 'zod';
import { AppError } from './errors.ts';

/**
 * Reads the JSON record stored at `key` through its schema; null when there is none. The schema is the record's
 * contract: a field added later gets a `.default(...)` there, so records written before it still load. A stored value
 * that is not JSON or does not fit is an internal error (it names the key and the field, never the value).
 */
export async function getJson<S extends z.ZodType>(storage: { get(key: string): Promise<Uint8Array | null> }, key: string, schema: S): Promise<z.output<S> | null> {
  const raw = await storage.get(key);
  return raw ? decodeJson(raw, key, schema) : null;
}

/** Parses one stored JSON record (as getJson does, for a value already read, e.g. by getMany). */
export function decodeJson<S extends z.ZodType>(raw: Uint8Array, key: string, schema: S): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch {
    throw new AppError('internal', `stored record "${key.slice(0, 200)}" is not JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AppError('internal', `stored record "${key.slice(0, 200)}" does not fit its schema (${issue ? `${issue.path.join('.') || 'record'}: ${issue.message}` : 'invalid'})`);
  }
  return parsed.data;
}

/** Stores `value` as JSON at `key` (the counterpart of getJson). */
export function putJson(storage: { put(key: string, value: Uint8Array): Promise<void> }, key: string, value: unknown): Promise<void> {
  return storage.put(key, Buffer.from(JSON.stringify(value), 'utf8'));
}
