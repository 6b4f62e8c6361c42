/**
 * A short-lived read cache for role and config lookups on the mint path (two storage reads per creds request
 * otherwise). A write through this engine's storage forgets the keys it writes at once (a write under `locked` when
 * its transaction ends too), and a read in flight across a write of its key does not keep what it read; a change made
 * on another replica is seen within `ttlMs` (1 s), which is the staleness an operator may observe right after editing
 * a role elsewhere. Writes of other keys (a shared user's tickets on every shared mint) leave the cache alone.
 */
import type { EngineStorage, StorageView } from '../../core/engine.ts';

export function createReadCache(storage: EngineStorage, ttlMs: number, now: () => number = Date.now) {
  const cache = new Map<string, { at: number; value: Buffer | null }>();
  /** Reads in flight, each with a token of its own: a write of the key takes the token away. */
  const reading = new Map<string, object>();
  const forget = (keys: Iterable<string>): void => {
    for (const k of keys) {
      cache.delete(k);
      reading.delete(k);
    }
  };
  const forgetPrefix = (prefix: string): void => forget([...cache.keys(), ...reading.keys()].filter((k) => k.startsWith(prefix)));

  /** A view whose writes forget what they touch (at the write, and again through `after` once it is over). */
  const forgetting = (view: StorageView, touched: Set<string>, prefixes: Set<string>): StorageView => ({
    get: (key) => view.get(key),
    getMany: (keys) => view.getMany(keys),
    list: (prefix) => view.list(prefix),
    async put(key, value) {
      touched.add(key);
      forget([key]);
      await view.put(key, value);
    },
    async delete(keys) {
      for (const k of keys) touched.add(k);
      forget(keys);
      await view.delete(keys);
    },
    async deletePrefix(prefix) {
      prefixes.add(prefix);
      forgetPrefix(prefix);
      await view.deletePrefix(prefix);
    },
  });
  const settle = (touched: Set<string>, prefixes: Set<string>): void => {
    forget(touched);
    for (const p of prefixes) forgetPrefix(p);
  };
  /** Runs fn on a forgetting view of `run`'s handle; what it wrote is forgotten again once `run` is over. */
  const once = async <T>(run: (fn: (v: StorageView) => Promise<T>) => Promise<T>, fn: (v: StorageView) => Promise<T>): Promise<T> => {
    const touched = new Set<string>();
    const prefixes = new Set<string>();
    try {
      return await run((v) => fn(forgetting(v, touched, prefixes)));
    } finally {
      settle(touched, prefixes);
    }
  };
  const direct = <T>(fn: (v: StorageView) => Promise<T>): Promise<T> => fn(storage);

  const writes: EngineStorage = {
    get: (key) => storage.get(key),
    getMany: (keys) => storage.getMany(keys),
    list: (prefix) => storage.list(prefix),
    put: (key, value) => once(direct, (v) => v.put(key, value)),
    delete: (keys) => once(direct, (v) => v.delete(keys)),
    deletePrefix: (prefix) => once(direct, (v) => v.deletePrefix(prefix)),
    // What fn writes is forgotten as it writes and again after the commit (a read in between saw the old value).
    locked: (key, fn) => once((f) => storage.locked(key, f), fn),
  };
  const cached: StorageView = {
    ...writes,
    async get(key) {
      const hit = cache.get(key);
      const t = now();
      if (hit && t - hit.at < ttlMs) return hit.value;
      const token = {};
      reading.set(key, token);
      const value = await storage.get(key);
      if (reading.get(key) === token) {
        reading.delete(key);
        if (cache.size > 1000) cache.clear();
        cache.set(key, { at: t, value });
      }
      return value;
    },
  };
  return { storage: writes, cached };
}
