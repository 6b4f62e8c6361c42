import { badRequest } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { blocks, HclSyntaxError, isObject, parseDocument, type HclObject, type HclValue } from '../../../lib/hcl/parse.ts';
import type { Capability } from '../policy.ts';

/** A parameter value a policy allows or denies: what JSON and HCL can write (objects kept as plain JSON). */
export type ParamValue = string | number | boolean | null | ParamValue[] | { [k: string]: ParamValue };

export interface PolicyRule {
  path: string;
  capabilities: Capability[];
  /** Vault's allowed_parameters / denied_parameters: lower-cased name (or "*") → values (an empty list: any value). */
  allowedParameters?: Record<string, ParamValue[]>;
  deniedParameters?: Record<string, ParamValue[]>;
  requiredParameters?: string[];
  /** Seconds. */
  minWrappingTtl?: number;
  maxWrappingTtl?: number;
}

const CAPABILITIES: ReadonlySet<string> = new Set(['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny']);
/** Vault's pre-capabilities `policy = "read"` shorthand. */
const OLD_POLICY: Record<string, Capability[]> = {
  deny: ['deny'],
  read: ['read', 'list'],
  write: ['create', 'read', 'update', 'delete', 'list'],
  sudo: ['create', 'read', 'update', 'delete', 'list', 'sudo'],
};
const RULE_KEYS = new Set(['capabilities', 'policy', 'allowed_parameters', 'denied_parameters', 'required_parameters', 'min_wrapping_ttl', 'max_wrapping_ttl']);
const MAX_RULES = 1000;
const MAX_PARAMS = 256;

const short = (s: string): string => s.slice(0, 60);

function checkPath(path: string): string {
  if (path.length === 0 || path.length > 512) throw badRequest(`policy path "${short(path)}": must be 1 to 512 characters`);
  const p = path.replace(/^\/+/, '');
  const star = p.indexOf('*');
  if (star !== -1 && star !== p.length - 1) throw badRequest(`policy path "${short(p)}": "*" is allowed only at the end`);
  for (const seg of p.split('/')) {
    if (seg.includes('+') && seg !== '+') throw badRequest(`policy path "${short(p)}": "+" must be a whole segment`);
    if (seg === '..' || seg === '.') throw badRequest(`policy path "${short(p)}": dot segments are not allowed`);
  }
  return p;
}

/** Capabilities OpenBao (scan) and Vault (subscribe, recover) know, for operations sealbox does not have. */
const KNOWN_UNSUPPORTED = new Set(['scan', 'subscribe', 'recover']);

function checkCapabilities(path: string, caps: unknown): Capability[] {
  if (!Array.isArray(caps)) throw badRequest(`policy path "${short(path)}": capabilities must be a list`);
  const out: Capability[] = [];
  for (const c of caps) {
    if (typeof c === 'string' && KNOWN_UNSUPPORTED.has(c)) {
      throw badRequest(`policy path "${short(path)}": capability "${c}" is not supported (sealbox has no ${c} operation)`);
    }
    if (typeof c !== 'string' || !CAPABILITIES.has(c)) {
      throw badRequest(`policy path "${short(path)}": unknown capability "${String(c).slice(0, 30)}"`);
    }
    out.push(c as Capability);
  }
  // Vault: deny excludes every other capability.
  return out.includes('deny') ? ['deny'] : [...new Set(out)];
}

/** A tree value as plain JSON (parameter values are compared with request data, which is JSON). */
function plain(v: HclValue): ParamValue {
  if (Array.isArray(v)) return v.map(plain);
  if (isObject(v)) return Object.fromEntries(v.items.map((it) => [it.keys.join('.'), plain(it.value)]));
  return v;
}

/** allowed_parameters = { "name" = ["v", …] } (or the block form): lower-cased names, each a list of values. */
function parameterMap(path: string, field: string, v: HclValue): Record<string, ParamValue[]> {
  const items = isObject(v) ? v.items : Array.isArray(v) && v.every(isObject) ? v.flatMap((o) => (o as HclObject).items) : null;
  if (!items) throw badRequest(`policy path "${short(path)}": ${field} must be a map of parameter names to lists of values`);
  if (items.length > MAX_PARAMS) throw badRequest(`policy path "${short(path)}": ${field} has more than ${MAX_PARAMS} parameters`);
  // fromEntries defines own properties, so a parameter named "__proto__" stays an ordinary key.
  return Object.fromEntries(
    items.map((it) => {
      if (it.keys.length !== 1) throw badRequest(`policy path "${short(path)}": ${field}: write "name" = [values]`);
      const values = plain(it.value);
      return [(it.keys[0] ?? '').toLowerCase(), Array.isArray(values) ? values : [values]];
    }),
  );
}

