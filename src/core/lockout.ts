import type { Clock } from '../lib/clock.ts';
import { hmacSha256 } from '../lib/crypto.ts';
import { loginFailed } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { LockoutStore } from '../storage/lockout-store.ts';
import type { Barrier } from './barrier.ts';
import type { LoginLockout } from './engine.ts';

export interface LockoutPolicy {
  /** Failures within `windowSeconds` that lock an identity; 0 disables lockout. */
  threshold: number;
  windowSeconds: number;
  lockSeconds: number;
}

/** Vault's defaults: 5 failures within 15 minutes lock the identity for 15 minutes. */
export const DEFAULT_LOCKOUT: LockoutPolicy = { threshold: 5, windowSeconds: 900, lockSeconds: 900 };

/** Per-mount failed-login lockout, shared by all replicas through PostgreSQL. */
export function createLoginLockout(deps: { store: LockoutStore; barrier: Barrier; mountId: string; policy: LockoutPolicy; log: Logger; clock: Clock }): LoginLockout {
  const key = (identity: string): Buffer => hmacSha256(deps.barrier.deriveKey('lockout-hmac'), `${deps.mountId}\u0000${identity}`);
  const enabled = deps.policy.threshold > 0;
  return {
    async assertNotLocked(identity) {
      if (!enabled) return;
      const until = await deps.store.lockedUntil(deps.mountId, key(identity), deps.clock.now());
      if (until) {
        deps.log.warn({ locked_until: until.toISOString() }, 'login refused: identity is locked out');
        throw loginFailed();
      }
    },
    async recordFailure(identity) {
      if (enabled) await deps.store.recordFailure(deps.mountId, key(identity), deps.policy, deps.clock.now());
    },
    async reset(identity) {
      if (enabled) await deps.store.reset(deps.mountId, key(identity));
    },
  };
}
