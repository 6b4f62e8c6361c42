import { toBuffer, type Queryable } from './db.ts';

export interface SealedEntry {
  sealed: Buffer;
  term: number;
}

/** Escapes a LIKE pattern prefix (backslash is the escape character). */
const likePrefix = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** entries: sealed engine values keyed by (mount_id, key). Knows nothing of what they contain. */
export function createEntriesStore() {
  return {
    async get(q: Queryable, mountId: string, key: string): Promise<Buffer | null> {
      const r = await q.query<{ sealed: Uint8Array }>('SELECT sealed FROM entries WHERE mount_id = $1 AND key = $2', [mountId, key]);
      return r.rows[0] ? toBuffer(r.rows[0].sealed) : null;
    },
    async getMany(q: Queryable, mountId: string, keys: readonly string[]): Promise<Map<string, Buffer>> {
      const r = await q.query<{ key: string; sealed: Uint8Array }>(
        'SELECT key, sealed FROM entries WHERE mount_id = $1 AND key = ANY($2::text[])',
        [mountId, keys],
      );
      return new Map(r.rows.map((row) => [row.key, toBuffer(row.sealed)]));
    },
    async put(q: Queryable, mountId: string, key: string, e: SealedEntry): Promise<void> {
      await q.query(
        `INSERT INTO entries (mount_id, key, sealed, key_term) VALUES ($1, $2, $3, $4)
         ON CONFLICT (mount_id, key) DO UPDATE SET sealed = EXCLUDED.sealed, key_term = EXCLUDED.key_term, updated_at = now()`,
        [mountId, key, e.sealed, e.term],
      );
    },
    async delete(q: Queryable, mountId: string, keys: readonly string[]): Promise<number> {
      const r = await q.query('DELETE FROM entries WHERE mount_id = $1 AND key = ANY($2::text[])', [mountId, keys]);
      return r.rowCount;
    },
    async deletePrefix(q: Queryable, mountId: string, prefix: string): Promise<number> {
      const r = await q.query("DELETE FROM entries WHERE mount_id = $1 AND key LIKE $2 ESCAPE '\\'", [
        mountId,
        likePrefix(prefix),
      ]);
      return r.rowCount;
    },
    /** Immediate children of `prefix`, Vault style: "name" for a leaf and "name/" for a folder. */
    async listChildren(q: Queryable, mountId: string, prefix: string): Promise<string[]> {
      const r = await q.query<{ child: string }>(
        `SELECT DISTINCT CASE WHEN strpos(rest, '/') > 0 THEN substr(rest, 1, strpos(rest, '/')) ELSE rest END AS child
           FROM (SELECT substr(key, char_length($3::text) + 1) AS rest FROM entries
                  WHERE mount_id = $1 AND key LIKE $2 ESCAPE '\\') s
          ORDER BY child`,
        [mountId, likePrefix(prefix), prefix],
      );
      return r.rows.map((row) => row.child).filter((c) => c.length > 0);
    },
    /** Serialises writers of one logical key for the rest of the transaction, whether or not its row exists yet. */
    async lockKey(q: Queryable, mountId: string, key: string): Promise<void> {
      await q.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${mountId}/${key}`]);
    },
  };
}

export type EntriesStore = ReturnType<typeof createEntriesStore>;
