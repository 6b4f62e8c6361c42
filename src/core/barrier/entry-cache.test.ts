import test from 'ava';
import { createLogger } from '../../lib/log.ts';
import type { Db, NotifyHandler } from '../../storage/db.ts';
import { createEntryCache, ENTRY_CACHE_CHANNEL } from './entry-cache.ts';

/** A Db whose notification link the test controls; no statement is ever run. */
function fakeDb() {
  const state = { notifying: true, handler: null as NotifyHandler | null };
  const never = (): Promise<never> => Promise.reject(new Error('no statements in this test'));
  const db: Db = {
    kind: 'postgres',
    query: never,
    exec: never,
    tx: never,
    notify: never,
    holdSessionLock: never,
    close: async () => undefined,
    async listen(channel, handler) {
      if (channel === ENTRY_CACHE_CHANNEL) state.handler = handler;
    },
    notifying: () => state.notifying,
  };
  return { db, state, notify: (payload: string | null) => void state.handler?.(payload) };
}

const setup = async (maxEntries = 3, maxBytes = 1 << 20) => {
  const f = fakeDb();
  const cache = createEntryCache({ db: f.db, log: createLogger({ level: 'silent' }), maxEntries, maxBytes });
  await cache.listen();
  const m = cache.forMount('m1');
  if (!m) throw new Error('cache disabled');
  const put = (key: string, value = key): void => m.fill(m.ticket(), key, Buffer.from(value));
  return { ...f, cache, m, put };
};

test('holds what was filled, least recently used out first, within the entry bound', async (t) => {
  const { m, put } = await setup(3);
  for (const k of ['a', 'b', 'c']) put(k);
  t.is(m.get('a')?.toString(), 'a'); // a is now the most recent
  put('d');
  t.is(m.get('b'), undefined, 'b was the least recently used');
  t.deepEqual(['a', 'c', 'd'].map((k) => m.get(k)?.toString()), ['a', 'c', 'd']);
});

test('the byte bound evicts too, and a record larger than it is not kept', async (t) => {
  const { m, put, cache } = await setup(100, 400);
  put('big', 'x'.repeat(500));
  t.is(m.get('big'), undefined);
  put('a', 'x'.repeat(150));
  put('b', 'x'.repeat(150));
  t.is(m.get('a'), undefined, 'two records of 150 bytes plus overhead do not fit in 400');
  t.truthy(m.get('b'));
  t.true(cache.stats().bytes <= 400);
});

test('a read that raced an invalidation is not cached', async (t) => {
  const { m, notify } = await setup();
  const ticket = m.ticket();
  m.invalidate(['k']);
  m.fill(ticket, 'k', Buffer.from('old'));
  t.is(m.get('k'), undefined, 'a local write meanwhile');
  const t2 = m.ticket();
  notify(JSON.stringify({ m: 'm1', k: ['other'] }));
  m.fill(t2, 'k', Buffer.from('old'));
  t.is(m.get('k'), undefined, 'any invalidation of the mount meanwhile');
  const t3 = m.ticket();
  notify(null);
  m.fill(t3, 'k', Buffer.from('old'));
  t.is(m.get('k'), undefined, 'a flush meanwhile');
});

test('notifications drop keys, the mount, or everything; unreadable ones drop everything', async (t) => {
  const { cache, notify, put, m } = await setup(10);
  const other = cache.forMount('m2');
  if (!other) throw new Error('cache disabled');
  const refill = (): void => {
    for (const k of ['a', 'b']) put(k);
    other.fill(other.ticket(), 'a', Buffer.from('a'));
  };
  refill();
  notify(JSON.stringify({ m: 'm1', k: ['a'] }));
  t.deepEqual([m.get('a'), m.get('b')?.toString(), other.get('a')?.toString()], [undefined, 'b', 'a']);
  refill();
  notify(JSON.stringify({ m: 'm1' }));
  t.deepEqual([m.get('a'), m.get('b'), other.get('a')?.toString()], [undefined, undefined, 'a']);
  for (const p of ['*', null, 'not json', '{"k":["a"]}']) {
    refill();
    notify(p);
    t.deepEqual([m.get('a'), other.get('a')], [undefined, undefined], String(p));
  }
});

test('nothing is answered or stored while notifications may be missed', async (t) => {
  const { m, put, state } = await setup();
  put('a');
  state.notifying = false;
  t.is(m.get('a'), undefined);
  put('b');
  state.notifying = true;
  t.is(m.get('b'), undefined, 'filled while the link was down: not kept');
});

test('payloads name the mount and keys, and fall back to the whole mount when too long for NOTIFY', async (t) => {
  const { m } = await setup();
  t.deepEqual(JSON.parse(m.payload(['meta/a', 'ver/a/0000000001'])), { m: 'm1', k: ['meta/a', 'ver/a/0000000001'] });
  t.deepEqual(JSON.parse(m.payload(null)), { m: 'm1' });
  t.deepEqual(JSON.parse(m.payload(Array.from({ length: 400 }, (_, i) => `ver/some/long/path/${i}`))), { m: 'm1' });
});

test('a cache with no room is off: forMount gives none', (t) => {
  const cache = createEntryCache({ db: fakeDb().db, log: createLogger({ level: 'silent' }), maxEntries: 0, maxBytes: 1 });
  t.is(cache.forMount('m1'), null);
});
