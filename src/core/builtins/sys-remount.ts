/**
 * sys/remount {from, to}: moves a mount (Vault 1.10+ answers with a migration id that sys/remount/status/:id reports
 * on). sealbox moves the mount in one statement, so a migration has finished ("success") when the call returns; its
 * record is sealed in core storage so that any replica can report it.
 */
import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { notFound } from '../../lib/errors.ts';
import type { Random } from '../../lib/random.ts';
import { op, withParams, type EngineStorage, type PathDef } from '../engine.ts';
import type { MountTable } from '../mounts/mounts.ts';

// An id that is no migration ID is simply not found (404), as an unknown one.
const byId = withParams(z.object({ id: z.string() }));

const body = z.object({ from: z.string().min(1).max(512), to: z.string().min(1).max(512) });

export function sysRemountPaths(deps: { mounts: MountTable; storage: EngineStorage; clock: Clock; random: Random }): PathDef[] {
  const remount = op(body, async ({ input }) => {
    const start = deps.clock.now().toISOString();
    const { from, to } = await deps.mounts.remount(input.from, input.to);
    const id = deps.random.uuid();
    const info = { source_mount: from, target_mount: to, status: 'success', start_time: start, end_time: deps.clock.now().toISOString() };
    await deps.storage.put(`remount/${id}`, Buffer.from(JSON.stringify(info), 'utf8'));
    return { data: { migration_id: id } };
  });
  return [
    // Root-protected in Vault, as mounting is for auth methods.
    { pattern: 'remount', sudo: true, operations: { update: remount } },
    {
      pattern: 'remount/status/:id',
      sudo: true,
      operations: {
        read: byId.op(z.object({}), async ({ params }) => {
          const raw = /^[0-9a-f-]{36}$/.test(params.id) ? await deps.storage.get(`remount/${params.id}`) : null;
          if (!raw) throw notFound();
          return { data: { migration_id: params.id, migration_info: JSON.parse(raw.toString('utf8')) as Record<string, unknown> } };
        }),
      },
    },
  ];
}
