import { isAppError } from '../../lib/errors.ts';
import type { EngineResponse, MountInfo, Operation } from '../engine.ts';
import type { TokenEntry } from '../tokens.ts';

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

/** The entry before the appender gives it a sequence number (see SECURITY.md for the canonical form). */
export interface PendingEntry {
  fields: Record<string, unknown>;
  time: Date;
  requestId: string;
  operation: string;
  mountPath: string | null;
  path: string;
  accessor: string | null;
  remoteAddress: string;
  outcome: Outcome;
}

const SERVER_CODES = new Set(['internal', 'sealed', 'uninitialized']);

function outcomeOf(error: unknown): { outcome: Outcome; code: string | null; message: string | null } {
  if (error === null || error === undefined) return { outcome: 'success', code: null, message: null };
  if (isAppError(error)) {
    const outcome: Outcome = error.code === 'permission_denied' ? 'denied' : SERVER_CODES.has(error.code) ? 'server_error' : 'client_error';
    return { outcome, code: error.code, message: error.message || null };
  }
  return { outcome: 'server_error', code: 'internal', message: 'internal error' };
}

/** Replaces every string in a JSON value with its HMAC; keys, numbers, booleans and structure stay readable. */
export function hmacStrings(value: unknown, hmac: (s: string) => string): unknown {
  if (typeof value === 'string') return hmac(value);
  if (Array.isArray(value)) return value.map((v) => hmacStrings(v, hmac));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, hmacStrings(v, hmac)]));
  }
  return value;
}

/** Builds the audit entry of a request and its response. Every request and response string is HMAC'd. */
export function buildEntry(t: AuditTrail, hmac: (s: string) => string): PendingEntry {
  const { outcome, code, message } = outcomeOf(t.error);
  const tok = t.token;
  const r = t.response;
  const fields = {
    type: 'request',
    time: t.time.toISOString(),
    request_id: t.requestId,
    operation: t.operation,
    mount: t.mount?.path ?? null,
    path: t.path,
    remote_address: t.remoteAddress,
    accessor: tok?.accessor ?? null,
    policies: tok?.policies ?? [],
    identity: tok
      ? {
          display_name: tok.displayName,
          entity_name: tok.entityName,
          alias: tok.alias
            ? { mount_accessor: tok.alias.mountAccessor, mount_type: tok.alias.mountType, name: tok.alias.name, metadata: tok.alias.metadata }
            : null,
        }
      : null,
    outcome,
    error_code: code,
    error: message,
    lease_id: null,
    request: { data: hmacStrings(t.rawInput, hmac) },
    response: r
      ? {
          data: r.data ? hmacStrings(r.data, hmac) : null,
          auth: r.auth ? { accessor: r.auth.accessor, policies: r.auth.policies, client_token: hmac(r.auth.clientToken) } : null,
          warnings: r.warnings && r.warnings.length > 0 ? r.warnings : null,
        }
      : null,
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
