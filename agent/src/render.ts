/**
 * Templates: `{{field}}` (or `{{a.b}}` for nested fields) over the secret's data (KV v2: the inner data), plus
 * helpers:
 *   {{json}} / {{json field}}   JSON of all the data / of one field
 *   {{env field}}               the value quoted for an env file: "…" with \ " $ ` and newlines escaped
 *   {{env_file}}                every top-level field as KEY="value" lines (keys upper-cased, other characters → _)
 *   {{url field}}               the value percent-encoded (for a password inside a URL)
 *   {{pem_bundle}}              PKI: private key, certificate, then the CA chain, each PEM block once
 * Without a template the file is the JSON of the data. A placeholder for a field the data does not have is an
 * error (a file with a silent blank would be worse).
 */
export type Data = Record<string, unknown>;

export class RenderError extends Error {
  override readonly name = 'RenderError';
}

function lookup(data: Data, field: string): unknown {
  let cur: unknown = data;
  for (const part of field.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, part)) throw new RenderError(`template: the secret has no field "${field}"`);
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function envQuote(v: unknown): string {
  const s = text(v).replace(/[\\"$`]/g, (c) => `\\${c}`).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  return `"${s}"`;
}

function envFile(data: Data): string {
  return Object.entries(data)
    .map(([k, v]) => `${k.toUpperCase().replace(/[^A-Z0-9_]/g, '_').replace(/^(\d)/, '_$1')}=${envQuote(v)}\n`)
    .join('');
}

function pemBundle(data: Data): string {
  const blocks: string[] = [];
  const add = (v: unknown): void => {
    const items = Array.isArray(v) ? v : [v];
    for (const item of items) {
      if (typeof item !== 'string' || item.trim() === '') continue;
      const block = item.trim();
      if (!blocks.includes(block)) blocks.push(block);
    }
  };
  if (data.certificate === undefined) throw new RenderError('template: pem_bundle needs a PKI certificate (the secret has no field "certificate")');
  add(data.private_key);
  add(data.certificate);
  add(data.ca_chain ?? data.issuing_ca);
  return blocks.map((b) => `${b}\n`).join('');
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)(?:\s+([A-Za-z_][\w.-]*))?\s*\}\}/g;

/** Check a template's syntax once at start-up (unknown helper, stray braces). */
export function checkTemplate(template: string): void {
  const stripped = template.replace(PLACEHOLDER, (_m, name: string, arg: string | undefined) => {
    if (arg !== undefined && !['json', 'env', 'url'].includes(name)) throw new RenderError(`template: unknown helper "${name}" in "{{${name} ${arg}}}"`);
    return '';
  });
  const stray = /\{\{[^}]*\}?\}?/.exec(stripped);
  if (stray) throw new RenderError(`template: cannot read placeholder "${stray[0]}" (expected {{field}} or {{helper field}})`);
}

export function render(template: string | undefined, data: Data): string {
  if (template === undefined) return `${JSON.stringify(data, null, 2)}\n`;
  return template.replace(PLACEHOLDER, (_m, name: string, arg: string | undefined) => {
    if (arg === undefined) {
      if (name === 'json') return JSON.stringify(data);
      if (name === 'env_file') return envFile(data);
      if (name === 'pem_bundle') return pemBundle(data);
      return text(lookup(data, name));
    }
    const value = lookup(data, arg);
    if (name === 'json') return JSON.stringify(value);
    if (name === 'env') return envQuote(value);
    if (name === 'url') return encodeURIComponent(text(value));
    throw new RenderError(`template: unknown helper "${name}"`);
  });
}
