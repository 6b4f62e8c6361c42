/**
 * A short-lived read cache for role and config lookups on the mint path (two storage reads per creds request
 * otherwise). Writes through this engine's storage clear it at once; a change made on another replica is seen
 * within `ttlMs` (1 s), which is the staleness an operator may observe right after editing a role elsewhere.
 */
import type { EngineStorage, StorageView } from '../../core/engine.ts';

export function createReadCache(storage: EngineStorage, ttlMs: number, now: () => number = Date.now) {
  const cache = new Map<string, { at: number; value: Buffer | null }>();
  const clear = (): void => cache.clear();
  const writes: EngineStorage = {
    get: (key) => storage.get(key),
    getMany: (keys) => storage.getMany(keys),
    list: (prefix) => storage.list(prefix),
    async put(key, value) {
      clear();
      await storage.put(key, value);
      clear();
    },
    async delete(keys) {
      clear();
      await storage.delete(keys);
      clear();
    },
    async deletePrefix(prefix) {
      clear();
      await storage.deletePrefix(prefix);
      clear();
    },
    async locked(key, fn) {
      clear();
      try {
        return await storage.locked(key, fn);
      } finally {
        clear();
      }
    },
  };
  const cached: StorageView = {
    ...writes,
    async get(key) {
      const hit = cache.get(key);
      const t = now();
      if (hit && t - hit.at < ttlMs) return hit.value;
      const value = await storage.get(key);
      if (cache.size > 1000) cache.clear();
      cache.set(key, { at: t, value });
      return value;
    },
  };
  return { storage: writes, cached };
}
