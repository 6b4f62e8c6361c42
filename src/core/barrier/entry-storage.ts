import type { Db, Queryable } from '../../storage/db.ts';
import type { EntriesStore } from '../../storage/entries-store.ts';
import type { Barrier } from './barrier.ts';
import type { EngineStorage, StorageView } from '../engine.ts';
import { CONTEXTS } from './contexts.ts';

/** The barrier context that binds a value to its row: a ciphertext moved to another key or mount fails to open. */
export const entryContext = CONTEXTS.entries;

export function createEngineStorage(deps: { db: Db; entries: EntriesStore; barrier: Barrier; mountId: string }): EngineStorage {
  const { entries, barrier, mountId } = deps;
  const view = (q: Queryable): StorageView => ({
    async get(key) {
      const sealed = await entries.get(q, mountId, key);
      return sealed ? barrier.decrypt(entryContext(mountId, key), sealed, q) : null;
    },
    async getMany(keys) {
      const m = await entries.getMany(q, mountId, keys);
      const out = new Map<string, Buffer>();
      for (const [k, sealed] of m) out.set(k, await barrier.decrypt(entryContext(mountId, k), sealed, q));
      return out;
    },
    async put(key, value) {
      await entries.put(q, mountId, key, barrier.encrypt(entryContext(mountId, key), value));
    },
    async delete(keys) {
      if (keys.length > 0) await entries.delete(q, mountId, keys);
    },
    async deletePrefix(prefix) {
      await entries.deletePrefix(q, mountId, prefix);
    },
    list: (prefix) => entries.listChildren(q, mountId, prefix),
  });
  return {
    ...view(deps.db),
    locked: (lockKey, fn) =>
      deps.db.tx(async (q) => {
        await entries.lockKey(q, mountId, lockKey);
        return fn(view(q));
      }),
  };
}
