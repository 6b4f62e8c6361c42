/** consumers (migrations/0013): who acknowledged which version of a rotated secret, and when each was last seen. */
import type { Queryable } from './db.ts';

export interface ConsumerRow {
  path: string;
  accessor: string;
  identity: string | null;
  displayName: string;
  version: number;
  ackedAt: Date;
  lastSeenAt: Date;
}

interface Raw {
  path: string;
  accessor: string;
  identity: string | null;
  display_name: string;
  version: string | number;
  acked_at: Date;
  last_seen_at: Date;
}

const toRow = (r: Raw): ConsumerRow => ({
  path: r.path,
  accessor: r.accessor,
  identity: r.identity,
  displayName: r.display_name,
  version: Number(r.version),
  ackedAt: new Date(r.acked_at),
  lastSeenAt: new Date(r.last_seen_at),
});

export function createConsumersStore() {
  return {
    /** Records an acknowledgement (a consumer never goes back to an older version by acknowledging it late). */
    async ack(q: Queryable, c: { path: string; accessor: string; identity: string | null; displayName: string; version: number; now: Date }): Promise<void> {
      await q.query(
        `INSERT INTO consumers (path, accessor, identity, display_name, version, acked_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6, $6)
         ON CONFLICT (path, accessor) DO UPDATE SET identity = EXCLUDED.identity, display_name = EXCLUDED.display_name,
           version = GREATEST(consumers.version, EXCLUDED.version),
           acked_at = CASE WHEN EXCLUDED.version > consumers.version THEN EXCLUDED.acked_at ELSE consumers.acked_at END,
           last_seen_at = EXCLUDED.last_seen_at`,
        [c.path, c.accessor, c.identity, c.displayName, c.version, c.now],
      );
    },
    /** Consumers of `path` seen since `since` (null: all), newest first, at most `limit`. */
    async list(q: Queryable, path: string, since: Date | null, limit: number): Promise<ConsumerRow[]> {
      const r = await q.query<Raw>(
        `SELECT path, accessor, identity, display_name, version, acked_at, last_seen_at FROM consumers
          WHERE path = $1 AND ($2::timestamptz IS NULL OR last_seen_at >= $2) ORDER BY last_seen_at DESC LIMIT $3`,
        [path, since, limit],
      );
      return r.rows.map(toRow);
    },
    async any(q: Queryable, path: string): Promise<boolean> {
      const r = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM consumers WHERE path = $1`, [path]);
      return (r.rows[0]?.n ?? 0) > 0;
    },
    /** Forgets consumers not seen for long (tidy). */
    async prune(q: Queryable, before: Date): Promise<number> {
      const r = await q.query(`DELETE FROM consumers WHERE last_seen_at < $1`, [before]);
      return r.rowCount;
    },
  };
}

export type ConsumersStore = ReturnType<typeof createConsumersStore>;
