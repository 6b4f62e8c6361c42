import type { Permissions } from './compile.ts';
import type { ParamValue } from './parse.ts';

/** go-secure-stdlib's GlobbedStringsMatch: a leading and/or trailing "*" only; anything shorter than 2 is literal. */
export function globbedStringsMatch(item: string, val: string): boolean {
  if (item.length < 2) return val === item;
  const pre = item.startsWith('*');
  const suf = item.endsWith('*');
  if (pre && suf) return val.includes(item.slice(1, -1));
  if (pre) return val.endsWith(item.slice(1));
  if (suf) return val.startsWith(item.slice(0, -1));
  return val === item;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/** Vault's valueInParameterList: an empty list holds every value; strings match as globs; anything else must be equal. */
export function valueInParameterList(v: unknown, list: readonly ParamValue[]): boolean {
  if (list.length === 0) return true;
  return list.some((el) => {
    if (el === null || v === null || v === undefined) return el === (v ?? null);
    if (typeof el === 'string' && typeof v === 'string') return globbedStringsMatch(el, v);
    return deepEqual(el, v);
  });
}

const lookup = (map: Record<string, ParamValue[]>, name: string): ParamValue[] | undefined =>
  Object.hasOwn(map, name) ? map[name] : undefined;

/**
 * Vault's parameter constraints (vault/acl.go AllowOperation) on a request's data: required parameters must be
 * present; with data, a denied parameter (or "*") refuses, and when allowed_parameters is set every parameter must be
 * allowed ("*" allows any name) with an allowed value. Denied wins over allowed.
 */
export function parametersAllowed(perms: Permissions, data: Readonly<Record<string, unknown>>): boolean {
  for (const p of perms.requiredParameters ?? []) if (!Object.hasOwn(data, p.toLowerCase())) return false;
  const names = Object.keys(data);
  if (names.length === 0) return true;
  const denied = perms.deniedParameters;
  if (denied && Object.keys(denied).length > 0) {
    if (Object.hasOwn(denied, '*')) return false;
    for (const name of names) {
      const values = lookup(denied, name.toLowerCase());
      if (values && valueInParameterList(data[name], values)) return false;
    }
  }
  const allowed = perms.allowedParameters;
  if (!allowed || Object.keys(allowed).length === 0) return true;
  const allowedAll = Object.hasOwn(allowed, '*');
  if (allowedAll && Object.keys(allowed).length === 1) return true;
  for (const name of names) {
    const values = lookup(allowed, name.toLowerCase());
    if (!values && !allowedAll) return false;
    if (values && !valueInParameterList(data[name], values)) return false;
  }
  return true;
}
