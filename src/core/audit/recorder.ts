import { hmacSha256 } from '../../lib/crypto.ts';
import type { Barrier } from '../barrier/barrier.ts';
import type { AuditAppender } from './appender.ts';
import { buildEntry, hmacValues, type AuditTrail } from './entry.ts';

/** Unauthenticated status probes are not audited (they carry no identity and would drown the log). */
const NOT_AUDITED = new Set(['sys/health', 'sys/seal-status', 'sys/leader']);

export interface AuditRecorder {
  /** The HMAC for this request's entry, taken when it starts; null when it will not be audited (sealed, probes). */
  begin(path: string): ((s: string) => string) | null;
  record(trail: AuditTrail, hmac: (s: string) => string): Promise<void>;
}

export const AUDIT_HMAC = 'audit-hmac';
/** The key of the per-entry MAC (audit_entries.mac). */
export const AUDIT_ENTRY_MAC = 'audit-entry-mac';

export function auditHmac(key: Uint8Array): (s: string) => string {
  return (s) => `hmac-sha256:${hmacSha256(key, s).toString('hex')}`;
}

const DATA_CACHE_MAX = 10_000;

export function createAuditRecorder(deps: { appender: AuditAppender; barrier: Barrier }): AuditRecorder {
  // HMAC'd response data by (mount, data version): services re-read the same secrets, and HMACs are the costliest
  // part of an entry. Only HMACs are kept, never plaintext; the cache belongs to one audit key.
  let cacheKey: Buffer | null = null;
  const cache = new Map<string, unknown>();
  const hmacDataFor = (hmac: (s: string) => string, mountId: string) => (data: Record<string, unknown>, version?: string): unknown => {
    if (version === undefined) return hmacValues(data, hmac);
    const k = `${mountId}\u0000${version}`;
    let v = cache.get(k);
    if (v === undefined) {
      v = hmacValues(data, hmac);
      if (cache.size >= DATA_CACHE_MAX) cache.clear();
      cache.set(k, v);
    }
    return v;
  };
  return {
    begin(path) {
      if (NOT_AUDITED.has(path) || deps.barrier.isSealed()) return null;
      const key = deps.barrier.deriveKey(AUDIT_HMAC);
      if (key !== cacheKey) {
        cache.clear();
        cacheKey = key;
      }
      return auditHmac(key);
    },
    // Review answers are the log itself: recording their data again would grow the log by the size of every search.
    record: (trail, hmac) =>
      deps.appender.append(
        buildEntry(
          trail.path.startsWith('sys/audit-log') && trail.response ? { ...trail, response: { ...trail.response, data: undefined } } : trail,
          hmac,
          hmacDataFor(hmac, trail.mount?.id ?? ''),
        ),
      ),
  };
}
