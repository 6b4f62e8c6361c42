/**
 * What needs the root key runs at every unseal: the seal configuration is checked, rows from before migration 0008 are
 * adopted (only by the process that applied it, or with SEALBOX_ADOPT_UNSIGNED_ROWS=1), the built-in rows are written
 * signed, and the mount table and quotas are loaded (and checked) again.
 */
import type { AppDeps } from '../app.ts';
import { adoptUnsignedRows } from '../core/integrity/adopt.ts';
import type { CoreBundle } from './core.ts';
import type { ServicesBundle } from './services.ts';
import type { StorageBundle } from './storage.ts';

export function unsealSteps({ config, log }: AppDeps, { db, stores }: StorageBundle, applied: readonly string[], core: CoreBundle, services: ServicesBundle): () => Promise<void> {
  let adoptRows = applied.some((f) => f.startsWith('0008_')) || process.env.SEALBOX_ADOPT_UNSIGNED_ROWS === '1';
  return async () => {
    // The audit keys are kept from here: the request that seals the barrier is still appended, MAC'd and signed.
    services.auditEntryMac.keep();
    services.auditSigner.publicKey();
    if (adoptRows) {
      await adoptUnsignedRows({ db, store: stores.unsignedRows, rowMac: core.rowMac, log });
      adoptRows = false;
    }
    await core.seal.checkConfig();
    await core.policies.ensureDefault();
    await services.rotations.ensureCore('sys/keyring', 'keyring', config.keyring_rotation_schedule ?? null);
    await core.mounts.reload();
    await core.quotas.reload();
  };
}
