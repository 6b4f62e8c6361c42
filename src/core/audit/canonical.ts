import { createHash } from 'node:crypto';

/**
 * The canonical JSON encoding the audit chain hashes and checkpoints sign (documented in SECURITY.md):
 * UTF-8; object keys sorted by UTF-16 code unit order (JS default sort), recursively; no whitespace; `undefined`
 * members omitted; strings, numbers, booleans and null exactly as JSON.stringify writes them; arrays in order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of Object.keys(obj).sort()) {
    const v = obj[k];
    if (v !== undefined) parts.push(`${JSON.stringify(k)}:${canonicalJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

export const GENESIS_HASH = Buffer.alloc(32);

/** hash(n) = SHA-256(hash(n-1) ‖ UTF-8 canonical entry(n)); hash(0) is 32 zero bytes. */
export function chainHash(prev: Uint8Array, entry: string): Buffer {
  return createHash('sha256').update(prev).update(entry, 'utf8').digest();
}

/** What a checkpoint signs. */
export const checkpointMessage = (cp: { seq: number; hash: Uint8Array; time: string }): string =>
  canonicalJson({ seq: cp.seq, hash: Buffer.from(cp.hash).toString('hex'), time: cp.time });
