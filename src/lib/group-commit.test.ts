import test from 'ava';
import { createGroupCommit } from './group-commit.ts';

/** A write whose batches stay open until the test lets them go. */
function controlled() {
  const batches: { items: number[]; finish: (r: readonly string[] | Error) => void }[] = [];
  let written: () => void = () => {};
  /** Resolves when the next batch is handed to the write. */
  const nextBatch = (): Promise<void> => new Promise((resolve) => (written = resolve));
  const write = (items: readonly number[]): Promise<readonly string[]> =>
    new Promise((resolve, reject) => {
      batches.push({ items: [...items], finish: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
      written();
    });
  return { batches, write, nextBatch };
}

test('a lone item is written at once; items arriving meanwhile go together in the next batch, each with its own result', async (t) => {
  const c = controlled();
  const g = createGroupCommit<number, string>({ write: c.write });
  const first = g.submit(1);
  t.deepEqual(c.batches.map((b) => b.items), [[1]], 'an idle queue sends at once');
  const rest = [2, 3, 4].map((n) => g.submit(n));
  t.is(c.batches.length, 1, 'one batch in flight at a time');
  c.batches[0]?.finish(['one']);
  t.is(await first, 'one');
  t.deepEqual(c.batches[1]?.items, [2, 3, 4]);
  c.batches[1]?.finish(['two', 'three', 'four']);
  t.deepEqual(await Promise.all(rest), ['two', 'three', 'four']);
  t.deepEqual(g.stats, { batches: 2, items: 4 });
});

test('a failed batch rejects each of its callers and no other; the queue goes on', async (t) => {
  const c = controlled();
  const g = createGroupCommit<number, string>({ write: c.write, maxBatch: 2 });
  const a = g.submit(1);
  const [b, d, e] = [2, 3, 4].map((n) => g.submit(n));
  c.batches[0]?.finish(new Error('storage down'));
  await t.throwsAsync(a, { message: 'storage down' });
  t.deepEqual(c.batches[1]?.items, [2, 3], 'maxBatch bounds a batch');
  c.batches[1]?.finish(new Error('refused'));
  await t.throwsAsync(b as Promise<string>, { message: 'refused' });
  await t.throwsAsync(d as Promise<string>, { message: 'refused' });
  c.batches[2]?.finish(['four']);
  t.is(await e, 'four');
});

test('a write that returns the wrong number of results, or throws at once, fails its batch', async (t) => {
  const short = createGroupCommit<number, string>({ write: () => Promise.resolve([]) });
  await t.throwsAsync(short.submit(1), { message: 'group commit: 0 results for 1 items' });
  const throwing = createGroupCommit<number, string>({
    write: () => {
      throw new Error('sync failure');
    },
  });
  await t.throwsAsync(throwing.submit(1), { message: 'sync failure' });
});

test('gather: items submitted in the same event-loop turn share the first batch', async (t) => {
  const c = controlled();
  const g = createGroupCommit<number, string>({ write: c.write, gather: true });
  const sent = c.nextBatch();
  const all = [1, 2, 3].map((n) => g.submit(n));
  t.is(c.batches.length, 0, 'nothing written within the turn');
  await sent;
  t.deepEqual(c.batches.map((b) => b.items), [[1, 2, 3]]);
  c.batches[0]?.finish(['a', 'b', 'c']);
  t.deepEqual(await Promise.all(all), ['a', 'b', 'c']);
});
