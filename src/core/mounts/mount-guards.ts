/**
 * What must hold when a mount is removed or moved: its leases are revoked first (a mount whose leases cannot be revoked
 * stays); a moved mount's rotations follow it, in the transaction that moves it (their ids carry its path).
 */
import { AppError } from '../../lib/errors.ts';
import type { Queryable } from '../../storage/db.ts';
import type { MountInfo } from '../engine.ts';
import type { LeaseManager } from '../leases/leases.ts';
import type { RotationManager } from '../rotations/rotations.ts';
import type { MountEngines } from './mounts.ts';

export function createMountGuards(deps: {
  leases: Pick<LeaseManager, 'revokePrefix'>;
  rotations: Pick<RotationManager, 'moveMount' | 'forgetMount'>;
}): Required<Pick<MountEngines, 'beforeUnmount' | 'onRemount'>> {
  return {
    async beforeUnmount(info: MountInfo): Promise<void> {
      const r = await deps.leases.revokePrefix(info.path, { mountId: info.id });
      if (r.failed > 0) throw new AppError('bad_request', `failed to revoke ${r.failed} leases under "${info.path}"; fix the target or use sys/leases/revoke-force, then unmount`);
      await deps.rotations.forgetMount(info.id);
    },
    onRemount: (q: Queryable, info: MountInfo, from: string, to: string): Promise<void> => deps.rotations.moveMount(q, info.id, from, to),
  };
}
