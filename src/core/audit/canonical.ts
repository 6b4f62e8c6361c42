/**
 * The canonical JSON encoding of audit entries (the Merkle leaves) (documented in SECURITY.md):
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
