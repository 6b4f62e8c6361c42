import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import { LINEAGE_KINDS, type Lineage, type LineageKind } from '../audit/lineage.ts';
import { op, type PathDef } from '../engine.ts';
import { parseRfc3339 } from './sys-audit.ts';

const value = z.string({ error: 'must be a string' }).trim().min(1, { error: 'must not be empty' }).max(1024, { error: 'must be at most 1024 characters' });
const input = z.object({
  username: value.optional(),
  serial: value.optional(),
  lease_id: value.optional(),
  accessor: value.optional(),
  value_hmac: value.regex(/^hmac-sha256:(?:(?:number|boolean):)?[0-9a-f]{64}$/, { error: 'must be an HMAC from sys/audit-hash ("hmac-sha256:…")' }).optional(),
  at: z.string({ error: 'must be an RFC 3339 time' }).max(64).optional(),
});

/** A serial in any of Vault's forms (colons, hyphens, plain hex) as issue answers name it: "1f:0a:…", lower case. */
function serialColons(input: string): string {
  const hex = input.toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw badRequest('serial: expected hex octets such as "1f:0a:…"');
  return ((hex.length % 2 === 1 ? `0${hex}` : hex).match(/../g) ?? []).join(':');
}

/**
 * GET sys/audit-log/lineage?username=|serial=|lease_id=|accessor=|value_hmac=[&at=TIME]: the chain from a credential
 * to the application that held it (CONTRACT §6). A dedicated path with sudo, like the search: grant it on
 * "sys/audit-log/lineage" (or a glob over sys/audit-log/).
 */
export function sysAuditLineagePaths(deps: { lineage: () => Lineage }): PathDef[] {
  return [
    {
      pattern: 'audit-log/lineage',
      sudo: true,
      operations: {
        read: op(input, async ({ input: q }) => {
          const given = LINEAGE_KINDS.filter((k) => q[k] !== undefined);
          if (given.length !== 1) throw badRequest(`give exactly one of ${LINEAGE_KINDS.join(', ')}`);
          const kind = given[0] as LineageKind;
          let at: Date | null = null;
          if (q.at !== undefined) {
            at = parseRfc3339(q.at.trim());
            if (!at) throw badRequest(`at: "${q.at.slice(0, 40)}" is not an RFC 3339 time (2025-01-31T12:00:00Z)`);
          }
          const raw = q[kind] as string;
          const v = kind === 'serial' ? serialColons(raw) : raw;
          return { data: await deps.lineage()({ kind, value: v, at }) };
        }),
      },
    },
  ];
}
