// The Db the broker wires itself with while the embedded database is still opening (issue 17): statements issued
// before the database is open wait for it and run in order, a transaction works across the opening, statements
// after it run directly, and a database that fails to open fails every statement with its error (no hang) while
// close() resolves.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import type { Db } from './db.ts';
import { openingDb } from './opening-db.ts';
import { createPgliteThreadDb } from './pglite-thread-db.ts';

test('statements before the open wait for it, in order; after it they run directly', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-opening-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'pglite'));
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  // The real database, handed over only when the test says so: every statement below is issued before it.
  const real = createPgliteThreadDb(path.join(dir, 'pglite'), dir);
  const db = openingDb('pglite', held.then(() => real));
  t.is(db.kind, 'pglite');
  t.false(db.available?.(), 'not available while opening');
  const created = db.exec('CREATE TABLE t (k text PRIMARY KEY, n int)');
  const inTx = db.tx(async (q) => {
    await q.query('INSERT INTO t VALUES ($1, $2)', ['a', 1]);
    await q.query('INSERT INTO t VALUES ($1, $2)', ['b', 2]);
    return 'committed';
  });
  const counted = db.query<{ n: string }>('SELECT count(*)::text AS n FROM t');
  let settled = false;
  void created.then(() => (settled = true));
  await Promise.resolve();
  t.false(settled, 'nothing ran before the database was open');
  release();
  await created;
  t.is(await inTx, 'committed');
  t.is((await counted).rows[0]?.n, '2', 'the count ran after the transaction it was queued behind');
  t.true(db.available?.(), 'available once open');
  t.is((await db.query<{ k: string }>('SELECT k FROM t ORDER BY k')).rows.map((r) => r.k).join(','), 'a,b');
  await db.close();
});

test('a database that fails to open fails each statement with its error, and close() resolves', async (t) => {
  const failed = Promise.reject<Db>(new Error('the embedded database stopped: no space left on device'));
  const db = openingDb('pglite', failed);
  await t.throwsAsync(db.query('SELECT 1'), { message: /no space left on device/ });
  await t.throwsAsync(db.tx(async () => 'never'), { message: /no space left on device/ });
  await t.notThrowsAsync(db.close());
  t.false(db.available?.());
});
