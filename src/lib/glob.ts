/** Vault's glob (ryanuber/go-glob): `*` matches any run of characters, `/` included; everything else is literal. */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!value.startsWith(first) || value.length < first.length + last.length) return false;
  let at = first.length;
  for (const middle of parts.slice(1, -1)) {
    const i = value.indexOf(middle, at);
    if (i < 0) return false;
    at = i + middle.length;
  }
  return value.length - last.length >= at && value.endsWith(last);
}

/** An empty pattern list allows everything; otherwise some pattern must match some value. */
export function anyMatch(patterns: readonly string[], values: readonly string[]): boolean {
  return patterns.length === 0 || patterns.some((p) => values.some((v) => globMatch(p, v)));
}
