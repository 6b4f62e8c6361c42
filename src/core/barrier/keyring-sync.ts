/** A keyring term added on one replica (sys/rotate, the keyring rotation) is loaded by every other replica through NOTIFY. */
import type { Logger } from '../../lib/log.ts';
import type { Db } from '../../storage/db.ts';
import type { Barrier } from './barrier.ts';

const CHANNEL = 'sealbox_keyring';

export async function shareKeyringTerms(deps: { db: Db; barrier: Barrier; log: Logger }): Promise<void> {
  deps.barrier.onRotate = () => deps.db.notify(CHANNEL, 'rotated');
  await deps.db.listen(CHANNEL, () => deps.barrier.refresh().catch((err: Error) => deps.log.warn({ err: err.message }, 'keyring refresh failed')));
}
