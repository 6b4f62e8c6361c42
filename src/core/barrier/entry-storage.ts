import type { Db, Queryable } from '../../storage/db.ts';
import type { EntriesStore } from '../../storage/entries-store.ts';
import type { Barrier } from './barrier.ts';
import type { EngineStorage, StorageView } from '../engine.ts';
import { CONTEXTS } from './contexts.ts';
import { ENTRY_CACHE_CHANNEL, type MountEntryCache } from './entry-cache.ts';

/** The barrier context that binds a value to its row: a ciphertext moved to another key or mount fails to open. */
export const entryContext = CONTEXTS.entries;

/**
 * An engine's storage under the barrier. With a cache (entry-cache.ts), reads outside a transaction are served from
 * the sealed records it holds, opened exactly as a storage read opens them; reads inside `locked` always go to
 * storage. Every write drops its keys from this replica's cache (before and after its commit: read-your-writes) and
 * sends their names to every replica with NOTIFY, in the write's own transaction.
 */
export function createEngineStorage(deps: { db: Db; entries: EntriesStore; barrier: Barrier; mountId: string; cache?: MountEntryCache | null }): EngineStorage {
  const { entries, barrier, mountId } = deps;
  const cache = deps.cache ?? null;
  const open = (key: string, sealed: Buffer, q: Queryable): Promise<Buffer> => barrier.decrypt(entryContext(mountId, key), sealed, q);
  const announce = async (q: Queryable, keys: readonly string[] | null): Promise<void> => {
    if (!cache) return;
    if (keys) cache.invalidate(keys);
    else cache.drop();
    await q.query('SELECT pg_notify($1, $2)', [ENTRY_CACHE_CHANNEL, cache.payload(keys)]);
  };

  /** A cached record, opened; a record that no longer opens (a retired key term) is dropped and read again. */
  const cached = async (key: string, q: Queryable): Promise<Buffer | undefined> => {
    const hit = cache?.get(key);
    if (!hit) return undefined;
    try {
      return await open(key, hit, q);
    } catch {
      cache?.invalidate([key]);
      return undefined;
    }
  };

  /** `touched` collects the keys a transaction wrote (null: a prefix, the whole mount); absent: autocommit writes. */
  const view = (q: Queryable, touched?: { keys: Set<string>; all: boolean }): StorageView => {
    const wrote = async (keys: readonly string[] | null): Promise<void> => {
      if (!cache) return;
      if (!touched) return announce(q, keys);
      if (keys) {
        cache.invalidate(keys);
        for (const k of keys) touched.keys.add(k);
      } else {
        cache.drop();
        touched.all = true;
      }
    };
    const readThrough = cache !== null && touched === undefined;
    return {
      async get(key) {
        if (readThrough) {
          const hit = await cached(key, q);
          if (hit) return hit;
        }
        const ticket = readThrough ? cache.ticket() : null;
        const sealed = await entries.get(q, mountId, key);
        if (!sealed) return null;
        const value = await open(key, sealed, q);
        if (ticket) cache?.fill(ticket, key, sealed);
        return value;
      },
      async getMany(keys) {
        const out = new Map<string, Buffer>();
        let missing: readonly string[] = keys;
        if (readThrough) {
          const left: string[] = [];
          for (const k of keys) {
            const hit = await cached(k, q);
            if (hit) out.set(k, hit);
            else left.push(k);
          }
          if (left.length === 0) return out;
          missing = left;
        }
        const ticket = readThrough ? cache.ticket() : null;
        const m = await entries.getMany(q, mountId, missing);
        for (const [k, sealed] of m) {
          out.set(k, await open(k, sealed, q));
          if (ticket) cache?.fill(ticket, k, sealed);
        }
        return out;
      },
      async put(key, value) {
        await entries.put(q, mountId, key, barrier.encrypt(entryContext(mountId, key), value));
        await wrote([key]);
      },
      async delete(keys) {
        if (keys.length === 0) return;
        await entries.delete(q, mountId, keys);
        await wrote(keys);
      },
      async deletePrefix(prefix) {
        await entries.deletePrefix(q, mountId, prefix);
        await wrote(null);
      },
      list: (prefix) => entries.listChildren(q, mountId, prefix),
    };
  };
  return {
    ...view(deps.db),
    locked: (lockKey, fn) => {
      const touched = { keys: new Set<string>(), all: false };
      const forget = (): void => {
        if (touched.all) cache?.drop();
        else if (touched.keys.size > 0) cache?.invalidate([...touched.keys]);
      };
      return deps.db
        .tx(async (q) => {
          await entries.lockKey(q, mountId, lockKey);
          const result = await fn(view(q, touched));
          // Delivered at commit, to every replica: the same transaction as the writes.
          if (touched.all || touched.keys.size > 0) await announce(q, touched.all ? null : [...touched.keys]);
          return result;
        })
        .finally(forget);
    },
  };
}
