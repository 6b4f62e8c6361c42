/** Output helpers shared by client commands: terminal-safe text and aligned tables. */

/**
 * Audit entries carry attacker-chosen text (paths, error messages). Before it reaches a terminal, escape control
 * characters (ANSI sequences could rewrite what the auditor sees) and bidirectional overrides.
 */
export function termSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const cell = (v: unknown): string => (v === null || v === undefined || v === '' ? '-' : termSafe(String(v)));

/** Columns separated by two spaces, padded to the widest cell; the last column is not padded. */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Vault's `Key  Value` layout for a single object. */
export function renderKeyValue(pairs: readonly (readonly [string, unknown])[]): string {
  return renderTable(['Key', 'Value'], [['---', '-----'], ...pairs.map(([k, v]) => [k, v === null ? 'n/a' : cell(v)])]);
}

export const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;
