import { toBuffer, type Queryable } from './db.ts';

/** Escapes a LIKE pattern prefix (backslash is the escape character). */
const likePrefix = (prefix: string): string => `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** core_entries: sealed values of the builtin mounts (token roles, wrapped responses), keyed by id. Knows nothing of what they hold. */
export function createCoreEntriesStore() {
  return {
    async get(q: Queryable, id: string): Promise<Buffer | null> {
      const r = await q.query<{ sealed: Uint8Array }>('SELECT sealed FROM core_entries WHERE id = $1', [id]);
      return r.rows[0] ? toBuffer(r.rows[0].sealed) : null;
    },
    async getMany(q: Queryable, ids: readonly string[]): Promise<Map<string, Buffer>> {
      const r = await q.query<{ id: string; sealed: Uint8Array }>('SELECT id, sealed FROM core_entries WHERE id = ANY($1::text[])', [ids]);
      return new Map(r.rows.map((row) => [row.id, toBuffer(row.sealed)]));
    },
    async put(q: Queryable, id: string, sealed: Buffer): Promise<void> {
      await q.query(
        `INSERT INTO core_entries (id, sealed) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = now()`,
        [id, sealed],
      );
    },
    async delete(q: Queryable, ids: readonly string[]): Promise<number> {
      const r = await q.query('DELETE FROM core_entries WHERE id = ANY($1::text[])', [ids]);
      return r.rowCount;
    },
    async deletePrefix(q: Queryable, prefix: string): Promise<number> {
      const r = await q.query("DELETE FROM core_entries WHERE id LIKE $1 ESCAPE '\\'", [likePrefix(prefix)]);
      return r.rowCount;
    },
    /** Immediate children of `prefix`: "name" for a leaf and "name/" for a folder. */
    async listChildren(q: Queryable, prefix: string): Promise<string[]> {
      const r = await q.query<{ child: string }>(
        `SELECT DISTINCT CASE WHEN strpos(rest, '/') > 0 THEN substr(rest, 1, strpos(rest, '/')) ELSE rest END AS child
           FROM (SELECT substr(id, char_length($2::text) + 1) AS rest FROM core_entries WHERE id LIKE $1 ESCAPE '\\') s
          ORDER BY child`,
        [likePrefix(prefix), prefix],
      );
      return r.rows.map((row) => row.child).filter((c) => c.length > 0);
    },
    async lockKey(q: Queryable, id: string): Promise<void> {
      await q.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`core/${id}`]);
    },
  };
}

export type CoreEntriesStore = ReturnType<typeof createCoreEntriesStore>;
