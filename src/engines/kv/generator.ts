/**
 * Value generators for rotated KV secrets (issue 7): a password of `length` characters drawn from character classes,
 * each with a minimum count, or `bytes` random bytes encoded as base64 or hex. Every draw is unbiased (rejection
 * sampling), and the positions of the required characters are shuffled.
 */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import type { Random } from '../../lib/random.ts';

export const CLASSES = {
  lower: 'abcdefghijklmnopqrstuvwxyz',
  upper: 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  digits: '0123456789',
  symbols: '!#$%&()*+,-./:;<=>?@[]^_{|}~',
} as const;
export type CharClass = keyof typeof CLASSES;
const CLASS_NAMES = Object.keys(CLASSES) as CharClass[];

const MAX_LENGTH = 1024;
const MAX_BYTES = 1024;

export type Generator =
  | { kind: 'chars'; length: number; min: Partial<Record<CharClass, number>> }
  | { kind: 'bytes'; bytes: number; encoding: 'base64' | 'hex' };

const storedCount = z.number().int().min(0).max(MAX_LENGTH);

/** A generator as stored in a rotation policy (see rotation.ts). */
export const storedGenerator: z.ZodType<Generator, unknown> = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('chars'), length: storedCount, min: z.partialRecord(z.enum(['lower', 'upper', 'digits', 'symbols']), storedCount).default({}) }),
  z.object({ kind: z.literal('bytes'), bytes: z.number().int().min(1).max(MAX_BYTES), encoding: z.enum(['base64', 'hex']).default('base64') }),
]);

const count = z.union([z.number().int().min(0).max(MAX_LENGTH), z.string().regex(/^\d{1,4}$/).transform(Number)], {
  error: `must be a whole number from 0 to ${MAX_LENGTH}`,
});

/**
 * The wire form: `{length, lower?, upper?, digits?, symbols?}` (a class named is allowed, its number is its minimum
 * count; with no class named: lower, upper and digits, at least one of each) or `{bytes, encoding?}`.
 */
export const generatorField = z
  .object({
    length: count.optional(),
    lower: count.optional(),
    upper: count.optional(),
    digits: count.optional(),
    symbols: count.optional(),
    bytes: count.optional(),
    encoding: z.enum(['base64', 'hex'], { error: 'must be "base64" or "hex"' }).optional(),
  })
  .strict();

/** Checks that the generator can be satisfied; 400 with the reason if not. */
export function parseGenerator(g: z.output<typeof generatorField>): Generator {
  const named = CLASS_NAMES.filter((c) => g[c] !== undefined);
  if (g.bytes !== undefined) {
    if (g.length !== undefined || named.length > 0) throw badRequest('generator: give either bytes (with encoding) or length with character classes, not both');
    if (g.bytes < 1 || g.bytes > MAX_BYTES) throw badRequest(`generator.bytes: must be from 1 to ${MAX_BYTES}`);
    return { kind: 'bytes', bytes: g.bytes, encoding: g.encoding ?? 'base64' };
  }
  if (g.encoding !== undefined) throw badRequest('generator.encoding: only with bytes');
  if (g.length === undefined) throw badRequest('generator: needs length (with character classes) or bytes');
  if (g.length < 1) throw badRequest('generator.length: must be at least 1');
  const min: Partial<Record<CharClass, number>> =
    named.length > 0 ? Object.fromEntries(named.map((c) => [c, g[c] ?? 0])) : { lower: 1, upper: 1, digits: 1 };
  const required = Object.values(min).reduce((s, n) => s + n, 0);
  if (required > g.length) {
    const parts = Object.entries(min)
      .filter(([, n]) => n > 0)
      .map(([c, n]) => `${n} ${c}`)
      .join(' + ');
    throw badRequest(`generator cannot be satisfied: length ${g.length} is shorter than the minimum counts (${parts} = ${required})`);
  }
  return { kind: 'chars', length: g.length, min };
}

export function generatorWire(g: Generator): Record<string, unknown> {
  return g.kind === 'bytes' ? { bytes: g.bytes, encoding: g.encoding } : { length: g.length, ...g.min };
}

/** An unbiased integer in [0, n) (n ≤ 256). */
function randomIndex(random: Random, n: number): number {
  const limit = 256 - (256 % n);
  for (;;) {
    for (const b of random.bytes(16)) if (b < limit) return b % n;
  }
}

export function generate(g: Generator, random: Random): string {
  if (g.kind === 'bytes') return random.bytes(g.bytes).toString(g.encoding);
  const classes = Object.keys(g.min) as CharClass[];
  const all = classes.map((c) => CLASSES[c]).join('');
  const chars: string[] = [];
  for (const c of classes) for (let i = 0; i < (g.min[c] ?? 0); i++) chars.push(CLASSES[c][randomIndex(random, CLASSES[c].length)] ?? '');
  while (chars.length < g.length) chars.push(all[randomIndex(random, all.length)] ?? '');
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomIndexUpTo(random, i + 1);
    [chars[i], chars[j]] = [chars[j] ?? '', chars[i] ?? ''];
  }
  return chars.join('');
}

/** An unbiased integer in [0, n) for n up to 2^16 (shuffles of long values). */
function randomIndexUpTo(random: Random, n: number): number {
  if (n <= 256) return randomIndex(random, n);
  const limit = 65536 - (65536 % n);
  for (;;) {
    const b = random.bytes(2);
    const v = b.readUInt16BE(0);
    if (v < limit) return v % n;
  }
}

/** True when `value` could have come from `g` (tests, and the rotation's own check). */
export function matches(g: Generator, value: string): boolean {
  if (g.kind === 'bytes') {
    const decoded = Buffer.from(value, g.encoding);
    return decoded.length === g.bytes && decoded.toString(g.encoding) === value;
  }
  if (value.length !== g.length) return false;
  const classes = Object.keys(g.min) as CharClass[];
  for (const ch of value) if (!classes.some((c) => CLASSES[c].includes(ch))) return false;
  return classes.every((c) => [...value].filter((ch) => CLASSES[c].includes(ch)).length >= (g.min[c] ?? 0));
}
