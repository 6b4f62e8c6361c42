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
  /** The row's physical address: stable while claimOld's lock is held, so store() finds the row without its key. */
  ctid: string;
  /** The envelope's first HEAD bytes (version, term, wrapped DEK): all a rewrap reads; the value stays in the row. */
  head: Buffer;
}

/** The length of an envelope's DEK head (core/barrier/envelope.ts DEK_HEAD_BYTES). */
export const HEAD = 77;

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
    /**
     * Locks up to `limit` rows whose envelope predates `term` (skipping rows other transactions hold), in key order
     * after the ref `after` (the last ref of the previous batch; null: from the start), so that a run reads each row
     * once through the primary key instead of scanning past the rows it has already moved.
     */
    async claimOld(q: Queryable, table: EnvelopeTable, term: number, limit: number, after: string | null = null): Promise<SealedRow[]> {
      if (table === 'entries') {
        const at = after === null ? -1 : after.indexOf(SEP);
        const from = after === null ? '' : 'AND (mount_id, key) > ($3::uuid, $4::text COLLATE "C")';
        const r = await q.query<{ ctid: string; mount_id: string; key: string; head: Uint8Array }>(
          `SELECT ctid::text AS ctid, mount_id, key, substring(sealed from 1 for ${HEAD}) AS head FROM entries WHERE key_term < $1 ${from}
            ORDER BY mount_id, key LIMIT $2 FOR UPDATE SKIP LOCKED`,
          after === null ? [term, limit] : [term, limit, after.slice(0, at), after.slice(at + 1)],
        );
        return r.rows.map((row) => ({ ref: `${row.mount_id}${SEP}${row.key}`, ctid: row.ctid, head: toBuffer(row.head) }));
      }
      const col = COLUMN[table];
      const r = await q.query<{ ctid: string; id: string; head: Uint8Array }>(
        `SELECT ctid::text AS ctid, id, substring(${col} from 1 for ${HEAD}) AS head FROM ${table}
          WHERE ${col} IS NOT NULL AND substring(${col} from 2 for 4) < $1 ${after === null ? '' : 'AND id > $3'}
          ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        after === null ? [termBytes(term), limit] : [termBytes(term), limit, after],
      );
      return r.rows.map((row) => ({ ref: row.id, ctid: row.ctid, head: toBuffer(row.head) }));
    },

    /**
     * Stores re-wrapped heads of rows claimed by claimOld in the same transaction, in one statement (arrays through
     * unnest, so its text is the same for every batch). Each row is found by its ctid (a TID scan: the lock keeps the
     * row where it was) and written only if it still starts with the head that was claimed (`old`: an envelope's
     * random DEK nonce makes it unique), so the new head always goes before the rest of the envelope it was made for.
     * Returns the rows updated.
     */
    async store(q: Queryable, table: EnvelopeTable, term: number, rows: readonly { ctid: string; old: Buffer; head: Buffer }[]): Promise<number> {
      if (rows.length === 0) return 0;
      const params = [rows.map((row) => row.ctid), rows.map((row) => row.old.toString('hex')), rows.map((row) => row.head.toString('hex'))];
      const splice = (col: string) =>
        `${col} = decode(v.head, 'hex') || substring(t.${col} from ${HEAD + 1})
           FROM unnest($1::tid[], $2::text[], $3::text[]) AS v(ctid, old, head)
          WHERE t.ctid = v.ctid AND substring(t.${col} from 1 for ${HEAD}) = decode(v.old, 'hex')`;
      const r =
        table === 'entries'
          ? await q.query(`UPDATE entries t SET key_term = $4, ${splice('sealed')}`, [...params, term])
          : await q.query(`UPDATE ${table} t SET ${splice(COLUMN[table])}`, params);
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
