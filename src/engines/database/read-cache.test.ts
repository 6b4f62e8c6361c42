import test from 'ava';
import type { EngineStorage, StorageView } from '../../core/engine.ts';
import { createReadCache } from './read-cache.ts';

/** A Map storage that counts reads; `hold` makes the next read wait until released. */
function fakeStorage() {
  const data = new Map<string, Buffer>();
  let reads = 0;
  let gate: Promise<void> | null = null;
  const view: StorageView = {
    async get(key) {
      reads++;
      const value = data.get(key) ?? null;
      if (gate) await gate;
      return value;
    },
    getMany: async (keys) => new Map(keys.flatMap((k) => (data.has(k) ? [[k, data.get(k) as Buffer] as const] : []))),
    async put(key, value) {
      data.set(key, Buffer.from(value));
    },
    async delete(keys) {
      for (const k of keys) data.delete(k);
    },
    async deletePrefix(prefix) {
      for (const k of [...data.keys()]) if (k.startsWith(prefix)) data.delete(k);
    },
    list: async () => [],
  };
  const storage: EngineStorage = { ...view, locked: (_key, fn) => fn(view) };
  return {
    storage,
    reads: () => reads,
    hold(): () => void {
      let release = (): void => undefined;
      gate = new Promise((r) => (release = r));
      return () => {
        gate = null;
        release();
      };
    },
  };
}

const text = (b: Buffer | null): string | null => (b ? b.toString('utf8') : null);

test('a key is read once per ttl; a write of that key is seen at once, a write of another key keeps the cache', async (t) => {
  const f = fakeStorage();
  const now = 0;
  const { storage, cached } = createReadCache(f.storage, 1000, () => now);
  await storage.put('roles/a', Buffer.from('1'));
  t.is(text(await cached.get('roles/a')), '1');
  t.is(text(await cached.get('roles/a')), '1');
  t.is(f.reads(), 1);
  await storage.put('shared/x/t/u/1', Buffer.from('ticket'));
  await storage.locked('shared/x', (s) => s.put('shared/x', Buffer.from('rec')));
  t.is(text(await cached.get('roles/a')), '1');
  t.is(f.reads(), 1, 'writes of other keys leave the cached role alone');
  await storage.put('roles/a', Buffer.from('2'));
  t.is(text(await cached.get('roles/a')), '2');
  await storage.locked('roles/a', (s) => s.put('roles/a', Buffer.from('3')));
  t.is(text(await cached.get('roles/a')), '3');
  await storage.deletePrefix('roles/');
  t.is(await cached.get('roles/a'), null);
  t.is(f.reads(), 4);
});

test('the cache expires after its ttl', async (t) => {
  const f = fakeStorage();
  let now = 0;
  const { storage, cached } = createReadCache(f.storage, 1000, () => now);
  await storage.put('config/main', Buffer.from('1'));
  await cached.get('config/main');
  now = 999;
  await cached.get('config/main');
  t.is(f.reads(), 1);
  now = 1000;
  await cached.get('config/main');
  t.is(f.reads(), 2);
});

test('a read in flight across a write of its key does not keep the value it read', async (t) => {
  const f = fakeStorage();
  const { storage, cached } = createReadCache(f.storage, 1000, () => 0);
  await storage.put('roles/a', Buffer.from('old'));
  const release = f.hold();
  const inFlight = cached.get('roles/a');
  await storage.put('roles/a', Buffer.from('new'));
  release();
  t.is(text(await inFlight), 'old');
  t.is(text(await cached.get('roles/a')), 'new', 'the old value was not cached');
});

test('a write under locked is forgotten again when the transaction ends', async (t) => {
  const f = fakeStorage();
  const { storage, cached } = createReadCache(f.storage, 1000, () => 0);
  await storage.put('roles/a', Buffer.from('old'));
  await storage.locked('roles/a', async (s) => {
    await s.put('roles/a', Buffer.from('new'));
    // A read between the write and the commit (here it sees the new value; on PostgreSQL it would see the old one).
    await cached.get('roles/a');
  });
  const before = f.reads();
  t.is(text(await cached.get('roles/a')), 'new');
  t.is(f.reads(), before + 1, 'read again after the commit');
});
