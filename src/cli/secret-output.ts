import { UsageError } from './errors.ts';
import { formatFlag, stringFlag, type FlagSpecs, type ParsedFlags } from './flags.ts';
import { json, renderTable } from './output.ts';
import { formatDurationShort } from '../lib/durations.ts';

/**
 * Printing API answers the way the `vault` CLI does: a `Key  Value` table of the lease, auth and data fields (data keys
 * sorted), `Keys` lists, and `-field=NAME` printing one value alone (with no trailing newline unless stdout is a
 * terminal, so that `$(sealbox kv get -field=password …)` and `> file` get exactly the value).
 */
export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Values in tables are printed as they are (a certificate keeps its lines), but control characters other than newline and
 * tab, and bidirectional overrides, are escaped: a secret's value is chosen by whoever wrote it, and must not drive the
 * reader's terminal.
 */
export function tableSafe(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's `%v`, as Vault prints nested values: `[a b]`, `map[k:v]`, `<nil>`. */
export function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (typeof v === 'string') return v === '' ? 'n/a' : tableSafe(v);
  if (Array.isArray(v)) return `[${v.map(formatValue).join(' ')}]`;
  if (isObject(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${tableSafe(k)}:${formatValue(v[k])}`)
      .join(' ')}]`;
  }
  return String(v as number | boolean);
}

/** Seconds as Vault shows them: 2764800 → "768h", 5400 → "1h30m", 90 → "1m30s", 0 → "0s". */
export function formatDuration(seconds: unknown): string {
  const n = typeof seconds === 'number' ? seconds : Number(seconds);
  return Number.isFinite(n) ? formatDurationShort(n) : formatValue(seconds);
}

/** `Key  Value` with the `---  -----` rule under the header, like `vault read`. */
export function renderPairs(pairs: readonly (readonly [string, string])[]): string {
  return renderTable(['Key', 'Value'], [['---', '-----'], ...pairs.map(([k, v]) => [tableSafe(k), v])]);
}

export const dataPairs = (data: Json): [string, string][] =>
  Object.keys(data)
    .sort()
    .map((k) => [k, formatValue(data[k])]);

/** The fields `vault` shows for an answer that carries a token (`auth`). */
function authPairs(auth: Json): [string, string][] {
  const pairs: [string, string][] = [
    ['token', formatValue(auth.client_token)],
    ['token_accessor', formatValue(auth.accessor)],
    ['token_duration', auth.lease_duration === 0 ? '∞' : formatDuration(auth.lease_duration)],
    ['token_renewable', formatValue(auth.renewable)],
    ['token_policies', formatValue(auth.token_policies ?? auth.policies ?? [])],
    ['identity_policies', formatValue(auth.identity_policies ?? [])],
    ['policies', formatValue(auth.policies ?? [])],
  ];
  const meta = auth.metadata;
  if (isObject(meta)) for (const k of Object.keys(meta).sort()) pairs.push([`token_meta_${k}`, formatValue(meta[k])]);
  return pairs;
}

function leasePairs(body: Json): [string, string][] {
  const id = typeof body.lease_id === 'string' ? body.lease_id : '';
  const duration = typeof body.lease_duration === 'number' ? body.lease_duration : 0;
  if (id !== '') {
    return [
      ['lease_id', formatValue(id)],
      ['lease_duration', formatDuration(duration)],
      ['lease_renewable', formatValue(body.renewable ?? false)],
    ];
  }
  return duration > 0 ? [['refresh_interval', formatDuration(duration)]] : [];
}

/** A whole answer (envelope) as one table: lease, then auth, then data. */
export function renderSecret(body: unknown): string {
  if (!isObject(body)) return '';
  const pairs = [...leasePairs(body), ...(isObject(body.auth) ? authPairs(body.auth) : []), ...(isObject(body.data) ? dataPairs(body.data) : [])];
  return pairs.length === 0 ? '' : renderPairs(pairs);
}

/** Vault's warnings go to stderr: they are advice, not output a script should parse. */
export function printWarnings(body: unknown): void {
  if (!isObject(body) || !Array.isArray(body.warnings) || body.warnings.length === 0) return;
  const lines = body.warnings.map((w) => `  * ${tableSafe(String(w))}`).join('\n');
  process.stderr.write(`WARNING! The following warnings were returned from sealbox:\n\n${lines}\n\n`);
}

export function renderKeys(keys: readonly unknown[]): string {
  return ['Keys', '----', ...keys.map((k) => tableSafe(String(k)))].join('\n') + '\n';
}

/** The value of `-field=NAME`: a data field, else an auth or lease field under the name `vault` shows it by. */
export function fieldOf(body: unknown, field: string, data?: Json): unknown {
  const b = isObject(body) ? body : {};
  const d = data ?? (isObject(b.data) ? b.data : {});
  if (Object.hasOwn(d, field)) return d[field];
  const auth = isObject(b.auth) ? b.auth : undefined;
  const authNames: Record<string, string> = {
    token: 'client_token',
    token_accessor: 'accessor',
    token_duration: 'lease_duration',
    token_renewable: 'renewable',
    token_policies: 'token_policies',
    identity_policies: 'identity_policies',
    policies: 'policies',
  };
  const authKey = authNames[field];
  if (auth && authKey !== undefined && Object.hasOwn(auth, authKey)) return auth[authKey];
  const leaseNames: Record<string, string> = { lease_id: 'lease_id', lease_duration: 'lease_duration', lease_renewable: 'renewable', refresh_interval: 'lease_duration' };
  const leaseKey = leaseNames[field];
  if (leaseKey !== undefined && Object.hasOwn(b, leaseKey)) return b[leaseKey];
  throw new FieldMissing(field);
}

/** `-field` named something the answer does not have: exit 1, like `vault`, without the usage text. */
export class FieldMissing extends UsageError {
  constructor(field: string) {
    super(`field "${field}" not present in the answer`);
    this.name = 'FieldMissing';
  }
}

/** Prints one field alone: strings raw, anything else as JSON. `-format=json` prints it as JSON. */
export function printField(value: unknown, format: 'table' | 'json'): void {
  const text = format === 'json' ? JSON.stringify(value, null, 2) : typeof value === 'string' ? value : JSON.stringify(value);
  process.stdout.write(format === 'json' || process.stdout.isTTY ? `${text}\n` : text);
}

export const OUTPUT_FLAGS: FlagSpecs = { format: { type: 'string' }, field: { type: 'string' } };

export const OUTPUT_HELP = `  -format FORMAT       table (default) or json (the server's whole answer, for scripts)
  -field NAME          print only this field's value (no trailing newline unless stdout is a terminal)`;

export interface PrintOptions {
  readonly format: 'table' | 'json';
  readonly field: string | undefined;
}

export const outputOptions = (f: ParsedFlags): PrintOptions => ({ format: formatFlag(f), field: stringFlag(f, 'field') });

/** Prints an answer: one field, the raw JSON, or the table (then `success` when there is nothing to show, e.g. a 204). */
export function printAnswer(body: unknown, o: PrintOptions, success?: string): void {
  if (o.field !== undefined) {
    printField(fieldOf(body, o.field), o.format);
    return;
  }
  if (o.format === 'json') {
    if (body !== undefined) process.stdout.write(json(body));
    return;
  }
  printWarnings(body);
  const table = renderSecret(body);
  process.stdout.write(table !== '' ? table : success !== undefined ? `${success}\n` : '');
}
