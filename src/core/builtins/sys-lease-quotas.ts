/** sys/quotas/lease-count/:name: a cap on live leases under a path (Vault Enterprise has it; here it is standard). */
import { z } from 'zod';
import { badRequest, notFound } from '../../lib/errors.ts';
import { checkName } from '../../lib/names.ts';
import type { LeaseCountQuota } from '../../storage/leases-store.ts';
import type { LeaseQuotasStore } from '../../storage/lease-quotas-store.ts';
import { op, withParams, type PathDef } from '../engine.ts';
import type { RowMac } from '../integrity/row-mac.ts';
import { leaseQuotaFields } from '../integrity/rows.ts';
import { normalizeApiPath } from '../quotas/paths.ts';

const byName = withParams(z.object({ name: z.string() }));

const MAX = 1_000_000_000_000;

const input = z.object({
  max_leases: z.union([z.number().int(), z.string().trim().regex(/^\d+$/).transform(Number)], { error: 'must be a whole number of leases greater than 0' }),
  path: z.string({ error: 'must be a string' }).max(1024).optional(),
  role: z.string({ error: 'must be a string' }).max(256).optional(),
  inheritable: z.unknown().optional(),
});

const wire = (q: LeaseCountQuota) => ({
  name: q.name,
  type: 'lease-count',
  path: q.path,
  role: '',
  max_leases: q.maxLeases,
  counter: q.used,
  inheritable: true,
});

export function sysLeaseQuotasPaths(deps: { store: LeaseQuotasStore; mountPathFor: (path: string) => string | null; rowMac: RowMac }): PathDef[] {
  /** '' is global; otherwise a path in a mount, kept with a trailing slash so that it matches lease ids at segment boundaries. */
  const quotaPath = (raw: string): string => {
    const p = normalizeApiPath(raw, 'path');
    if (p === '') return '';
    if (!deps.mountPathFor(p)) throw badRequest(`path: invalid mount path "${p.slice(0, 120)}"`);
    return `${p}/`;
  };
  const list = op(z.object({}), async () => {
    const keys = (await deps.store.list()).map((q) => q.name);
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  });
  return [
    { pattern: 'quotas/lease-count', operations: { list } },
    {
      pattern: 'quotas/lease-count/:name',
      operations: {
        read: byName.op(z.object({}), async ({ params }) => {
          const q = await deps.store.get(params.name);
          if (!q) throw notFound();
          deps.rowMac.verify('lease_count_quotas', leaseQuotaFields(q), q.mac, q.name);
          return { data: wire(q) };
        }),
        update: byName.op(input, async ({ params, input: i }) => {
          const name = params.name;
          checkName(name, 'quota name');
          if (i.max_leases <= 0 || i.max_leases > MAX) throw badRequest('max_leases: must be greater than 0');
          if (i.role !== undefined && i.role !== '') throw badRequest('role: role-based lease count quotas are not supported');
          const path = quotaPath(i.path ?? '');
          const mac = deps.rowMac.sign('lease_count_quotas', leaseQuotaFields({ name, path, maxLeases: i.max_leases }));
          if (!(await deps.store.put(name, path, i.max_leases, mac))) throw badRequest(`path: another lease count quota already covers "${path}"`);
          return {};
        }),
        delete: byName.op(z.object({}), async ({ params }) => {
          await deps.store.delete(params.name);
          return {};
        }),
      },
    },
  ];
}
