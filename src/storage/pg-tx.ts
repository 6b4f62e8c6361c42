import type { Queryable } from './db.ts';

/**
 * BEGIN, `fn`, COMMIT through `q` (which runs on the checked-out `client` and translates its errors). On failure: ROLLBACK, and a connection
 * whose ROLLBACK failed is broken, so `release` gets the error and the pool destroys it instead of reusing it.
 */
export async function inTransaction<T>(
  client: { query(sql: string): Promise<unknown> },
  q: Queryable,
  fn: (q: Queryable) => Promise<T>,
  release: (broken?: unknown) => void,
): Promise<T> {
  let out: T;
  try {
    await q.exec('BEGIN');
    out = await fn(q);
    await q.exec('COMMIT');
  } catch (err) {
    const broken = await client.query('ROLLBACK').then(
      () => undefined,
      (e: unknown) => e ?? true,
    );
    release(broken);
    throw err;
  }
  release();
  return out;
}
