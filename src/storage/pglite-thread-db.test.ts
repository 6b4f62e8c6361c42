// The embedded database in a worker thread behaves as the in-thread one (pglite-db.ts), which the broker used before
// issue 17 moved PGlite's start onto the second core: values round-trip, a transaction commits or rolls back as a
// whole, statements outside it wait for it, errors keep their SQLSTATE and lose the statement's parameters,
// notifications arrive, and the data directory stays locked to one process until close.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { isAppError } from '../lib/errors.ts';
import type { Db } from './db.ts';
import { DirLockedError } from './dir-lock.ts';
import { createPgliteThreadDb } from './pglite-thread-db.ts';

let db: Db;
let dir: string;

test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-pglite-thread-'));
  fs.mkdirSync(path.join(dir, 'pglite'));
  db = await createPgliteThreadDb(path.join(dir, 'pglite'), dir);
  await db.exec('CREATE TABLE t (k text PRIMARY KEY, b bytea, at timestamptz, j jsonb, n bigint)');
});

test.after.always(async () => {
  await db.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test.serial('values round-trip: bytea, timestamps, jsonb, bigint and null', async (t) => {
  const at = new Date('2026-12-03T06:00:00.123Z');
  const r = await db.query('INSERT INTO t VALUES ($1, $2, $3, $4, $5)', ['a', Buffer.from([0, 1, 255]), at, { x: [1, 'y'] }, 2n ** 40n]);
  t.is(r.rowCount, 1);
  const got = await db.query<{ b: Uint8Array; at: Date; j: unknown; n: bigint | number | string; missing: null }>('SELECT b, at, j, n, NULL AS missing FROM t WHERE k = $1', ['a']);
  t.deepEqual([...(got.rows[0]?.b ?? [])], [0, 1, 255]);
  t.is(got.rows[0]?.at.getTime(), at.getTime());
  t.deepEqual(got.rows[0]?.j, { x: [1, 'y'] });
  t.is(BigInt(got.rows[0]?.n ?? 0), 2n ** 40n);
  t.is(got.rows[0]?.missing, null);
});

test.serial('a transaction commits as a whole, and one that throws leaves nothing', async (t) => {
  const out = await db.tx(async (q) => {
    await q.query("INSERT INTO t (k) VALUES ('tx1')");
    await q.query("INSERT INTO t (k) VALUES ('tx2')");
    return 'done';
  });
  t.is(out, 'done');
  const boom = new Error('caller failed');
  const err = await t.throwsAsync(
    db.tx(async (q) => {
      await q.query("INSERT INTO t (k) VALUES ('tx3')");
      throw boom;
    }),
  );
  t.is(err, boom);
  const keys = (await db.query<{ k: string }>("SELECT k FROM t WHERE k LIKE 'tx%' ORDER BY k")).rows.map((r) => r.k);
  t.deepEqual(keys, ['tx1', 'tx2']);
});

test.serial('a statement outside an open transaction waits for it (one connection, as in-thread)', async (t) => {
  const order: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let wrote!: () => void;
  const written = new Promise<void>((r) => (wrote = r));
  const tx = db.tx(async (q) => {
    await q.query("INSERT INTO t (k) VALUES ('held')");
    order.push('tx wrote');
    wrote();
    await gate;
    order.push('tx ends');
  });
  const outside = db.query<{ n: number }>("SELECT count(*)::int AS n FROM t WHERE k = 'held'").then((r) => (order.push('outside read'), r.rows[0]?.n));
  // The outside statement is queued behind the transaction; let the transaction go only after it is queued. It was
  // posted to the worker (db.query posts at once) before the transaction's INSERT was: once that INSERT has been
  // answered, the worker holds the outside statement, behind the open transaction.
  await written;
  release();
  await tx;
  t.is(await outside, 1);
  t.deepEqual(order, ['tx wrote', 'tx ends', 'outside read']);
});

test.serial('errors keep their SQLSTATE and constraint but not the parameters; bad text becomes a 400', async (t) => {
  const err = await t.throwsAsync(db.query('INSERT INTO t (k, j) VALUES ($1, $2)', ['a', { secret: 's3cr3t-value' }]));
  t.is((err as Error & { code?: string }).code, '23505');
  t.is((err as Error & { constraint?: string }).constraint, 't_pkey');
  t.false(JSON.stringify({ ...err, message: err?.message }).includes('s3cr3t-value'));
  const nul = await t.throwsAsync(db.query('INSERT INTO t (k) VALUES ($1)', ['nul\u0000byte']));
  t.true(isAppError(nul));
  // A failed statement inside a transaction fails the transaction, and the caller sees the database's error.
  const inTx = await t.throwsAsync(db.tx((q) => q.query("INSERT INTO t (k) VALUES ('a')")));
  t.is((inTx as Error & { code?: string }).code, '23505');
  t.is((await db.query("SELECT 1 AS one")).rows.length, 1);
});

test.serial('notifications reach every handler of their channel, also from this connection', async (t) => {
  const seen: string[] = [];
  let done!: () => void;
  const both = new Promise<void>((r) => (done = r));
  const h = (tag: string) => (payload: string | null): void => {
    seen.push(`${tag}:${String(payload)}`);
    if (seen.length === 2) done();
  };
  await db.listen('chan', h('a'));
  await db.listen('chan', h('b'));
  await db.notify('chan', 'hello');
  await both;
  t.deepEqual(seen.sort(), ['a:hello', 'b:hello']);
});

test.serial('the data directory is locked to one process until close, and a closed db refuses statements', async (t) => {
  t.true(fs.existsSync(path.join(dir, 'sealbox.lock')));
  await t.throwsAsync(createPgliteThreadDb(path.join(dir, 'pglite'), dir), { instanceOf: DirLockedError });
  const other = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-pglite-thread-'));
  fs.mkdirSync(path.join(other, 'pglite'));
  const second = await createPgliteThreadDb(path.join(other, 'pglite'), other);
  await second.exec('CREATE TABLE x (a int)');
  await second.close();
  await t.throwsAsync(second.query('SELECT 1'), { message: /embedded database stopped/ });
  // Its data persisted: opened again, the table is there.
  const again = await createPgliteThreadDb(path.join(other, 'pglite'), other);
  t.is((await again.query<{ n: number }>('SELECT count(*)::int AS n FROM x')).rows[0]?.n, 0);
  await again.close();
  fs.rmSync(other, { recursive: true, force: true });
});