function wrappingTtl(path: string, field: string, v: HclValue): number {
  if (typeof v !== 'string' && typeof v !== 'number') throw badRequest(`policy path "${short(path)}": ${field} must be a duration`);
  return parseDuration(v, `policy path "${short(path)}": ${field}`);
}

function rule(rawPath: string, body: HclObject): PolicyRule {
  const path = checkPath(rawPath);
  const out: PolicyRule = { path, capabilities: [] };
  const caps: Capability[] = [];
  for (const it of body.items) {
    const key = it.keys[0] ?? '';
    if (!RULE_KEYS.has(key) || it.keys.length > 1) throw badRequest(`policy path "${short(path)}": invalid key "${short(it.keys.join(' '))}"`);
    const v = it.value;
    switch (key) {
      case 'capabilities':
        caps.push(...checkCapabilities(path, v));
        break;
      case 'policy': {
        const old = typeof v === 'string' ? OLD_POLICY[v] : undefined;
        if (!old) throw badRequest(`policy path "${short(path)}": invalid policy "${short(String(v))}"`);
        caps.push(...old);
        break;
      }
      case 'allowed_parameters':
        out.allowedParameters = { ...out.allowedParameters, ...parameterMap(path, key, v) };
        break;
      case 'denied_parameters':
        out.deniedParameters = { ...out.deniedParameters, ...parameterMap(path, key, v) };
        break;
      case 'required_parameters': {
        const list = Array.isArray(v) ? v : [v];
        if (!list.every((x) => typeof x === 'string')) throw badRequest(`policy path "${short(path)}": required_parameters must be a list of names`);
        out.requiredParameters = [...new Set(list as string[])];
        break;
      }
      case 'min_wrapping_ttl':
        out.minWrappingTtl = wrappingTtl(path, key, v);
        break;
      case 'max_wrapping_ttl':
        out.maxWrappingTtl = wrappingTtl(path, key, v);
        break;
    }
  }
  out.capabilities = caps.includes('deny') ? ['deny'] : [...new Set(caps)];
  if (out.minWrappingTtl && out.maxWrappingTtl && out.maxWrappingTtl < out.minWrappingTtl) {
    throw badRequest(`policy path "${short(path)}": max_wrapping_ttl cannot be less than min_wrapping_ttl`);
  }
  if (out.capabilities[0] === 'deny') {
    // Vault keeps nothing else for a denied path.
    delete out.allowedParameters;
    delete out.deniedParameters;
  }
  return out;
}

/** Parses a Vault policy document, JSON or HCL, into rules. Bad documents are 400s that say where. */
export function parsePolicy(text: string): PolicyRule[] {
  if (text.length > 256 * 1024) throw badRequest('policy: larger than 256 KiB');
  let tree: HclObject;
  try {
    tree = parseDocument(text);
  } catch (err) {
    if (err instanceof HclSyntaxError) {
      throw badRequest(err.message.includes('malformed JSON') ? `policy: ${err.message.replace(/^line 1, column 1: /, '')}` : `policy: cannot parse HCL: ${err.message}`);
    }
    throw err;
  }
  for (const it of tree.items) {
    if (it.keys[0] !== 'path' && it.keys[0] !== 'name') throw badRequest(`policy: invalid key "${short(it.keys[0] ?? '')}" on line ${it.line}`);
  }
  let found: ReturnType<typeof blocks>;
  try {
    found = blocks(tree, 'path', 1);
  } catch (err) {
    if (err instanceof HclSyntaxError) throw badRequest(`policy: ${err.message}`);
    throw err;
  }
  if (found.length > MAX_RULES) throw badRequest(`policy: more than ${MAX_RULES} path rules`);
  return found.map((b) => rule(b.labels[0] ?? '', b.body));
}
