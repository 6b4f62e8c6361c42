import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from './db.ts';

/** Arbitrary constant: the advisory lock every broker takes while migrating. */
const MIGRATION_LOCK = 7_305_001;
const NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;

/**
 * The common start (an existing data directory or database, nothing new): one read, no transaction, no lock and no
 * DDL. Anything else (no table yet, a file not applied) takes the locked path below, which checks again.
 */
async function allApplied(db: Db, files: readonly string[]): Promise<boolean> {
  if (files.length === 0) return false;
  try {
    const r = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations WHERE name = ANY($1::text[])', [files]);
    return r.rows[0]?.n === files.length;
  } catch {
    return false;
  }
}

/**
 * Applies forward-only migrations from `dir` in one transaction, under an advisory lock so that
 * replicas booting together apply each file once. Returns the names applied now.
 */
export async function migrate(db: Db, dir: string): Promise<string[]> {
  const files = (await readdir(dir)).filter((f) => NAME.test(f)).sort();
  if (await allApplied(db, files)) return [];
  return db.tx(async (q) => {
    await q.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await q.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set((await q.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name));
    const applied: string[] = [];
    for (const f of files) {
      if (done.has(f)) continue;
      await q.exec(await readFile(join(dir, f), 'utf8'));
      await q.query('INSERT INTO schema_migrations (name) VALUES ($1)', [f]);
      applied.push(f);
    }
    return applied;
  });
}
