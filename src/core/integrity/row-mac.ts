import { createHmac } from 'node:crypto';
import { constantTimeEqual, deriveKey } from '../../lib/crypto.ts';
import { AppError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';

/**
 * Row integrity (issue 13): the database is untrusted. Every row that decides access or lifetime carries a `mac`
 * column: HMAC-SHA256 under an HKDF sub-key of the root key ("row-mac") over the table name, the primary key and
 * the columns listed in ROW_MAC_FIELDS, canonically encoded. A writer without the root key can delete rows (or
 * restore a whole older row: rollback, see SECURITY.md) but cannot change, swap or copy a protected column.
 */
export const ROW_MAC_PURPOSE = 'row-mac';

/**
 * The protected columns of each table, in the order they are bound (the primary key first). The columns left out
 * are bookkeeping whose change can only delay or hasten work the broker does anyway (claims, due times, last errors,
 * timestamps shown to operators), or counters bounded by a protected limit (tokens.num_uses ≤ num_uses_limit).
 */
export const ROW_MAC_FIELDS = {
  tokens: ['token_hmac', 'accessor', 'parent_accessor', 'policies', 'display_name', 'meta', 'path', 'orphan', 'renewable', 'creation_ttl',
    'explicit_max_ttl', 'period', 'num_uses_limit', 'created_at', 'expires_at', 'max_expires_at', 'entity_name', 'alias'],
  token_tombstones: ['token_hmac', 'accessor', 'until'],
  policies: ['name', 'document'],
  mounts: ['id', 'path', 'class', 'type', 'description', 'config', 'options'],
  leases: ['id', 'mount_id', 'secret_type', 'token_accessor', 'issued_at', 'expires_at', 'max_expires_at', 'ttl_seconds', 'renewable'],
  rate_limit_quotas: ['name', 'path', 'rate', 'interval_seconds', 'block_interval_seconds'],
  quota_config: ['id', 'enable_rate_limit_response_headers', 'rate_limit_exempt_paths'],
  lease_count_quotas: ['name', 'path', 'max_leases'],
  /** `policy` is jsonb {document, length, rules}: only its document is bound; the rules are parsed from it. */
  password_policies: ['name', 'policy'],
  /** grace_seconds decides how long a rotated-out credential stays valid, so it is bound too (added in issue 20). */
  rotations: ['id', 'mount_id', 'kind', 'target', 'schedule', 'period_seconds', 'paused', 'grace_seconds'],
  seal_configs: ['id', 'seal_type', 'secret_shares', 'secret_threshold'],
  scheduled_jobs: ['name', 'paused'],
} as const;

export type MacTable = keyof typeof ROW_MAC_FIELDS;

/**
 * Tables whose field list grew after rows were signed: the number of fields the older rows were signed over. Such a
 * row still verifies while every added field is null (its value before the column existed, which means "the broker
 * default" and never widens anything); the first write signs it over the full list. Setting an added field without
 * the key fails the check as for any other field.
 */
export const ROW_MAC_EARLIER_FIELDS: Partial<Record<MacTable, number>> = { rotations: 7 };
export type MacValue = string | number | boolean | null | Date | Uint8Array | readonly MacValue[] | { readonly [k: string]: MacValue | undefined };

/** The values of a table's ROW_MAC_FIELDS, same order, same length (checked). */
type ValuesOf<A extends readonly string[]> = { readonly [K in keyof A]: MacValue };
export type MacFields<T extends MacTable> = ValuesOf<(typeof ROW_MAC_FIELDS)[T]>;

/** Length-prefixed, type-tagged, key-sorted: two different values never encode alike. */
export function canonical(v: MacValue | undefined): string {
  if (v === null || v === undefined) return 'n';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return `i${Object.is(v, -0) ? '0' : String(v)};`;
  if (typeof v === 'string') return `s${v.length}:${v}`;
  if (v instanceof Date) return `d${v.getTime()};`;
  if (v instanceof Uint8Array) return `b${Buffer.from(v).toString('hex')};`;
  if (Array.isArray(v)) return `a${v.length}[${(v as readonly MacValue[]).map(canonical).join('')}]`;
  const obj = v as { readonly [k: string]: MacValue | undefined };
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `o${keys.length}{${keys.map((k) => `${canonical(k)}${canonical(obj[k])}`).join('')}}`;
}

export interface RowMac {
  /** The MAC of a row's protected values; null when the checks are switched off (test-only flag). */
  sign<T extends MacTable>(table: T, fields: MacFields<T>, rootKey?: Uint8Array): Buffer | null;
  /** Throws `500 stored value failed its integrity check` (and logs table and primary key) unless `mac` matches. */
  verify<T extends MacTable>(table: T, fields: MacFields<T>, mac: Uint8Array | null, display?: string): void;
  /** The same as verify, as a boolean (callers that skip a bad row rather than fail the request). */
  ok<T extends MacTable>(table: T, fields: MacFields<T>, mac: Uint8Array | null, display?: string): boolean;
  /** Logs a row that failed a check other than its MAC (a counter outside its limit, a tombstone); returns the 500. */
  fail(table: MacTable, primaryKey: string, reason: string): AppError;
  readonly enabled: boolean;
}

export const rowIntegrityError = (): AppError => new AppError('internal', 'stored value failed its integrity check');

export function createRowMac(deps: {
  /** The barrier's HKDF sub-key for a purpose; throws while sealed. */
  deriveKey: (purpose: string) => Buffer;
  log: Logger;
  /** False only with SEALBOX_TEST_MODE=1 and SEALBOX_TEST_NO_ROW_MAC=1 (benchmarks measure the cost of the checks). */
  enabled: boolean;
}): RowMac {
  const hmac = (key: Uint8Array, table: MacTable, fields: readonly MacValue[]): Buffer =>
    createHmac('sha256', key).update(`sealbox-row/v1\u0000${table}\u0000`).update(canonical(fields)).digest();
  const compute = (key: Uint8Array, table: MacTable, fields: readonly MacValue[]): Buffer => {
    if (fields.length !== ROW_MAC_FIELDS[table].length) throw new Error(`row MAC of ${table}: ${fields.length} values for ${ROW_MAC_FIELDS[table].length} fields`);
    return hmac(key, table, fields);
  };
  /** A row signed before its table's later fields existed (ROW_MAC_EARLIER_FIELDS), while they are all still null. */
  const earlier = (key: Uint8Array, table: MacTable, fields: readonly MacValue[], mac: Uint8Array): boolean => {
    const n = ROW_MAC_EARLIER_FIELDS[table];
    if (n === undefined || !fields.slice(n).every((v) => v === null)) return false;
    return constantTimeEqual(hmac(key, table, fields.slice(0, n)), mac);
  };
  const check = (table: MacTable, fields: readonly MacValue[], mac: Uint8Array | null, display?: string): boolean => {
    if (!deps.enabled) return true;
    const key = deps.deriveKey(ROW_MAC_PURPOSE);
    const good = mac !== null && (constantTimeEqual(compute(key, table, fields), mac) || earlier(key, table, fields, mac));
    if (!good) {
      const pk = fields[0];
      const primaryKey = display ?? (pk instanceof Uint8Array ? Buffer.from(pk).toString('hex') : String(pk));
      deps.log.error({ table, primaryKey, missing: mac === null }, 'stored row failed its integrity check');
    }
    return good;
  };
  return {
    enabled: deps.enabled,
    sign(table, fields, rootKey) {
      if (!deps.enabled) return null;
      return compute(rootKey ? deriveKey(rootKey, ROW_MAC_PURPOSE) : deps.deriveKey(ROW_MAC_PURPOSE), table, fields as readonly MacValue[]);
    },
    verify(table, fields, mac, display) {
      if (!check(table, fields as readonly MacValue[], mac, display)) throw rowIntegrityError();
    },
    ok: (table, fields, mac, display) => check(table, fields as readonly MacValue[], mac, display),
    fail(table, primaryKey, reason) {
      deps.log.error({ table, primaryKey, reason }, 'stored row failed its integrity check');
      return rowIntegrityError();
    },
  };
}

/** Reads the test-only switch: both variables must be set, so a production config can never turn the checks off. */
export const rowMacEnabled = (env: NodeJS.ProcessEnv): boolean => !(env.SEALBOX_TEST_MODE === '1' && env.SEALBOX_TEST_NO_ROW_MAC === '1');
