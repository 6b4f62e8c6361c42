import type { Db, Queryable } from '../../storage/db.ts';
import type { CoreEntriesStore } from '../../storage/core-entries-store.ts';
import type { Barrier } from './barrier.ts';
import type { EngineStorage, StorageView } from '../engine.ts';
import { CONTEXTS } from './contexts.ts';

/** The barrier context of a core entry: a ciphertext moved to another id fails to open. */
export const coreEntryContext = CONTEXTS.core_entries;

/**
 * Sealed storage for a builtin mount (sys/, auth/token/), the same contract engines get (entry-storage.ts): every
 * value is sealed by the barrier and bound to `<scope>/<key>`.
 */
export function createCoreStorage(deps: { db: Db; store: CoreEntriesStore; barrier: Barrier; scope: string }): EngineStorage {
  const { store, barrier } = deps;
  const id = (key: string): string => `${deps.scope}/${key}`;
  const view = (q: Queryable): StorageView => ({
    async get(key) {
      const sealed = await store.get(q, id(key));
      return sealed ? barrier.decrypt(coreEntryContext(id(key)), sealed, q) : null;
    },
    async getMany(keys) {
      const m = await store.getMany(q, keys.map(id));
      const out = new Map<string, Buffer>();
      for (const key of keys) {
        const sealed = m.get(id(key));
        if (sealed) out.set(key, await barrier.decrypt(coreEntryContext(id(key)), sealed, q));
      }
      return out;
    },
    async put(key, value) {
      await store.put(q, id(key), barrier.encrypt(coreEntryContext(id(key)), value).sealed);
    },
    async delete(keys) {
      if (keys.length > 0) await store.delete(q, keys.map(id));
    },
    async deletePrefix(prefix) {
      await store.deletePrefix(q, id(prefix));
    },
    list: (prefix) => store.listChildren(q, id(prefix)),
  });
  return {
    ...view(deps.db),
    locked: (lockKey, fn) =>
      deps.db.tx(async (q) => {
        await store.lockKey(q, id(lockKey));
        return fn(view(q));
      }),
  };
}
