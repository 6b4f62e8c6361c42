/** The lifetime a new credential gets on the target (its VALID UNTIL), from the role, then the mount, then Vault's default. */
import type { MountInfo } from '../../core/engine.ts';
import type { DbRole } from './model.ts';

/** Vault's system default and maximum lease TTL (768h). */
const SYSTEM_TTL = 768 * 3600;

const mountSeconds = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : 0);

/**
 * Seconds until VALID UNTIL. The lease manager owns the real expiry (and revokes then); this is the net under it,
 * so where the role leaves it to defaults it errs long. Renewals move VALID UNTIL to the lease's new expiry.
 */
export function validForSeconds(role: Pick<DbRole, 'defaultTtl' | 'maxTtl'>, mount: Pick<MountInfo, 'config'>): number {
  const ttl = role.defaultTtl || mountSeconds(mount.config.default_lease_ttl) || SYSTEM_TTL;
  const max = role.maxTtl || mountSeconds(mount.config.max_lease_ttl) || SYSTEM_TTL;
  return Math.min(ttl, max);
}

/** Seconds a shared user lives (issue 20): the role's max TTL, else the mount's, else Vault's maximum. */
export function sharedLifeSeconds(role: Pick<DbRole, 'maxTtl'>, mount: Pick<MountInfo, 'config'>): number {
  return role.maxTtl || mountSeconds(mount.config.max_lease_ttl) || SYSTEM_TTL;
}
