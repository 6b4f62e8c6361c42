import { isAppError } from '../../lib/errors.ts';
import type { EngineResponse, MountInfo, Operation } from '../engine.ts';
import type { TokenEntry } from '../tokens/tokens.ts';

/** What the pipeline knows about one request by the time it is answered. */
export interface AuditTrail {
  time: Date;
  requestId: string;
  operation: Operation;
  path: string;
  remoteAddress: string;
  rawInput: Record<string, unknown>;
  mount: MountInfo | null;
  token: TokenEntry | null;
  response: EngineResponse | null;
  error: unknown;
}

export type Outcome = 'success' | 'denied' | 'client_error' | 'server_error';

export interface EntryFields {
  accessor: string | null;
  error: string | null;
  error_code: string | null;
  identity: {
    alias: { metadata: Record<string, string>; mount_accessor: string; mount_type: string; name: string } | null;
    display_name: string;
    entity_name: string;
  } | null;
  lease_id: string | null;
  mount: string | null;
  operation: string;
  outcome: Outcome;
  path: string;
  policies: readonly string[];
  remote_address: string;
  request: { data: unknown };
  request_id: string;
  response: {
    auth: { accessor: string; client_token: string; policies: readonly string[] } | null;
    data: unknown;
    warnings: string[] | null;
    /** Only on a wrapped response: the wrapping token is HMAC'd like any other token. */
    wrap_info?: { accessor: string; creation_path: string; creation_time: string; token: string; ttl: number; wrapped_accessor: string };
  } | null;
  time: string;
  type: 'request';
}

/** The entry before the appender gives it a sequence number (see SECURITY.md for the canonical form). */
export interface PendingEntry {
  fields: EntryFields;
  time: Date;
  requestId: string;
  operation: string;
  mountPath: string | null;
  path: string;
  accessor: string | null;
  remoteAddress: string;
  outcome: Outcome;
}

/** Identity metadata is not secret (it is what policies are templated on): kept readable, keys sorted. */
function hmacFreeSorted(m: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m).sort()) out[k] = m[k] ?? '';
  return out;
}

const SERVER_CODES = new Set(['internal', 'sealed', 'uninitialized', 'unavailable']);

function outcomeOf(error: unknown): { outcome: Outcome; code: string | null; message: string | null } {
  if (error === null || error === undefined) return { outcome: 'success', code: null, message: null };
  if (isAppError(error)) {
    const outcome: Outcome = error.code === 'permission_denied' ? 'denied' : SERVER_CODES.has(error.code) ? 'server_error' : 'client_error';
    return { outcome, code: error.code, message: error.message || null };
  }
  return { outcome: 'server_error', code: 'internal', message: 'internal error' };
}

/**
 * The HMAC of one scalar, with its JSON type kept in the prefix (SECURITY.md, "Audit"): a string s becomes
 * `hmac-sha256:<hex HMAC(s)>` (as Vault, and as before); a number or boolean becomes
 * `hmac-sha256:number:<hex>` / `hmac-sha256:boolean:<hex>` over its canonical JSON text (`918273`, `1.5`, `true`).
 * An empty string stays empty (it reveals nothing); null stays null.
 */
export function hmacScalar(value: string | number | boolean, hmac: (s: string) => string): string {
  if (typeof value === 'string') return value === '' ? '' : hmac(value);
  const type = typeof value === 'number' ? 'number' : 'boolean';
  return hmac(JSON.stringify(value)).replace(/^hmac-sha256:/, `hmac-sha256:${type}:`);
}

/**
 * Replaces every string, number and boolean in a JSON value with its typed HMAC (hmacScalar); keys, null and
 * structure stay readable. Objects come back with their keys sorted, so that JSON.stringify of the entry is
 * already its canonical form (see serializeEntry).
 */
export function hmacValues(value: unknown, hmac: (s: string) => string): unknown {
  if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return hmacScalar(value, hmac);
  if (Array.isArray(value)) return value.map((v) => hmacValues(v, hmac));
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(obj).sort()) out[k] = hmacValues(obj[k], hmac);
    return out;
  }
  // null, undefined (omitted, as JSON.stringify does) and NaN/Infinity (JSON has them as null): nothing to hide.
  return typeof value === 'number' ? null : value;
}

/**
 * The canonical JSON of an entry (canonical.ts) with its sequence number, built by JSON.stringify over an object
 * whose keys are already in sorted order at every level: the same bytes as canonicalJson, several times faster.
 * test/audit-canonical.test.ts holds the two equal.
 */
export function serializeEntry(f: EntryFields, seq: number): string {
  return JSON.stringify({
    accessor: f.accessor,
    error: f.error,
    error_code: f.error_code,
    identity: f.identity,
    lease_id: f.lease_id,
    mount: f.mount,
    operation: f.operation,
    outcome: f.outcome,
    path: f.path,
    policies: f.policies,
    remote_address: f.remote_address,
    request: f.request,
    request_id: f.request_id,
    response: f.response,
    seq,
    time: f.time,
    type: f.type,
  });
}

/** Builds the audit entry of a request and its response. Every request and response value is HMAC'd. */
export function buildEntry(t: AuditTrail, hmac: (s: string) => string, hmacData: (data: Record<string, unknown>, version?: string) => unknown = (d) => hmacValues(d, hmac)): PendingEntry {
  const { outcome, code, message } = outcomeOf(t.error);
  const tok = t.token;
  const r = t.response;
  // Keys in sorted order at every level (serializeEntry relies on it).
  const fields: EntryFields = {
    accessor: tok?.accessor ?? null,
    error: message,
    error_code: code,
    identity: tok
      ? {
          alias: tok.alias
            ? { metadata: hmacFreeSorted(tok.alias.metadata), mount_accessor: tok.alias.mountAccessor, mount_type: tok.alias.mountType, name: tok.alias.name }
            : null,
          display_name: tok.displayName,
          entity_name: tok.entityName,
        }
      : null,
    lease_id: r?.leased?.id ?? null,
    mount: t.mount?.path ?? null,
    operation: t.operation,
    outcome,
    path: t.path,
    policies: tok?.policies ?? [],
    remote_address: t.remoteAddress,
    request: { data: hmacValues(t.rawInput, hmac) },
    request_id: t.requestId,
    response: r
      ? {
          auth: r.auth ? { accessor: r.auth.accessor, client_token: hmac(r.auth.clientToken), policies: r.auth.policies } : null,
          data: r.data ? hmacData(r.data, r.dataVersion) : null,
          warnings: r.warnings && r.warnings.length > 0 ? r.warnings : null,
          ...(r.wrapInfo
            ? {
                wrap_info: {
                  accessor: r.wrapInfo.accessor,
                  creation_path: r.wrapInfo.creationPath,
                  creation_time: r.wrapInfo.creationTime,
                  token: hmac(r.wrapInfo.token),
                  ttl: r.wrapInfo.ttl,
                  wrapped_accessor: r.wrapInfo.wrappedAccessor ?? '',
                },
              }
            : {}),
        }
      : null,
    time: t.time.toISOString(),
    type: 'request',
  };
  return {
    fields,
    time: t.time,
    requestId: t.requestId,
    operation: t.operation,
    mountPath: t.mount?.path ?? null,
    path: t.path,
    accessor: tok?.accessor ?? null,
    remoteAddress: t.remoteAddress,
    outcome,
  };
}
