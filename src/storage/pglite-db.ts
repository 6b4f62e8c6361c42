import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { Db, NotifyHandler, Queryable, QueryResult } from './db.ts';
import { lockDataDir } from './dir-lock.ts';
import { translatePgError } from './pg-errors.ts';
import { seedFromTemplate, templateTarball } from './pglite-template.ts';

function wrap(q: PGlite | Transaction): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await q.query<R>(sql, params as unknown[] | undefined).catch(translatePgError);
      return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
  };
}

/**
 * The embedded default: PostgreSQL compiled to WASM, in-process, persisted to `dir`.
 * One connection: PGlite queues statements and transactions itself, so a transaction is never interleaved.
 * One process: `lockDir` (the data directory) is locked first, and a second process fails with DirLockedError.
 */
export async function createPgliteDb(dir: string, lockDir: string): Promise<Db> {
  const lock = lockDataDir(lockDir);
  let db: PGlite;
  try {
    // A new directory starts as a copy of the build-time template instead of running initdb in WASM (seconds).
    await seedFromTemplate(dir);
    db = await PGlite.create(dir);
  } catch (err) {
    lock.release();
    throw err;
  }
  return fromPglite(db, () => lock.release());
}

/**
 * An embedded cluster that lives in memory only and is gone when it closes (the test harness's default, as
 * Vault's dev server's `inmem` storage): loaded from the build-time template's tarball when there is one, which
 * spares the copy of the template's 1,100 files into a new directory and their deletion afterwards.
 */
export async function createMemoryPgliteDb(): Promise<Db> {
  const loadDataDir = await templateTarball();
  const db = await PGlite.create('memory://', loadDataDir ? { loadDataDir } : {});
  return fromPglite(db, () => {});
}

function fromPglite(db: PGlite, release: () => void): Db {
  const base = wrap(db);
  const sessionLocks = new Set<string>();
  return {
    kind: 'pglite',
    query: base.query,
    exec: base.exec,
    tx: <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => db.transaction((t) => fn(wrap(t))),
    async listen(channel: string, handler: NotifyHandler): Promise<void> {
      await db.listen(channel, (payload) => handler(payload));
    },
    async notify(channel: string, payload: string): Promise<void> {
      await db.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    // One process owns the directory (dir-lock.ts): every write is this process's own, so nothing can be missed.
    notifying: () => true,
    async holdSessionLock(classId: number, key: number): Promise<void> {
      // One connection for the life of the process: a session lock on it ends with the process. Taken once.
      const id = `${classId}:${key}`;
      if (sessionLocks.has(id)) return;
      await db.query('SELECT pg_advisory_lock($1::int, $2::int)', [classId, key]);
      sessionLocks.add(id);
    },
    async close(): Promise<void> {
      try {
        await db.close();
      } finally {
        release();
      }
    },
  };
}
