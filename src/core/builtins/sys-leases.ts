/** sys/leases/* (CONTRACT §3, Vault's wire format), plus the legacy sys/renew and sys/revoke aliases. */
import { z } from 'zod';
import { parseDuration } from '../../lib/durations.ts';
import { badRequest, notFound } from '../../lib/errors.ts';
import type { LeaseRow } from '../../storage/leases-store.ts';
import { op, type EngineRequest, type PathDef } from '../engine.ts';
import type { LeaseManager } from '../leases/leases.ts';

const LIST_LIMIT = 10_000;
const leaseId = z.string({ error: 'lease_id: must be a string' }).max(1024);
const increment = z.union([z.number(), z.string().max(64)], { error: 'increment: must be a duration such as "1h" or a number of seconds' }).optional();
const boolish = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).optional();

const bodyWithId = z.object({ lease_id: leaseId.optional(), increment, sync: boolish });

/** The lease id from the body, or from the URL (`sys/leases/renew/<id>`); one of them is required. */
function idOf(req: EngineRequest<{ lease_id?: string | undefined }>): string {
  const id = req.params.id ?? req.input.lease_id ?? '';
  if (id === '') throw badRequest('lease_id: missing lease ID');
  return id.replace(/^\/+/, '');
}

const seconds = (later: Date, now: Date): number => Math.max(0, Math.floor((later.getTime() - now.getTime()) / 1000));

function lookupWire(row: LeaseRow, now: Date) {
  return {
    id: row.id,
    issue_time: row.issuedAt.toISOString(),
    expire_time: row.expiresAt.toISOString(),
    last_renewal: row.lastRenewedAt ? row.lastRenewedAt.toISOString() : null,
    renewable: row.renewable && row.state === 'active',
    ttl: seconds(row.expiresAt, now),
    state: row.state,
    revoke_attempts: row.revokeAttempts,
  };
}

/** A prefix as the URL gives it ("database/creds/ro"), as a folder ("database/creds/ro/"). */
const folder = (p: string | undefined): string => (p ? `${p.replace(/\/+$/, '')}/` : '');

export function sysLeasesPaths(deps: { leases: LeaseManager; now: () => Date }): PathDef[] {
  const { leases } = deps;

  const lookup = op(z.object({ lease_id: leaseId }), async (req) => {
    const row = await leases.lookup(req.input.lease_id);
    if (!row) throw badRequest('invalid lease');
    return { data: lookupWire(row, deps.now()) };
  });

  const list = op(z.object({ list: z.unknown().optional() }), async (req) => {
    const keys = await leases.children(folder(req.params.prefix), LIST_LIMIT + 1);
    const warnings = keys.length > LIST_LIMIT ? [`only the first ${LIST_LIMIT} keys are listed`] : undefined;
    if (keys.length === 0) throw notFound();
    return { data: { keys: keys.slice(0, LIST_LIMIT) }, warnings };
  });

  const renew = op(bodyWithId, async (req) => {
    const inc = req.input.increment === undefined ? 0 : parseDuration(req.input.increment, 'increment');
    const r = await leases.renew(idOf(req), inc);
    return { leased: { id: r.id, duration: r.duration, renewable: r.renewable }, warnings: r.warnings.length > 0 ? r.warnings : undefined };
  });

  const revoke = op(bodyWithId, async (req) => {
    await leases.revoke(idOf(req));
    return {};
  });

  const revokePrefix = (force: boolean) =>
    op(z.object({ sync: boolish }), async (req) => {
      const prefix = req.params.prefix ?? '';
      if (prefix === '') throw badRequest('prefix: missing');
      const r = await leases.revokePrefix(folder(prefix), { force });
      if (r.failed > 0) return { warnings: [`${r.failed} leases could not be revoked and will be retried`] };
      return {};
    });

  const irrevocableQuery = z.object({
    type: z.literal('irrevocable', { error: 'type: only "irrevocable" is supported' }),
    limit: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
    include_child_namespaces: z.unknown().optional(),
  });

  return [
    { pattern: 'leases/lookup', operations: { update: lookup } },
    // Lease ids are bearer capabilities for renew (the default policy allows renew by id), so listing needs sudo, as in Vault.
    { pattern: 'leases/lookup/*prefix', sudo: true, operations: { list } },
    { pattern: 'leases/renew', operations: { update: renew } },
    { pattern: 'leases/renew/*id', operations: { update: renew } },
    { pattern: 'renew', operations: { update: renew } },
    { pattern: 'renew/*id', operations: { update: renew } },
    { pattern: 'leases/revoke', operations: { update: revoke } },
    { pattern: 'leases/revoke/*id', operations: { update: revoke } },
    { pattern: 'revoke', operations: { update: revoke } },
    { pattern: 'revoke/*id', operations: { update: revoke } },
    { pattern: 'leases/revoke-prefix/*prefix', sudo: true, operations: { update: revokePrefix(false) } },
    { pattern: 'revoke-prefix/*prefix', sudo: true, operations: { update: revokePrefix(false) } },
    { pattern: 'leases/revoke-force/*prefix', sudo: true, operations: { update: revokePrefix(true) } },
    { pattern: 'revoke-force/*prefix', sudo: true, operations: { update: revokePrefix(true) } },
    {
      pattern: 'leases/count',
      sudo: true,
      operations: {
        read: op(irrevocableQuery, async () => ({ data: { lease_count: await leases.count(true), counts: null } })),
      },
    },
    {
      pattern: 'leases',
      sudo: true,
      operations: {
        read: op(irrevocableQuery, async (req) => {
          const limit = Math.min(req.input.limit ?? 10_000, 10_000);
          const rows = await leases.irrevocable(limit);
          return {
            data: {
              lease_count: await leases.count(true),
              leases: rows.map((r) => ({ lease_id: r.id, mount_id: r.mountId, error: r.lastError ?? '', revoke_attempts: r.revokeAttempts, next_attempt_at: r.dueAt.toISOString() })),
            },
          };
        }),
      },
    },
  ];
}
