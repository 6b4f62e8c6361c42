/**
 * The one way a list of a secret's versions is changed (delete/undelete/destroy paths, and a rotation's retire step
 * destroying the version it replaced): load, change and save the metadata under the secret's lock. A missing secret
 * is a silent no-op, as in Vault; repeating a change is harmless (it is idempotent).
 */
import type { StorageView } from '../../core/engine.ts';
import { loadMetaAndConfig, metaKey, saveMeta, syncLatest, versionKey, type KvConfig, type KvDeps, type SecretMeta } from './model.ts';
import { destroy, softDelete, undelete } from './versioning.ts';

/** What a change did: the new metadata and the version entries to remove. */
export interface Change {
  meta: SecretMeta;
  removeVersions?: number[];
}
export type ChangeFn = (meta: SecretMeta, config: KvConfig, versions: readonly number[], now: Date) => Change;

export async function changeVersions(deps: KvDeps, path: string, versions: readonly number[], change: ChangeFn): Promise<void> {
  await deps.storage.locked(metaKey(path), async (s: StorageView) => {
    const now = deps.clock.now();
    const { meta, config } = await loadMetaAndConfig(s, path);
    if (!meta) return;
    const result = change(meta, config, versions, now);
    if (result.removeVersions && result.removeVersions.length > 0) {
      await s.delete(result.removeVersions.map((n) => versionKey(path, n)));
    }
    await saveMeta(s, path, await syncLatest(s, path, result.meta, now));
  });
}

export const deleteChange: ChangeFn = (meta, _config, versions, now) => ({ meta: softDelete(meta, versions, now) });
export const undeleteChange: ChangeFn = (meta, config, versions, now) => ({ meta: undelete(config, meta, versions, now) });
export const destroyChange: ChangeFn = (meta, _config, versions) => {
  const result = destroy(meta, versions);
  return { meta: result.meta, removeVersions: result.destroyed };
};
