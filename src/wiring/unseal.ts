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
    if (adoptRows) {
      await adoptUnsignedRows({ db, store: stores.unsignedRows, rowMac: core.rowMac, log });
      adoptRows = false;
    }
    // Independent of each other, so issued together: the database always has the next statement queued (on PGlite,
    // one thread away) while this thread derives the audit signing key. Every one must succeed, or the unseal fails
    // (and the barrier seals again) once all have settled.
    const steps = await Promise.allSettled([
      core.seal.checkConfig(),
      core.policies.ensureDefault(),
      services.rotations.ensureCore('sys/keyring', 'keyring', config.keyring_rotation_schedule ?? null),
      core.mounts.reload(),
      core.quotas.reload(),
      Promise.resolve().then(() => services.auditSigner.publicKey()),
    ]);
    const failed = steps.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
}
