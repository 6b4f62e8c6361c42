/**
 * A shared cache of SEALED entry records, per mount (issue 18): what `entries.sealed` held, byte for byte, so that a
 * read through it runs the same barrier open (envelope AEAD under the entry's context) as a read from storage, and a
 * cached record is exactly as trustworthy as a fresh one. No plaintext is ever held here.
 *
 * Kept current across replicas by NOTIFY on the `sealbox_entries` channel: every write sends the mount id and the
 * keys it touched (never a value) in its own transaction, and every replica, this one included, drops those keys.
 * The cache answers only while the database says notifications cannot be missed (`Db.notifying`: the LISTEN
 * connection is up and confirmed within the staleness bound of issue 21). A lost LISTEN connection, a stale link and
 * the re-subscription after either (notifications may have been missed meanwhile) drop it whole.
 *
 * A read that went to storage stores what it read only if no invalidation of its mount happened while it was in
 * flight (a generation per mount, and one for the whole cache), so an answer read before a write can never be cached
 * after that write's invalidation. Bounded per mount by entries and bytes, least recently used first out.
 */
import type { Db } from '../../storage/db.ts';
import type { Logger } from '../../lib/log.ts';

export const ENTRY_CACHE_CHANNEL = 'sealbox_entries';
/** NOTIFY payloads must stay under 8000 bytes: a longer list of keys invalidates the whole mount. */
const MAX_PAYLOAD = 7000;
/** Per-record overhead counted against the byte bound (Map slot, key string, Buffer object). */
const OVERHEAD = 96;

export interface EntryCacheStats {
  hits: number;
  misses: number;
  /** Keys or mounts dropped by a write or a notification. */
  invalidations: number;
  /** Times the whole cache was dropped (notification connection lost, stale, or re-subscribed). */
  flushes: number;
  entries: number;
  bytes: number;
}

/** What a read took before going to storage: `fill` stores its answer only if nothing was invalidated meanwhile. */
export interface FillTicket {
  readonly mount: MountSlot;
  readonly gen: number;
  readonly epoch: number;
}

interface MountSlot {
  records: Map<string, Buffer>;
  bytes: number;
  gen: number;
}

export interface MountEntryCache {
  /** The cached sealed record of `key`, or undefined (also whenever the cache may not answer). */
  get(key: string): Buffer | undefined;
  /** Taken before a storage read whose answer may be cached. */
  ticket(): FillTicket;
  /** Caches a record read from storage after `ticket` (and opened): ignored if anything was invalidated since. */
  fill(ticket: FillTicket, key: string, sealed: Buffer): void;
  /** Drops keys locally (a write on this replica, before and after its commit). */
  invalidate(keys: readonly string[]): void;
  /** Drops the whole mount locally (a prefix delete, a remount, an unmount). */
  drop(): void;
  /** The NOTIFY payload that makes every replica drop these keys (null: the whole mount). */
  payload(keys: readonly string[] | null): string;
}

export interface EntryCacheOptions {
  db: Db;
  log: Logger;
  /** Records per mount (0: no cache). */
  maxEntries: number;
  /** Bytes of sealed records per mount. */
  maxBytes: number;
}

const slotSize = (key: string, sealed: Buffer): number => sealed.byteLength + key.length * 2 + OVERHEAD;

export function createEntryCache(opts: EntryCacheOptions) {
  const { db, log } = opts;
  const enabled = opts.maxEntries > 0 && opts.maxBytes > 0;
  const mounts = new Map<string, MountSlot>();
  const stats = { hits: 0, misses: 0, invalidations: 0, flushes: 0 };
  let epoch = 0;

  const usable = (): boolean => enabled && db.notifying?.() === true;
  const slotOf = (mountId: string): MountSlot => {
    let m = mounts.get(mountId);
    if (!m) {
      m = { records: new Map(), bytes: 0, gen: 0 };
      mounts.set(mountId, m);
    }
    return m;
  };
  const remove = (m: MountSlot, key: string): void => {
    const old = m.records.get(key);
    if (!old) return;
    m.records.delete(key);
    m.bytes -= slotSize(key, old);
  };
  const dropKeys = (mountId: string, keys: readonly string[]): void => {
    const m = mounts.get(mountId);
    if (!m) return;
    m.gen++;
    stats.invalidations += keys.length;
    for (const k of keys) remove(m, k);
  };
  const dropMount = (mountId: string): void => {
    const m = mounts.get(mountId);
    if (!m) return;
    m.gen++;
    stats.invalidations++;
    m.records.clear();
    m.bytes = 0;
  };
  const flush = (): void => {
    epoch++;
    stats.flushes++;
    for (const m of mounts.values()) {
      m.gen++;
      m.records.clear();
      m.bytes = 0;
    }
  };

  /** A notification: `{"m": mountId, "k": [keys]}`, `{"m": mountId}` (the mount), `*` or null (everything). */
  const onNotify = (payload: string | null): void => {
    if (payload === null || payload === '*') return flush();
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      parsed = null;
    }
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { m?: unknown }).m !== 'string') {
      log.warn('entry cache: unreadable invalidation; dropping the whole cache');
      return flush();
    }
    const { m, k } = parsed as { m: string; k?: unknown };
    if (Array.isArray(k) && k.every((x): x is string => typeof x === 'string')) dropKeys(m, k);
    else dropMount(m);
  };

  return {
    async listen(): Promise<void> {
      await db.listen(ENTRY_CACHE_CHANNEL, onNotify);
    },
    /** Drops everything (a keyring rewrap moved envelopes; a test). */
    flush,
    stats(): EntryCacheStats {
      let entries = 0;
      let bytes = 0;
      for (const m of mounts.values()) {
        entries += m.records.size;
        bytes += m.bytes;
      }
      return { ...stats, entries, bytes };
    },
    /** Forgets a mount (its engine was closed: unmounted, moved or retuned) and frees its records. */
    forgetMount(mountId: string): void {
      dropMount(mountId);
      mounts.delete(mountId);
    },
    forMount(mountId: string): MountEntryCache | null {
      if (!enabled) return null;
      return {
        get(key) {
          if (!usable()) return undefined;
          const m = mounts.get(mountId);
          const hit = m?.records.get(key);
          if (!m || !hit) {
            stats.misses++;
            return undefined;
          }
          // Least recently used first out: a hit moves to the back.
          m.records.delete(key);
          m.records.set(key, hit);
          stats.hits++;
          return hit;
        },
        ticket() {
          const m = slotOf(mountId);
          return { mount: m, gen: m.gen, epoch };
        },
        fill(t, key, sealed) {
          const m = t.mount;
          if (mounts.get(mountId) !== m || m.gen !== t.gen || epoch !== t.epoch || !usable()) return;
          const size = slotSize(key, sealed);
          if (size > opts.maxBytes) return;
          remove(m, key);
          m.records.set(key, sealed);
          m.bytes += size;
          for (const [k] of m.records) {
            if (m.records.size <= opts.maxEntries && m.bytes <= opts.maxBytes) break;
            remove(m, k);
          }
        },
        invalidate: (keys) => dropKeys(mountId, keys),
        drop: () => dropMount(mountId),
        payload(keys) {
          if (keys !== null) {
            const p = JSON.stringify({ m: mountId, k: keys });
            if (Buffer.byteLength(p) <= MAX_PAYLOAD) return p;
          }
          return JSON.stringify({ m: mountId });
        },
      };
    },
  };
}

export type EntryCache = ReturnType<typeof createEntryCache>;
