/**
 * What must hold before a mount is removed or moved: its leases are revoked first (a mount whose leases cannot be revoked
 * stays), and a mount with scheduled rotations is not moved (rotation ids and their sealed pending values carry its path).
 */
import { AppError } from '../../lib/errors.ts';
import type { MountInfo } from '../engine.ts';
import type { LeaseManager } from '../leases/leases.ts';
import type { RotationManager } from '../rotations/rotations.ts';
import type { MountEngines } from './mounts.ts';

export function createMountGuards(deps: {
  leases: Pick<LeaseManager, 'revokePrefix'>;
  rotations: Pick<RotationManager, 'mountHasRotations' | 'forgetMount'>;
}): Required<Pick<MountEngines, 'beforeUnmount' | 'beforeRemount'>> {
  return {
    async beforeUnmount(info: MountInfo): Promise<void> {
      const r = await deps.leases.revokePrefix(info.path, { mountId: info.id });
      if (r.failed > 0) throw new AppError('bad_request', `failed to revoke ${r.failed} leases under "${info.path}"; fix the target or use sys/leases/revoke-force, then unmount`);
      await deps.rotations.forgetMount(info.id);
    },
    async beforeRemount(info: MountInfo): Promise<void> {
      if (await deps.rotations.mountHasRotations(info.id)) throw new AppError('bad_request', `cannot remount "${info.path}": it has scheduled rotations (sys/rotations); remove them first`);
    },
  };
}
