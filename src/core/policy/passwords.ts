/**
 * Password policies (Vault's sys/policies/password): a length and charset rules with minimum counts. Documents
 * are Vault's HCL subset (`length = 20` and `rule "charset" { charset = "…" min-chars = 1 }`) or the same in JSON.
 */
import { badRequest } from '../../lib/errors.ts';
import { blocks, HclSyntaxError, parseDocument, type HclObject } from '../../lib/hcl/parse.ts';
import type { Random } from '../../lib/random.ts';
import type { PasswordPolicies } from '../integrity/password-policies.ts';
import type { PasswordGenerator } from '../engine.ts';

export interface PasswordPolicy {
  length: number;
  rules: { charset: string; minChars: number }[];
}

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';

/** Vault's default policy: 20 characters from a-z A-Z 0-9 and '-', at least one of each class. */
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = {
  length: 20,
  rules: [
    { charset: LOWER, minChars: 1 },
    { charset: UPPER, minChars: 1 },
    { charset: DIGITS, minChars: 1 },
    { charset: '-', minChars: 1 },
  ],
};

const MAX_LENGTH = 4096;

function check(p: PasswordPolicy): PasswordPolicy {
  if (!Number.isInteger(p.length) || p.length < 4 || p.length > MAX_LENGTH) throw badRequest(`policy: length must be 4 to ${MAX_LENGTH}`);
  if (p.rules.length === 0) throw badRequest('policy: at least one charset rule is required');
  let min = 0;
  for (const r of p.rules) {
    if (r.charset.length === 0 || [...r.charset].length > 1024) throw badRequest('policy: a charset must have 1 to 1024 characters');
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
    if (/[\u0000-\u001f\u007f]/.test(r.charset)) throw badRequest('policy: control characters are not allowed in a charset');
    if (!Number.isInteger(r.minChars) || r.minChars < 0) throw badRequest('policy: min-chars must be a whole number');
    min += r.minChars;
  }
  if (min > p.length) throw badRequest(`policy: the rules need ${min} characters but length is ${p.length}: it cannot be satisfied`);
  return { length: p.length, rules: p.rules.map((r) => ({ charset: [...new Set(r.charset)].join(''), minChars: r.minChars })) };
}

const RULE_KEYS = new Set(['charset', 'min-chars']);

function fromTree(tree: HclObject): PasswordPolicy {
  let length = NaN;
  for (const it of tree.items) {
    const key = it.keys[0] ?? '';
    if (key === 'length' && it.keys.length === 1) {
      if (typeof it.value !== 'number') throw badRequest('policy: length must be a number');
      length = it.value;
    } else if (key !== 'rule') {
      throw badRequest(`policy: invalid key "${key.slice(0, 40)}" on line ${it.line}`);
    }
  }
  const rules = blocks(tree, 'rule', 1).map((b) => {
    if (b.labels[0] !== 'charset') throw badRequest(`policy: unknown rule type "${(b.labels[0] ?? '').slice(0, 40)}" (sealbox has "charset")`);
    let charset = '';
    let minChars = 0;
    for (const it of b.body.items) {
      const key = it.keys[0] ?? '';
      if (!RULE_KEYS.has(key) || it.keys.length > 1) throw badRequest(`policy: rule "charset": invalid key "${key.slice(0, 40)}" on line ${it.line}`);
      if (key === 'charset') {
        if (typeof it.value !== 'string') throw badRequest('policy: charset must be a string');
        charset = it.value;
      } else {
        if (typeof it.value !== 'number') throw badRequest('policy: min-chars must be a whole number');
        minChars = it.value;
      }
    }
    return { charset, minChars };
  });
  return { length, rules };
}

/** Parses a policy document (HCL or JSON, through the one HCL parser); a bad or unsatisfiable one is a 400 that says why. */
export function parsePasswordPolicy(text: string): PasswordPolicy {
  if (text.length > 64 * 1024) throw badRequest('policy: larger than 64 KiB');
  try {
    return check(fromTree(parseDocument(text)));
  } catch (err) {
    if (err instanceof HclSyntaxError) throw badRequest(`policy: ${err.message.startsWith('line 1, column 1: malformed') ? 'malformed JSON' : `cannot parse HCL: ${err.message}`}`);
    throw err;
  }
}

/** Uniformly random indexes without modulo bias, drawn from one buffer of random bytes (one call, not one per character). */
function indexSource(random: Random, expected: number): (n: number) => number {
  let buf = random.bytes(4 * expected);
  let off = 0;
  return (n) => {
    const limit = Math.floor(0x1_0000_0000 / n) * n;
    for (;;) {
      if (off + 4 > buf.length) {
        buf = random.bytes(4 * expected);
        off = 0;
      }
      const v = buf.readUInt32BE(off);
      off += 4;
      if (v < limit) return v % n;
    }
  };
}

/** A password that satisfies every rule: the minimums first, the rest from all charsets, then shuffled. */
export function generatePassword(p: PasswordPolicy, random: Random): string {
  const below = indexSource(random, p.length * 2 + 8);
  const chars: string[] = [];
  // Code points, not UTF-16 units: a charset may hold characters outside the Basic Multilingual Plane.
  for (const r of p.rules) {
    const cs = [...r.charset];
    for (let i = 0; i < r.minChars; i++) chars.push(cs[below(cs.length)] ?? '');
  }
  const all = [...new Set(p.rules.flatMap((r) => [...r.charset]))];
  while (chars.length < p.length) chars.push(all[below(all.length)] ?? '');
  for (let i = chars.length - 1; i > 0; i--) {
    const j = below(i + 1);
    [chars[i], chars[j]] = [chars[j] ?? '', chars[i] ?? ''];
  }
  return chars.join('');
}

export function createPasswordGenerator(deps: { store: Pick<PasswordPolicies, 'get'>; random: Random }): PasswordGenerator {
  return {
    async generate(policyName?: string): Promise<string> {
      if (!policyName) return generatePassword(DEFAULT_PASSWORD_POLICY, deps.random);
      const stored = await deps.store.get(policyName);
      if (!stored) throw badRequest(`password policy "${policyName.slice(0, 64)}" does not exist`);
      return generatePassword(stored.policy, deps.random);
    },
  };
}
