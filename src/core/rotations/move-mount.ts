import { AppError } from '../../lib/errors.ts';
import type { Queryable } from '../../storage/db.ts';
import type { RotationsStore } from '../../storage/rotations-store.ts';
import type { RowMac } from '../integrity/row-mac.ts';
import { rotationFields } from '../integrity/rows.ts';

/**
 * sys/remount: the mount's rotations follow it. Their ids start with the mount path (`<path><kind>/<target>`), and
 * the id is part of each row's MAC: every row is checked, renamed and signed again, in the caller's transaction.
 * A rotation in the middle of a run (its pending value sealed to the old id) keeps the mount where it is.
 */
export async function moveMountRotations(
  deps: { store: RotationsStore; rowMac: RowMac },
  q: Queryable,
  mountId: string,
  fromPath: string,
  toPath: string,
): Promise<void> {
  const rows = await deps.store.forMountForUpdate(q, mountId);
  for (const row of rows) {
    deps.rowMac.verify('rotations', rotationFields(row), row.mac, row.id);
    if (row.step !== null) throw new AppError('bad_request', `cannot remount "${fromPath}": rotation "${row.id.slice(0, 200)}" is in the middle of a run; retry when it has finished`);
  }
  for (const row of rows) {
    if (!row.id.startsWith(fromPath)) continue;
    const id = `${toPath}${row.id.slice(fromPath.length)}`;
    await deps.store.rename(q, row.id, id, deps.rowMac.sign('rotations', rotationFields({ ...row, id })));
  }
}
