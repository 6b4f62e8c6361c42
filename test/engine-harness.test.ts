// The engine harness (test/helpers/engine-harness.ts): the KV v2 engine's paths alone, on in-memory storage and a fake
// clock. No broker, no database: what these tests show is the engine's own behaviour.
import test from 'ava';
import { kvEngine } from '../src/engines/kv/index.ts';
import { AppError } from '../src/lib/errors.ts';
import { createEngineHarness, createMemoryStorage } from './helpers/engine-harness.ts';

interface VersionMeta {
  version: number;
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}

test('kv: a write is version 1, stamped with the fake clock; the next write is version 2', async (t) => {
  const e = createEngineHarness(kvEngine, { startAt: Date.parse('2030-01-02T03:04:05.000Z') });
  const w1 = await e.request('update', 'data/app/db', { data: { password: 'one' } });
  t.is((w1.data as unknown as VersionMeta).version, 1);
  t.is((w1.data as unknown as VersionMeta).created_time, '2030-01-02T03:04:05.000Z');
  e.clock.advance(90_000);
  const w2 = await e.request('update', 'data/app/db', { data: { password: 'two' } });
  t.is((w2.data as unknown as VersionMeta).version, 2);
  t.is((w2.data as unknown as VersionMeta).created_time, '2030-01-02T03:05:35.000Z');
  const r = await e.request('read', 'data/app/db');
  t.deepEqual((r.data as { data: unknown }).data, { password: 'two' });
  const old = await e.request('read', 'data/app/db', { version: '1' });
  t.deepEqual((old.data as { data: unknown }).data, { password: 'one' });
});

test('kv: check-and-set refuses a stale version and writes nothing', async (t) => {
  const e = createEngineHarness(kvEngine);
  await e.request('update', 'data/x', { data: { a: 1 } });
  const err = await t.throwsAsync(e.request('update', 'data/x', { data: { a: 2 }, options: { cas: 0 } }));
  t.true(err instanceof AppError);
  t.is((err as AppError).code, 'bad_request');
  const r = await e.request('read', 'data/x');
  t.deepEqual((r.data as { data: unknown }).data, { a: 1 });
  t.is(((r.data as { metadata: VersionMeta }).metadata).version, 1);
});

test('kv: a soft delete is stamped with the clock and undelete brings the version back', async (t) => {
  const e = createEngineHarness(kvEngine, { startAt: Date.parse('2031-06-01T00:00:00.000Z') });
  await e.request('update', 'data/s', { data: { v: 'x' } });
  e.clock.advance(5_000);
  await e.request('delete', 'data/s');
  const meta = await e.request('read', 'metadata/s');
  const versions = (meta.data as { versions: Record<string, VersionMeta> }).versions;
  t.is(versions['1']?.deletion_time, '2031-06-01T00:00:05.000Z');
  await e.request('update', 'undelete/s', { versions: [1] });
  const r = await e.request('read', 'data/s');
  t.deepEqual((r.data as { data: unknown }).data, { v: 'x' });
});

test('kv: max_versions keeps only the newest versions', async (t) => {
  const e = createEngineHarness(kvEngine);
  await e.request('update', 'metadata/m', { max_versions: 2 });
  for (let i = 1; i <= 4; i++) await e.request('update', 'data/m', { data: { i } });
  const meta = await e.request('read', 'metadata/m');
  t.deepEqual(Object.keys((meta.data as { versions: Record<string, unknown> }).versions).sort(), ['3', '4']);
  const gone = await t.throwsAsync(e.request('read', 'data/m', { version: '1' }));
  t.is((gone as AppError).code, 'not_found');
});

test('kv: a rotation policy registers its rotation, and running it writes a generated version that keeps the other fields', async (t) => {
  const e = createEngineHarness(kvEngine);
  await e.request('update', 'data/app/db', { data: { username: 'app', password: 'initial' } });
  await e.request('update', 'rotate-config/app/db', { key: 'password', generator: { length: 24, digits: 3 } });
  const [rotation] = [...e.rotations.values()];
  t.truthy(rotation);
  t.is(rotation?.kind, 'rotate');
  t.is(rotation?.target, 'app/db');
  const before = e.published.length;
  e.clock.advance(3_600_000);
  await e.rotate('rotate', 'app/db');
  t.deepEqual(e.rotations.get('rotate/app/db')?.lastRotated, e.clock.now());
  const r = await e.request('read', 'data/app/db');
  const data = (r.data as { data: Record<string, string> }).data;
  t.is(data.username, 'app');
  t.not(data.password, 'initial');
  t.is(data.password?.length, 24);
  t.true((data.password?.match(/[0-9]/g) ?? []).length >= 3);
  t.is(((r.data as { metadata: VersionMeta }).metadata).version, 2);
  t.true(e.published.length > before, 'the rotation published its new version');
});

test('memory storage: list gives the immediate children, folders with a slash; locked runs one at a time per key', async (t) => {
  const s = createMemoryStorage();
  await s.put('a/b/c', Buffer.from('1'));
  await s.put('a/d', Buffer.from('2'));
  await s.put('e', Buffer.from('3'));
  t.deepEqual(await s.list(''), ['a/', 'e']);
  t.deepEqual(await s.list('a/'), ['b/', 'd']);
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const first = s.locked('k', async () => {
    order.push('first in');
    await gate;
    order.push('first out');
  });
  const second = s.locked('k', async () => {
    order.push('second');
  });
  await Promise.resolve();
  release();
  await Promise.all([first, second]);
  t.deepEqual(order, ['first in', 'first out', 'second']);
  await s.deletePrefix('a/');
  t.deepEqual(s.keys(), ['e']);
});
