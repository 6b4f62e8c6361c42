import { hmacSha256 } from '../../lib/crypto.ts';
import type { Barrier } from '../barrier.ts';
import type { AuditAppender } from './appender.ts';
import { buildEntry, type AuditTrail } from './entry.ts';

/** Unauthenticated status probes are not audited (they carry no identity and would drown the log). */
const NOT_AUDITED = new Set(['sys/health', 'sys/seal-status', 'sys/leader']);

export interface AuditRecorder {
  /** The HMAC for this request's entry, taken when it starts; null when it will not be audited (sealed, probes). */
  begin(path: string): ((s: string) => string) | null;
  record(trail: AuditTrail, hmac: (s: string) => string): Promise<void>;
}

export const AUDIT_HMAC = 'audit-hmac';

export function auditHmac(key: Uint8Array): (s: string) => string {
  return (s) => `hmac-sha256:${hmacSha256(key, s).toString('hex')}`;
}

export function createAuditRecorder(deps: { appender: AuditAppender; barrier: Barrier }): AuditRecorder {
  return {
    begin(path) {
      if (NOT_AUDITED.has(path) || deps.barrier.isSealed()) return null;
      return auditHmac(deps.barrier.deriveKey(AUDIT_HMAC));
    },
    // Review answers are the log itself: recording their data again would grow the log by the size of every search.
    record: (trail, hmac) =>
      deps.appender.append(buildEntry(trail.path.startsWith('sys/audit-log') && trail.response ? { ...trail, response: { ...trail.response, data: undefined } } : trail, hmac)),
  };
}
