/** Pure KV v2 version bookkeeping: check-and-set, adding a version, pruning beyond max_versions, soft deletes. */
import { badRequest } from '../../lib/errors.ts';
import { DEFAULT_MAX_VERSIONS, isLive, type KvConfig, type SecretData, type SecretMeta, type VersionMeta } from './model.ts';

/** Vault's rules: a given cas must equal the current version (0: the secret has no version yet). */
export function checkCas(config: KvConfig, meta: SecretMeta, cas: number | undefined): void {
  if (cas !== undefined) {
    if (cas !== meta.currentVersion) throw badRequest('check-and-set parameter did not match the current version');
  } else if (config.casRequired || meta.casRequired) {
    throw badRequest('check-and-set parameter required for this call');
  }
}

/** Metadata max_versions if set, else the mount's, else 10. */
export function effectiveMaxVersions(config: KvConfig, meta: SecretMeta): number {
  if (meta.maxVersions > 0) return meta.maxVersions;
  return config.maxVersions > 0 ? config.maxVersions : DEFAULT_MAX_VERSIONS;
}

/** The smallest non-zero of the mount's and the secret's delete_version_after (Vault's rule); 0 if neither is set or the mount disables it. */
export function effectiveDeleteAfter(config: KvConfig, meta: SecretMeta): number {
  // A negative mount setting disables deletion on every key (Vault's IsDeleteVersionAfterDisabled).
  if (config.deleteVersionAfter < 0) return 0;
  const set = [config.deleteVersionAfter, meta.deleteVersionAfter].filter((s) => s > 0);
  return set.length > 0 ? Math.min(...set) : 0;
}

const plusSeconds = (now: Date, seconds: number): string => new Date(now.getTime() + seconds * 1000).toISOString();

/** Deletion time for a version made live at `now`: '' unless delete_version_after applies. */
export function scheduledDeletion(config: KvConfig, meta: SecretMeta, now: Date): string {
  const after = effectiveDeleteAfter(config, meta);
  return after > 0 ? plusSeconds(now, after) : '';
}

export interface NewVersion {
  meta: SecretMeta;
  version: number;
  versionMeta: VersionMeta;
  /** Versions that fell out of the max_versions window; their `ver/` entries must be deleted. */
  pruned: number[];
}

/**
 * Drops versions beyond the window exactly as Vault does: once current − oldest ≥ max, every version up to
 * current − max goes and oldest becomes current − max + 1.
 */
export function prune(meta: SecretMeta, max: number): { meta: SecretMeta; pruned: number[] } {
  if (meta.currentVersion - meta.oldestVersion < max) return { meta, pruned: [] };
  const lastToDelete = meta.currentVersion - max;
  const kept: Record<string, VersionMeta> = {};
  const pruned: number[] = [];
  for (const [n, vm] of Object.entries(meta.versions)) {
    if (Number(n) <= lastToDelete) pruned.push(Number(n));
    else kept[n] = vm;
  }
  return { meta: { ...meta, versions: kept, oldestVersion: lastToDelete + 1 }, pruned };
}

export function addVersion(config: KvConfig, meta: SecretMeta, data: SecretData, now: Date): NewVersion {
  const version = meta.currentVersion + 1;
  const createdTime = now.toISOString();
  const versionMeta: VersionMeta = { createdTime, deletionTime: scheduledDeletion(config, meta, now), destroyed: false };
  const grown: SecretMeta = {
    ...meta,
    currentVersion: version,
    updatedTime: createdTime,
    versions: { ...meta.versions, [String(version)]: versionMeta },
    latest: { version, data },
  };
  const { meta: next, pruned } = prune(grown, effectiveMaxVersions(config, meta));
  return { meta: next, version, versionMeta, pruned };
}

/** Soft-deletes the given versions at `now`; unknown, destroyed and already deleted ones are left alone. */
export function softDelete(meta: SecretMeta, versions: readonly number[], now: Date): SecretMeta {
  const next = { ...meta.versions };
  for (const n of versions) {
    const vm = next[String(n)];
    if (!vm || !isLive(vm, now)) continue;
    next[String(n)] = { ...vm, deletionTime: now.toISOString() };
  }
  return { ...meta, versions: next };
}

/** Clears the deletion of non-destroyed versions (re-arming delete_version_after from now, as Vault does). */
export function undelete(config: KvConfig, meta: SecretMeta, versions: readonly number[], now: Date): SecretMeta {
  const next = { ...meta.versions };
  for (const n of versions) {
    const vm = next[String(n)];
    if (!vm || vm.destroyed) continue;
    next[String(n)] = { ...vm, deletionTime: scheduledDeletion(config, meta, now) };
  }
  return { ...meta, versions: next };
}

/** Marks versions destroyed; returns the ones that exist (their data entries must be deleted). */
export function destroy(meta: SecretMeta, versions: readonly number[]): { meta: SecretMeta; destroyed: number[] } {
  const next = { ...meta.versions };
  const destroyed: number[] = [];
  for (const n of new Set(versions)) {
    const vm = next[String(n)];
    if (!vm) continue;
    destroyed.push(n);
    if (!vm.destroyed) next[String(n)] = { ...vm, destroyed: true };
  }
  return { meta: { ...meta, versions: next }, destroyed };
}
