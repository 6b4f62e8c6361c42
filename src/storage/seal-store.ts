import { toBuffer, type Queryable } from './db.ts';

export interface SealConfigRow {
  sealType: string;
  secretShares: number;
  secretThreshold: number;
  /** The row's integrity MAC (core/integrity/row-mac.ts). */
  mac?: Buffer | null;
}

export interface KeyringTermRow {
  term: number;
  sealedKey: Buffer;
  createdAt: Date;
}

/** seal_configs and keyring_terms: what it takes to unseal, and the sealed key-encryption keys. */
export function createSealStore(db: Queryable) {
  return {
    async getConfig(q: Queryable = db): Promise<SealConfigRow | null> {
      const r = await q.query<{ seal_type: string; secret_shares: number; secret_threshold: number; mac: Uint8Array | null }>(
        'SELECT seal_type, secret_shares, secret_threshold, mac FROM seal_configs WHERE id = 1',
      );
      const row = r.rows[0];
      return row
        ? { sealType: row.seal_type, secretShares: row.secret_shares, secretThreshold: row.secret_threshold, mac: row.mac ? toBuffer(row.mac) : null }
        : null;
    },
    async insertConfig(q: Queryable, c: SealConfigRow): Promise<void> {
      await q.query('INSERT INTO seal_configs (id, seal_type, secret_shares, secret_threshold, mac) VALUES (1, $1, $2, $3, $4)', [
        c.sealType,
        c.secretShares,
        c.secretThreshold,
        c.mac ?? null,
      ]);
    },
    async listTerms(q: Queryable = db): Promise<KeyringTermRow[]> {
      const r = await q.query<{ term: number; sealed_key: Uint8Array; created_at: Date }>(
        'SELECT term, sealed_key, created_at FROM keyring_terms ORDER BY term',
      );
      return r.rows.map((row) => ({ term: row.term, sealedKey: toBuffer(row.sealed_key), createdAt: row.created_at }));
    },
    /** Inserts the next term; returns false if another replica took that term first. */
    async insertTerm(q: Queryable, term: number, sealedKey: Uint8Array, createdAt: Date): Promise<boolean> {
      const r = await q.query('INSERT INTO keyring_terms (term, sealed_key, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [
        term,
        sealedKey,
        createdAt,
      ]);
      return r.rowCount === 1;
    },
    /** Deletes a retired term's KEK; false if it was not there. */
    async deleteTerm(q: Queryable, term: number): Promise<boolean> {
      const r = await q.query('DELETE FROM keyring_terms WHERE term = $1', [term]);
      return r.rowCount === 1;
    },
  };
}

export type SealStore = ReturnType<typeof createSealStore>;
