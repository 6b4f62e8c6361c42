import type { Capability, WrappingLimits } from '../policy.ts';
import type { PolicyRule } from './parse.ts';

/** A compiled policy set: the capabilities it grants on a concrete request path. */
export interface Acl {
  capabilities(path: string): ReadonlySet<Capability>;
  /** The merged min/max_wrapping_ttl of the rule that decides `path` (absent or null: none); the pipeline enforces it. */
  wrappingLimits?(path: string): WrappingLimits | null;
}

interface Pattern {
  path: string;
  caps: Set<Capability>;
  glob: boolean;
  re: RegExp;
  /** Index of the first "+" or "*" (Vault's first precedence rule). */
  firstWildcard: number;
  plusCount: number;
}

const NONE: ReadonlySet<Capability> = new Set();
const MEMO_MAX = 4096;

function firstWildcard(path: string): number {
  const plus = path.split('/').findIndex((s) => s === '+');
  const plusAt = plus === -1 ? -1 : path.split('/').slice(0, plus).join('/').length + (plus > 0 ? 1 : 0);
  const star = path.indexOf('*');
  const candidates = [plusAt, star].filter((i) => i >= 0);
  return candidates.length > 0 ? Math.min(...candidates) : path.length;
}

/** Vault's priority: later first wildcard, then no trailing glob, then fewer "+", then longer, then lexically larger. */
function higherPriority(a: Pattern, b: Pattern): boolean {
  if (a.firstWildcard !== b.firstWildcard) return a.firstWildcard > b.firstWildcard;
  if (a.glob !== b.glob) return !a.glob;
  if (a.plusCount !== b.plusCount) return a.plusCount < b.plusCount;
  if (a.path.length !== b.path.length) return a.path.length > b.path.length;
  return a.path > b.path;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** "+" is one path segment; a trailing "*" is any suffix, "/" included. */
function toRegExp(path: string): RegExp {
  const glob = path.endsWith('*');
  const body = (glob ? path.slice(0, -1) : path)
    .split('/')
    .map((seg) => (seg === '+' ? '[^/]*' : escape(seg)))
    .join('/');
  return new RegExp(`^${body}${glob ? '.*' : ''}$`, 's');
}

/**
 * Compiles rules from one or more policies. Rules for the same path are merged (their capabilities unite; a
 * `deny` among them denies). Evaluation picks the single most specific matching path, as Vault does.
 */
export function compileAcl(rules: readonly PolicyRule[]): Acl {
  const byPath = new Map<string, Set<Capability>>();
  for (const r of rules) {
    const caps = byPath.get(r.path) ?? new Set<Capability>();
    for (const c of r.capabilities) caps.add(c);
    byPath.set(r.path, caps);
  }
  const exact = new Map<string, Set<Capability>>();
  const wild: Pattern[] = [];
  for (const [path, caps] of byPath) {
    if (caps.has('deny')) {
      caps.clear();
      caps.add('deny');
    }
    const glob = path.endsWith('*');
    const hasPlus = path.split('/').includes('+');
    if (!glob && !hasPlus) {
      exact.set(path, caps);
      continue;
    }
    wild.push({ path, caps, glob, re: toRegExp(path), firstWildcard: firstWildcard(path), plusCount: path.split('/').filter((s) => s === '+').length });
  }
  // Most specific first: the first match wins.
  wild.sort((a, b) => (higherPriority(a, b) ? -1 : higherPriority(b, a) ? 1 : 0));
  // Services read the same few paths over and over: remember each path's answer (bounded).
  const memo = new Map<string, ReadonlySet<Capability>>();
  return {
    capabilities(path) {
      const hit = exact.get(path);
      if (hit) return hit;
      const known = memo.get(path);
      if (known) return known;
      let caps = NONE;
      for (const p of wild) {
        if (p.re.test(path)) {
          caps = p.caps;
          break;
        }
      }
      if (memo.size >= MEMO_MAX) memo.clear();
      memo.set(path, caps);
      return caps;
    },
  };
}
