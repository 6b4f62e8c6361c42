/** Phase 5 of buildApp: the lease expiry worker and the background jobs on the scheduler (their bodies live in the subsystems). */
import type { AppDeps } from '../app.ts';
import { registerBackgroundJobs } from '../core/jobs/background-jobs.ts';
import { createExpiryWorker } from '../core/leases/lease-expiry.ts';
import type { CoreBundle } from './core.ts';
import type { ServicesBundle } from './services.ts';
import type { StorageBundle } from './storage.ts';

export function buildJobs({ config, log, clock }: AppDeps, { db, stores }: StorageBundle, core: CoreBundle, services: ServicesBundle) {
  const { barrier, tokens, mounts, quotas } = core;
  const { scheduler, leases, audit, rotations, keyringRewrap, leaseIntents } = services;
  const expiry = createExpiryWorker({
    db,
    store: stores.leases,
    leases,
    clock,
    log: log.child({ component: 'lease-expiry' }),
    batch: config.lease_expiry_batch,
    concurrency: config.lease_revoke_concurrency,
    ready: () => !barrier.isSealed(),
  });
  registerBackgroundJobs({ scheduler, config, db, clock, log, expiry, tokens, leases, audit, rotations, keyringRewrap, leaseIntents, mounts, lockoutStore: stores.lockout, schedulerStore: stores.scheduler, quotas });
  return { expiry };
}

export type JobsBundle = ReturnType<typeof buildJobs>;
