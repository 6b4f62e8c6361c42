import type { Capability } from '../policy.ts';
import type { ParamValue, PolicyRule } from './parse.ts';

/** What the most specific rule for a path grants: capabilities and Vault's per-path constraints. */
export interface Permissions {
  caps: ReadonlySet<Capability>;
  allowedParameters?: Record<string, ParamValue[]>;
  deniedParameters?: Record<string, ParamValue[]>;
  requiredParameters?: string[];
  minWrappingTtl?: number;
  maxWrappingTtl?: number;
}

/** A compiled policy set: the capabilities (and constraints) it grants on a concrete request path. */
export interface Acl {
  capabilities(path: string): ReadonlySet<Capability>;
  /** Whether some rule grants a capability (other than deny) on some path under `prefix` (a mount path, "secret/"). */
  anyUnder(prefix: string): boolean;
  permissions(path: string): Permissions;
}

interface MutablePermissions extends Permissions {
  caps: Set<Capability>;
}

/** Whether a rule path could match a path that starts with `prefix`, segment by segment ("+" is any one segment). */
export function couldMatchUnder(rule: string, prefix: string): boolean {
  const want = prefix.replace(/\/+$/, '').split('/');
  const have = rule.split('/');
  for (let i = 0; i < want.length; i++) {
    const seg = have[i];
    if (seg === undefined) return false;
    if (seg === '+') continue;
    const w = want[i] ?? '';
    if (seg.endsWith('*') && i === have.length - 1) return w.startsWith(seg.slice(0, -1));
    if (seg !== w) return false;
  }
  return true;
}

interface Pattern {
  path: string;
  caps: Set<Capability>;
  perms: MutablePermissions;
  glob: boolean;
  re: RegExp;
  /** Index of the first "+" or "*" (Vault's first precedence rule). */
  firstWildcard: number;
  plusCount: number;
}

const NONE: Permissions = { caps: new Set() };
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

/** Vault's merge of parameter maps: values append, and an empty list (any value) overrides any list. */
function mergeParams(into: Record<string, ParamValue[]> | undefined, from: Record<string, ParamValue[]> | undefined) {
  if (!from || Object.keys(from).length === 0) return into;
  if (!into) return Object.fromEntries(Object.entries(from).map(([k, v]) => [k, [...v]]));
  const out = Object.fromEntries(Object.entries(into));
  for (const [k, v] of Object.entries(from)) {
    const had = Object.hasOwn(out, k) ? out[k] : undefined;
    out[k] = v.length === 0 || (had !== undefined && had.length === 0) ? [] : [...v, ...(had ?? [])];
  }
  return out;
}

/** The lesser of two set (non-zero) TTLs, as Vault prefers the shorter lifetime for both bounds. */
const lesser = (a: number | undefined, b: number | undefined): number | undefined => (a && b ? Math.min(a, b) : a || b || undefined);

/** Vault's NewACL merge of one more rule for a path already seen (vault/acl.go). */
function merge(p: MutablePermissions, r: PolicyRule): void {
  if (p.caps.has('deny')) return;
  if (r.capabilities.includes('deny')) {
    p.caps.clear();
    p.caps.add('deny');
    delete p.allowedParameters;
    delete p.deniedParameters;
  } else {
    for (const c of r.capabilities) p.caps.add(c);
  }
  const maxW = lesser(p.maxWrappingTtl, r.maxWrappingTtl);
  const minW = lesser(p.minWrappingTtl, r.minWrappingTtl);
  if (maxW !== undefined) p.maxWrappingTtl = maxW;
  if (minW !== undefined) p.minWrappingTtl = minW;
  if (!p.caps.has('deny')) {
    const allowed = mergeParams(p.allowedParameters, r.allowedParameters);
    const denied = mergeParams(p.deniedParameters, r.deniedParameters);
    if (allowed) p.allowedParameters = allowed;
    if (denied) p.deniedParameters = denied;
  }
  if (r.requiredParameters && r.requiredParameters.length > 0) {
    p.requiredParameters = [...new Set([...(p.requiredParameters ?? []), ...r.requiredParameters])];
  }
}

function fresh(r: PolicyRule): MutablePermissions {
  const p: MutablePermissions = { caps: new Set(r.capabilities.includes('deny') ? ['deny'] : r.capabilities) };
  if (r.capabilities.includes('deny')) return { ...p, ...(r.minWrappingTtl ? { minWrappingTtl: r.minWrappingTtl } : {}), ...(r.maxWrappingTtl ? { maxWrappingTtl: r.maxWrappingTtl } : {}) };
  const allowed = mergeParams(undefined, r.allowedParameters);
  const denied = mergeParams(undefined, r.deniedParameters);
  if (allowed) p.allowedParameters = allowed;
  if (denied) p.deniedParameters = denied;
  if (r.requiredParameters && r.requiredParameters.length > 0) p.requiredParameters = [...r.requiredParameters];
  if (r.minWrappingTtl) p.minWrappingTtl = r.minWrappingTtl;
  if (r.maxWrappingTtl) p.maxWrappingTtl = r.maxWrappingTtl;
  return p;
}

/**
 * Compiles rules from one or more policies. Rules for the same path are merged as Vault merges them (capabilities
 * unite; a `deny` among them denies; parameter lists append; the shorter wrapping TTLs win). Evaluation picks the
 * single most specific matching path, as Vault does.
 */
export function compileAcl(rules: readonly PolicyRule[]): Acl {
  const byPath = new Map<string, MutablePermissions>();
  for (const r of rules) {
    const had = byPath.get(r.path);
    if (had) merge(had, r);
    else byPath.set(r.path, fresh(r));
  }
  const exact = new Map<string, MutablePermissions>();
  const wild: Pattern[] = [];
  for (const [path, perms] of byPath) {
    const caps = perms.caps;
    const glob = path.endsWith('*');
    const hasPlus = path.split('/').includes('+');
    if (!glob && !hasPlus) {
      exact.set(path, perms);
      continue;
    }
    wild.push({ path, caps, perms, glob, re: toRegExp(path), firstWildcard: firstWildcard(path), plusCount: path.split('/').filter((s) => s === '+').length });
  }
  // Most specific first: the first match wins.
  wild.sort((a, b) => (higherPriority(a, b) ? -1 : higherPriority(b, a) ? 1 : 0));
  // Services read the same few paths over and over: remember each path's answer (bounded).
  const memo = new Map<string, Permissions>();
  const granting = [...byPath].filter(([, perms]) => perms.caps.size > 0 && !perms.caps.has('deny')).map(([path]) => path);
  const permissions = (path: string): Permissions => {
    const hit = exact.get(path);
    if (hit) return hit;
    const known = memo.get(path);
    if (known) return known;
    let found = NONE;
    for (const p of wild) {
      if (p.re.test(path)) {
        found = p.perms;
        break;
      }
    }
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(path, found);
    return found;
  };
  return {
    anyUnder: (prefix) => granting.some((path) => couldMatchUnder(path, prefix)),
    permissions,
    capabilities: (path) => permissions(path).caps,
  };
}
