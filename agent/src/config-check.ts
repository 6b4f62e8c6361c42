/**
 * The few checks the agent's config needs (config.ts), by hand rather than with zod: zod cost about 6 MB of RSS in
 * every pod for one validation at start-up (issue 18). A check throws a ConfigIssue at the first thing wrong, naming
 * the field by its path. Objects check their known fields in order, then unknown fields, then their cross-field rules,
 * so the first problem reported is the one a full validation would list first.
 */

export type Where = (string | number)[];

export class ConfigIssue extends Error {
  override readonly name = 'ConfigIssue';
  constructor(
    readonly where: Where,
    message: string,
  ) {
    super(message);
  }
}

export const fail = (where: Where, message: string): never => {
  throw new ConfigIssue(where, message);
};

export type Mapping = Record<string, unknown>;
export const isMapping = (v: unknown): v is Mapping => typeof v === 'object' && v !== null && !Array.isArray(v);

/** "is required (hint)" when absent. */
export const required = (where: Where, hint = ''): never => fail(where, `is required${hint ? ` (${hint})` : ''}`);

/** A non-empty (not only blank) string. */
export function str(v: unknown, where: Where, hint = ''): string {
  if (v === undefined) return required(where, hint);
  if (typeof v !== 'string' || v.trim() === '') return fail(where, 'must be a non-empty string');
  return v;
}

export const optStr = (v: unknown, where: Where): string | undefined => (v === undefined ? undefined : str(v, where));

export function optBool(v: unknown, where: Where): boolean | undefined {
  if (v === undefined || typeof v === 'boolean') return v;
  return fail(where, 'must be true or false');
}

/** An optional integer from min to max. */
export function optInt(v: unknown, where: Where, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) return fail(where, `must be an integer from ${min} to ${max}`);
  return v;
}

/**
 * A mapping whose fields are read through `field(name)` while `build` runs: a field not read by then is unknown.
 * `bad` is the message when the value is there but not a mapping.
 */
export function mapping<T>(v: unknown, where: Where, build: (field: (name: string) => unknown) => T, opts: { hint?: string; bad?: string } = {}): T {
  if (v === undefined) return required(where, opts.hint);
  if (!isMapping(v)) return fail(where, opts.bad ?? 'must be a mapping (object)');
  const read = new Set<string>();
  const out = build((name) => {
    read.add(name);
    return Object.hasOwn(v, name) ? v[name] : undefined;
  });
  for (const key of Object.keys(v)) if (!read.has(key)) fail([...where, key], 'unknown field');
  return out;
}

/** "secrets[1].destination" from a path. */
export function fieldName(where: Where): string {
  return where.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${p}`)).join('');
}
