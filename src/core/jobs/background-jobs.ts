/**
 * The broker's background jobs, each a scheduler entry (node-cron slot claimed in PostgreSQL; `exclusive` jobs also
 * hold an advisory lock). Their bodies live in the subsystems; this file only says when each runs.
 */
import type { Config } from '../../config.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Db } from '../../storage/db.ts';
import type { LockoutStore } from '../../storage/lockout-store.ts';
import type { SchedulerStore } from '../../storage/scheduler-store.ts';
import type { AuditAppender } from '../audit/appender.ts';
import type { KeyringRewrap } from '../barrier/keyring-rewrap.ts';
import type { createExpiryWorker } from '../leases/lease-expiry.ts';
import type { LeaseIntentsManager } from '../leases/lease-intents.ts';
import type { LeaseManager } from '../leases/leases.ts';
import type { MountTable } from '../mounts/mounts.ts';
import type { RotationManager } from '../rotations/rotations.ts';
import type { Scheduler } from './scheduler.ts';
import type { Tokens } from '../tokens/tokens.ts';
import type { QuotaLimiter } from '../quotas/quotas.ts';

export interface BackgroundJobsDeps {
  scheduler: Scheduler;
  config: Pick<Config, 'lease_expiry_schedule' | 'maintenance_schedule' | 'lockout_counter_reset'>;
  db: Db;
  clock: Clock;
  log: Logger;
  expiry: ReturnType<typeof createExpiryWorker>;
  tokens: Tokens;
  leases: LeaseManager;
  audit: AuditAppender | null;
  rotations: RotationManager;
  keyringRewrap: KeyringRewrap;
  leaseIntents: LeaseIntentsManager;
  mounts: MountTable;
  lockoutStore: LockoutStore;
  schedulerStore: SchedulerStore;
  quotas: Pick<QuotaLimiter, 'sweep' | 'purgeExpired'>;
}

export function registerBackgroundJobs(deps: BackgroundJobsDeps): void {
  const { scheduler, config, db, clock, log, expiry, tokens, leases, audit, rotations, keyringRewrap, leaseIntents, mounts, lockoutStore, schedulerStore, quotas } = deps;
  // A revoked token's leases become due now; the worker revokes them at once rather than at the next tick.
  tokens.onRevoked(async (accessors) => {
    if ((await leases.tokensRevoked(accessors)) > 0) void expiry.kick();
  });
  scheduler.add({ name: 'lease-expiry', schedule: config.lease_expiry_schedule, exclusive: false, run: () => expiry.kick() });
  if (audit) {
    scheduler.add({ name: 'audit-checkpoint', schedule: '* * * * * *', exclusive: false, run: () => audit.checkpointIfDue() });
  }
  scheduler.add({ name: 'rotations', schedule: '* * * * * *', exclusive: false, run: () => rotations.tick() });
  // Re-wraps DEKs still under an old keyring term (after sys/rotate or the sys/keyring rotation), a few seconds per slot.
  scheduler.add({ name: 'keyring-rewrap', schedule: '*/5 * * * * *', exclusive: true, run: async () => void (await keyringRewrap.run()) });
  scheduler.add({
    name: 'token-tidy',
    schedule: '*/30 * * * * *',
    exclusive: true,
    run: async () => {
      while ((await tokens.revokeExpired(200)) >= 200) {
        // more expired tokens are waiting
      }
      await tokens.pruneTombstones();
    },
  });
  // What dead brokers left behind: leases whose token is gone, and job slots still `running` for a replica that is gone.
  scheduler.add({
    name: 'lease-orphan-sweep',
    schedule: '0 */10 * * * *',
    exclusive: true,
    run: async () => {
      if ((await leases.sweepOrphans()) > 0) void expiry.kick();
      const abandoned = await scheduler.sweepAbandoned();
      if (abandoned > 0) log.warn({ slots: abandoned }, 'closed job slots left running by a replica that is gone');
    },
  });
  // Secrets whose broker died between creating them on a target and storing their lease (lease-intents.ts).
  scheduler.add({ name: 'lease-intent-sweep', schedule: '30 * * * * *', exclusive: true, run: async () => void (await leaseIntents.sweep()) });
  scheduler.add({
    name: 'engine-maintenance',
    schedule: config.maintenance_schedule,
    exclusive: true,
    catchUp: true,
    run: async () => {
      for (const m of mounts.engines()) {
        await m.engine.maintain?.().catch((err: Error) => log.warn({ mount: m.info.path, err: err.message }, 'engine maintenance failed'));
      }
    },
  });
  // Failure windows that have passed (and are not locked) count for nothing any more.
  scheduler.add({
    name: 'login-failures-prune',
    schedule: '15 * * * * *',
    exclusive: true,
    run: async () => {
      while ((await lockoutStore.prune(db, config.lockout_counter_reset, 1000, clock.now())) >= 1000) {
        // more expired windows are waiting
      }
    },
  });
  // Rate limiting: idle in-memory buckets go (every replica has its own), and shared counters whose window has passed.
  scheduler.add({ name: 'rate-limit-sweep', schedule: '*/10 * * * * *', exclusive: false, run: async () => quotas.sweep() });
  scheduler.add({ name: 'rate-limit-counter-purge', schedule: '45 * * * * *', exclusive: false, run: () => quotas.purgeExpired() });
  scheduler.add({
    name: 'job-history-prune',
    schedule: '0 30 3 * * *',
    exclusive: true,
    catchUp: true,
    run: async () => {
      await schedulerStore.pruneRuns(db, new Date(clock.now().getTime() - 7 * 86_400_000));
    },
  });
}
