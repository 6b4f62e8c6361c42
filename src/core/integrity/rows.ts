import type { LeaseCountQuota, LeaseRow } from '../../storage/leases-store.ts';
import type { MountRow } from '../../storage/mounts-store.ts';
import type { StoredPasswordPolicy } from '../../storage/password-policies-store.ts';
import type { QuotaConfigRow, RateLimitQuotaRow } from '../../storage/quotas-store.ts';
import type { RotationRow } from '../../storage/rotations-store.ts';
import type { SealConfigRow } from '../../storage/seal-store.ts';
import type { TombstoneRow, TokenRow } from '../../storage/tokens-store.ts';
import type { MacFields, MacValue } from './row-mac.ts';

/**
 * Each protected table's row → the values of its ROW_MAC_FIELDS (row-mac.ts), in that order. One binder per table,
 * used by every writer and every reader of the table, so that a column cannot be signed one way and checked another.
 */

/** A value read from (or written to) a jsonb column: JSON, so a MacValue. */
const json = (v: unknown): MacValue => v as MacValue;

export const tokenFields = (t: TokenRow): MacFields<'tokens'> => [
  t.tokenHmac, t.accessor, t.parentAccessor, t.policies, t.displayName, json(t.meta), t.path, t.orphan, t.renewable, t.creationTtl,
  t.explicitMaxTtl, t.period, t.numUsesLimit ?? t.numUses, t.createdAt, t.expiresAt, t.maxExpiresAt, t.entityName, json(t.alias),
];

export const tombstoneFields = (t: Pick<TombstoneRow, 'tokenHmac' | 'accessor' | 'until'>): MacFields<'token_tombstones'> => [t.tokenHmac, t.accessor, t.until];

export const policyFields = (p: { name: string; document: string }): MacFields<'policies'> => [p.name, p.document];

export const mountFields = (m: Pick<MountRow, 'id' | 'path' | 'class' | 'type' | 'description' | 'config' | 'options'>): MacFields<'mounts'> => [
  m.id, m.path, m.class, m.type, m.description, json(m.config), json(m.options),
];

export const leaseFields = (l: Pick<LeaseRow, 'id' | 'mountId' | 'secretType' | 'tokenAccessor' | 'issuedAt' | 'expiresAt' | 'maxExpiresAt' | 'ttlSeconds' | 'renewable'>): MacFields<'leases'> => [
  l.id, l.mountId, l.secretType, l.tokenAccessor, l.issuedAt, l.expiresAt, l.maxExpiresAt, l.ttlSeconds, l.renewable,
];

export const rateQuotaFields = (q: RateLimitQuotaRow): MacFields<'rate_limit_quotas'> => [q.name, q.path, q.rate, q.intervalSeconds, q.blockIntervalSeconds];

export const quotaConfigFields = (c: QuotaConfigRow): MacFields<'quota_config'> => [1, c.enableRateLimitResponseHeaders, c.rateLimitExemptPaths];

export const leaseQuotaFields = (q: Pick<LeaseCountQuota, 'name' | 'path' | 'maxLeases'>): MacFields<'lease_count_quotas'> => [q.name, q.path, q.maxLeases];

/** The document only: the generation rules are derived from it on every read. */
export const passwordPolicyFields = (p: StoredPasswordPolicy): MacFields<'password_policies'> => [p.name, p.policy.document];

export const rotationFields = (r: Pick<RotationRow, 'id' | 'mountId' | 'kind' | 'target' | 'schedule' | 'periodSeconds' | 'paused' | 'graceSeconds'>): MacFields<'rotations'> => [
  r.id, r.mountId, r.kind, r.target, r.schedule, r.periodSeconds, r.paused, r.graceSeconds,
];

export const jobFields = (j: { name: string; paused: boolean }): MacFields<'scheduled_jobs'> => [j.name, j.paused];

export const sealConfigFields = (c: SealConfigRow): MacFields<'seal_configs'> => [1, c.sealType, c.secretShares, c.secretThreshold];
