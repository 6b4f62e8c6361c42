import test from 'ava';
import { createFakeClock } from './fake-clock.ts';
import { createSeededRandom } from './seeded-random.ts';

test('a fake clock stands still until advanced or set, and hands out copies', (t) => {
  const clock = createFakeClock('2030-01-01T00:00:00Z');
  const a = clock.now();
  a.setFullYear(1999);
  t.is(clock.now().toISOString(), '2030-01-01T00:00:00.000Z', 'mutating a returned Date does not move the clock');
  t.is(clock.advance(1500).toISOString(), '2030-01-01T00:00:01.500Z');
  t.is(clock.advanceSeconds(60).toISOString(), '2030-01-01T00:01:01.500Z');
  t.is(clock.set('2030-02-01T00:00:00Z').toISOString(), '2030-02-01T00:00:00.000Z');
  t.is(clock.now().getTime(), Date.parse('2030-02-01T00:00:00Z'));
});

test('a fake clock refuses nonsense, and goes backwards only when asked to', (t) => {
  const clock = createFakeClock(0);
  t.throws(() => clock.advance(-1), { instanceOf: RangeError });
  t.throws(() => clock.advance(Number.NaN), { instanceOf: RangeError });
  t.throws(() => clock.set('not a date'), { instanceOf: RangeError });
  clock.advance(10);
  t.throws(() => clock.set(5), { message: /backwards/ });
  t.is(clock.set(5, { backwards: true }).getTime(), 5);
  t.throws(() => createFakeClock('garbage'), { instanceOf: RangeError });
});

test('a seeded Random repeats for a seed, differs across seeds, and gives version-4 UUIDs', (t) => {
  const a = createSeededRandom('s');
  const b = createSeededRandom('s');
  t.deepEqual(a.bytes(50), b.bytes(50));
  t.is(a.uuid(), b.uuid());
  t.notDeepEqual(createSeededRandom('t').bytes(16), createSeededRandom('s').bytes(16));
  const r = createSeededRandom(7);
  const ids = new Set(Array.from({ length: 100 }, () => r.uuid()));
  t.is(ids.size, 100);
  for (const id of ids) t.regex(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(r.bytes(0).length, 0);
  t.throws(() => r.bytes(-1), { instanceOf: RangeError });
});
