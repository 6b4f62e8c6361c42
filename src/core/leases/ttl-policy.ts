/**
 * The one TTL service (issue 16 item 5, after OpenBao's SystemView): what a lease on a mount may live, from the mount's
 * tuned default_lease_ttl / max_lease_ttl, else the broker's limits (as Vault's SystemView: a tuned mount value replaces
 * the system one, so `secrets tune -max-lease-ttl=87600h pki` lets a root CA live ten years). The lease manager and every engine (the
 * database engine's VALID UNTIL, PKI's certificate lifetimes) ask it, so they cannot disagree.
 */
import type { MountInfo, MountTtl } from '../engine.ts';

export interface TtlLimits {
  /** Seconds (SEALBOX_LEASE_DEFAULT_TTL): what a lease gets when neither the engine nor the mount says. */
  defaultTtl: number;
  /** Seconds (SEALBOX_LEASE_MAX_TTL): the maximum of every mount that does not tune its own max_lease_ttl. */
  maxTtl: number;
}

const secondsOf = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);
const minPositive = (...xs: number[]): number => Math.min(...xs.filter((x) => x > 0));

export function createTtlPolicy(limits: TtlLimits) {
  return {
    limits,
    forMount(mount: Pick<MountInfo, 'config'>): MountTtl {
      const maxTtl = (): number => secondsOf(mount.config.max_lease_ttl) || limits.maxTtl;
      const defaultTtl = (): number => Math.min(secondsOf(mount.config.default_lease_ttl) || limits.defaultTtl, maxTtl());
      return {
        defaultTtl,
        maxTtl,
        resolve(requested) {
          const max = minPositive(requested.maxTtl, maxTtl());
          const wanted = requested.ttl > 0 ? requested.ttl : secondsOf(mount.config.default_lease_ttl) || limits.defaultTtl;
          const ttl = Math.min(wanted, max);
          const warnings = wanted > ttl ? [`TTL of "${wanted}s" exceeded the effective max_ttl of "${max}s"; TTL value is capped accordingly`] : [];
          return { ttl, maxTtl: max, warnings };
        },
      };
    },
  };
}

export type TtlPolicy = ReturnType<typeof createTtlPolicy>;
