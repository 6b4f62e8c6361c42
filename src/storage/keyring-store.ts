import { toBuffer, type Queryable } from './db.ts';

/**
 * The SQL of the keyring rewrap (DESIGN §2, issue 7): find barrier envelopes written under an old key term and store
 * their re-wrapped form. Three columns hold envelopes: entries.sealed (with its term in entries.key_term, indexed),
 * leases.internal and rotations.pending (the term is read from the envelope header: bytes 2..5, big-endian, so a
 * bytewise comparison orders terms numerically).
 */
export interface SealedRow {
  /** entries: "<mount_id>\u0000<key>"; leases and rotations: the id. */
  ref: string;
  sealed: Buffer;
}

export type EnvelopeTable = 'entries' | 'leases' | 'rotations' | 'core_entries';

/** The envelope column of the tables keyed by id. */
const COLUMN: Record<Exclude<EnvelopeTable, 'entries'>, string> = { leases: 'internal', rotations: 'pending', core_entries: 'sealed' };

/** The envelope's term as SQL, from its header (format byte, then the u32 term). */
const termOf = (col: string): string =>
  `((get_byte(${col}, 1)::bigint << 24) | (get_byte(${col}, 2) << 16) | (get_byte(${col}, 3) << 8) | get_byte(${col}, 4))::int`;
const termBytes = (term: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(term, 0);
  return b;
};
const SEP = '\u0000';

export function createKeyringStore() {
  return {
    /** Locks up to `limit` rows whose envelope predates `term` (skipping rows other transactions hold). */
    async claimOld(q: Queryable, table: EnvelopeTable, term: number, limit: number): Promise<SealedRow[]> {
      if (table === 'entries') {
        const r = await q.query<{ mount_id: string; key: string; sealed: Uint8Array }>(
          'SELECT mount_id, key, sealed FROM entries WHERE key_term < $1 LIMIT $2 FOR UPDATE SKIP LOCKED',
          [term, limit],
        );
        return r.rows.map((row) => ({ ref: `${row.mount_id}${SEP}${row.key}`, sealed: toBuffer(row.sealed) }));
      }
      const col = COLUMN[table];
      const r = await q.query<{ id: string; sealed: Uint8Array }>(
        `SELECT id, ${col} AS sealed FROM ${table} WHERE ${col} IS NOT NULL AND substring(${col} from 2 for 4) < $1 LIMIT $2 FOR UPDATE SKIP LOCKED`,
        [termBytes(term), limit],
      );
      return r.rows.map((row) => ({ ref: row.id, sealed: toBuffer(row.sealed) }));
    },

    /** Stores re-wrapped envelopes of rows locked by claimOld in the same transaction. Returns the rows updated. */
    async store(q: Queryable, table: EnvelopeTable, rows: readonly { ref: string; sealed: Buffer; term: number }[]): Promise<number> {
      if (rows.length === 0) return 0;
      const params: unknown[] = [];
      if (table === 'entries') {
        const values = rows.map((row) => {
          const at = row.ref.indexOf(SEP);
          params.push(row.ref.slice(0, at), row.ref.slice(at + 1), row.sealed, row.term);
          const n = params.length;
          return `($${n - 3}::uuid, $${n - 2}::text, $${n - 1}::bytea, $${n}::int)`;
        });
        const r = await q.query(
          `UPDATE entries e SET sealed = v.sealed, key_term = v.term FROM (VALUES ${values.join(', ')}) AS v(mount_id, key, sealed, term)
            WHERE e.mount_id = v.mount_id AND e.key = v.key COLLATE "C"`,
          params,
        );
        return r.rowCount;
      }
      const col = COLUMN[table];
      const values = rows.map((row) => {
        params.push(row.ref, row.sealed);
        const n = params.length;
        return `($${n - 1}::text, $${n}::bytea)`;
      });
      const r = await q.query(
        `UPDATE ${table} t SET ${col} = v.sealed FROM (VALUES ${values.join(', ')}) AS v(id, sealed) WHERE t.id = v.id AND t.${col} IS NOT NULL`,
        params,
      );
      return r.rowCount;
    },

    /** How many envelopes use each term, per table. entries uses its key_term index; leases and rotations are scanned. */
    async usage(q: Queryable): Promise<{ table: EnvelopeTable; term: number; count: number }[]> {
      const r = await q.query<{ t: EnvelopeTable; term: number; n: string | number }>(
        `SELECT 'entries' AS t, key_term AS term, count(*) AS n FROM entries GROUP BY key_term
         UNION ALL SELECT 'leases', ${termOf('internal')}, count(*) FROM leases GROUP BY 2
         UNION ALL SELECT 'rotations', ${termOf('pending')}, count(*) FROM rotations WHERE pending IS NOT NULL GROUP BY 2
         UNION ALL SELECT 'core_entries', ${termOf('sealed')}, count(*) FROM core_entries GROUP BY 2`,
      );
      return r.rows.map((row) => ({ table: row.t, term: Number(row.term), count: Number(row.n) }));
    },

    /** How many envelopes still use `term` (entries exactly; leases and rotations: 0 or more). */
    async inUse(q: Queryable, term: number): Promise<number> {
      const r = await q.query<{ n: string | number }>(
        `SELECT (SELECT count(*) FROM entries WHERE key_term = $1)
              + (SELECT count(*) FROM (SELECT 1 FROM leases WHERE substring(internal from 2 for 4) = $2 LIMIT 1000) l)
              + (SELECT count(*) FROM (SELECT 1 FROM rotations WHERE substring(pending from 2 for 4) = $2 LIMIT 1000) r)
              + (SELECT count(*) FROM (SELECT 1 FROM core_entries WHERE substring(sealed from 2 for 4) = $2 LIMIT 1000) c) AS n`,
        [term, termBytes(term)],
      );
      return Number(r.rows[0]?.n ?? 0);
    },

    /** Locks the keyring rows and returns their terms, in order (retiring a term holds this lock). */
    async lockTerms(q: Queryable): Promise<number[]> {
      const r = await q.query<{ term: number }>('SELECT term FROM keyring_terms ORDER BY term FOR UPDATE');
      return r.rows.map((row) => Number(row.term));
    },

    async terms(q: Queryable): Promise<number[]> {
      const r = await q.query<{ term: number }>('SELECT term FROM keyring_terms ORDER BY term');
      return r.rows.map((row) => Number(row.term));
    },
  };
}

export type KeyringStore = ReturnType<typeof createKeyringStore>;
