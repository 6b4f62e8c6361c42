/** What the database engine's paths and secret type use. */
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Random } from '../../lib/random.ts';
import type { EngineDeps, EngineStorage, LeaseIntents, MountInfo, MountTtl, PasswordGenerator, RotationRegistry, StorageView } from '../../core/engine.ts';
import type { CreationGuard } from './limits.ts';
import type { SharedMemory } from './shared-record.ts';
import type { TargetPools } from './pools.ts';

export interface DbDeps {
  mount: MountInfo;
  /** The mount's lease lifetimes (the TTL service): a new user's VALID UNTIL. */
  ttl: MountTtl;
  storage: EngineStorage;
  /** Reads of roles and configs on the mint path, cached for up to 1 s (read-cache.ts). */
  cachedReads: StorageView;
  passwords: PasswordGenerator;
  /** Where static roles and scheduled root rotations are registered (core runs them). */
  rotations: RotationRegistry;
  /** Each minted user is recorded before CREATE ROLE (see LeaseIntents). */
  intents: LeaseIntents;
  publish: EngineDeps['publish'];
  pools: TargetPools;
  /** Caps on live users and the creation rate per config (limits.ts). */
  guard: CreationGuard;
  /** Shared users (issue 20): this engine's last look at each identity's record, and one mint at a time per identity. */
  sharedMemory: SharedMemory;
  clock: Clock;
  random: Random;
  log: Logger;
}
