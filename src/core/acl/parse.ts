import { badRequest } from '../../lib/errors.ts';
import type { Capability } from '../policy.ts';

export interface PolicyRule {
  path: string;
  capabilities: Capability[];
}

const CAPABILITIES: ReadonlySet<string> = new Set(['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny']);
const MAX_RULES = 1000;

function checkPath(path: string): string {
  if (path.length === 0 || path.length > 512) throw badRequest(`policy path "${path.slice(0, 60)}": must be 1 to 512 characters`);
  const p = path.replace(/^\/+/, '');
  const star = p.indexOf('*');
  if (star !== -1 && star !== p.length - 1) throw badRequest(`policy path "${p.slice(0, 60)}": "*" is allowed only at the end`);
  for (const seg of p.split('/')) {
    if (seg.includes('+') && seg !== '+') throw badRequest(`policy path "${p.slice(0, 60)}": "+" must be a whole segment`);
    if (seg === '..' || seg === '.') throw badRequest(`policy path "${p.slice(0, 60)}": dot segments are not allowed`);
  }
  return p;
}

function checkCapabilities(path: string, caps: unknown): Capability[] {
  if (!Array.isArray(caps)) throw badRequest(`policy path "${path.slice(0, 60)}": capabilities must be a list`);
  const out: Capability[] = [];
  for (const c of caps) {
    if (typeof c !== 'string' || !CAPABILITIES.has(c)) {
      throw badRequest(`policy path "${path.slice(0, 60)}": unknown capability "${String(c).slice(0, 30)}"`);
    }
    out.push(c as Capability);
  }
  return [...new Set(out)];
}

/** JSON form: {"path": {"secret/*": {"capabilities": ["read"]}}}. */
function parseJson(doc: unknown): PolicyRule[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badRequest('policy: must be a JSON object');
  const paths = (doc as { path?: unknown }).path;
  if (paths === undefined) return [];
  if (typeof paths !== 'object' || paths === null || Array.isArray(paths)) throw badRequest('policy: "path" must be an object');
  return Object.entries(paths).map(([path, body]) => {
    const caps = typeof body === 'object' && body !== null ? (body as { capabilities?: unknown }).capabilities : undefined;
    return { path: checkPath(path), capabilities: checkCapabilities(path, caps ?? []) };
  });
}

/** The HCL subset policies use: path "…" { capabilities = ["read", …] } blocks and # or // comments. */
function parseHcl(text: string): PolicyRule[] {
  const stripped = text.replace(/(^|\s)(#|\/\/)[^\n]*/g, '$1');
  const block = /path\s+"([^"]*)"\s*\{\s*([^}]*)\}/gy;
  const rules: PolicyRule[] = [];
  let pos = 0;
  const skipSpace = () => {
    while (pos < stripped.length && /\s/.test(stripped[pos] ?? '')) pos++;
  };
  skipSpace();
  while (pos < stripped.length) {
    block.lastIndex = pos;
    const m = block.exec(stripped);
    if (!m) throw badRequest(`policy: cannot parse HCL near "${stripped.slice(pos, pos + 40)}" (expected path "…" { capabilities = [...] })`);
    const body = m[2] ?? '';
    const caps = /^\s*capabilities\s*=\s*\[([^\]]*)\]\s*$/.exec(body);
    if (!caps) throw badRequest(`policy path "${(m[1] ?? '').slice(0, 60)}": expected capabilities = [...]`);
    const list = [...(caps[1] ?? '').matchAll(/"([^"]*)"/g)].map((x) => x[1]);
    rules.push({ path: checkPath(m[1] ?? ''), capabilities: checkCapabilities(m[1] ?? '', list) });
    pos = block.lastIndex;
    skipSpace();
  }
  return rules;
}

/** Parses a Vault policy document, JSON or HCL, into rules. Bad documents are 400s that say where. */
export function parsePolicy(text: string): PolicyRule[] {
  if (text.length > 256 * 1024) throw badRequest('policy: larger than 256 KiB');
  const trimmed = text.trim();
  let rules: PolicyRule[];
  if (trimmed.startsWith('{')) {
    let doc: unknown;
    try {
      doc = JSON.parse(trimmed);
    } catch {
      throw badRequest('policy: malformed JSON');
    }
    rules = parseJson(doc);
  } else {
    rules = parseHcl(trimmed);
  }
  if (rules.length > MAX_RULES) throw badRequest(`policy: more than ${MAX_RULES} path rules`);
  return rules;
}
