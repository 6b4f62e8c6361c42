/** delete/*path, undelete/*path and destroy/*path: act on a list of versions; all answer 204. */
import { z } from 'zod';
import { op, type EngineResponse, type PathDef, type StorageView } from '../../../core/engine.ts';
import { versionsField } from '../input.ts';
import {
  loadMetaAndConfig,
  metaKey,
  saveMeta,
  secretPath,
  syncLatest,
  versionKey,
  type KvConfig,
  type KvDeps,
  type SecretMeta,
} from '../model.ts';
import { destroy, softDelete, undelete } from '../versioning.ts';

const versionsInput = z.object({ versions: versionsField });

/** What a change did: the new metadata and the version entries to remove. */
interface Change {
  meta: SecretMeta;
  removeVersions?: number[];
}
type ChangeFn = (meta: SecretMeta, config: KvConfig, versions: readonly number[], now: Date) => Change;

/** Loads, changes and saves the metadata under the secret's lock; a missing secret is a silent no-op, as in Vault. */
async function changeVersions(deps: KvDeps, path: string, versions: readonly number[], change: ChangeFn, eventType: string): Promise<EngineResponse> {
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
  return { events: [{ type: eventType, path: `data/${path}` }] };
}

const deleteChange: ChangeFn = (meta, _config, versions, now) => ({ meta: softDelete(meta, versions, now) });
const undeleteChange: ChangeFn = (meta, config, versions, now) => ({ meta: undelete(config, meta, versions, now) });
const destroyChange: ChangeFn = (meta, _config, versions) => {
  const result = destroy(meta, versions);
  return { meta: result.meta, removeVersions: result.destroyed };
};

export function createVersionsPaths(deps: KvDeps): PathDef[] {
  const path = (prefix: 'delete' | 'undelete' | 'destroy', change: ChangeFn): PathDef => ({
    pattern: `${prefix}/*path`,
    operations: {
      update: op(versionsInput, async ({ params, input }) => changeVersions(deps, secretPath(params), input.versions, change, `kv-v2/data-${prefix}`)),
    },
  });
  return [path('delete', deleteChange), path('undelete', undeleteChange), path('destroy', destroyChange)];
}
