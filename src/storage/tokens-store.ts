import { toBuffer, type Queryable } from './db.ts';

export interface TokenRow {
  tokenHmac: Buffer;
  accessor: string;
  parentAccessor: string | null;
  policies: string[];
  displayName: string;
  meta: Record<string, string>;
  path: string;
  orphan: boolean;
  renewable: boolean;
  creationTtl: number;
  explicitMaxTtl: number;
  period: number;
  numUses: number;
  createdAt: Date;
  expiresAt: Date | null;
  maxExpiresAt: Date | null;
  /** The identity from the auth method that minted the token (or its ancestor). */
  entityName: string;
  alias: TokenAlias | null;
  /** When the token was last renewed (null: never). */
  lastRenewalAt?: Date | null;
}

export interface TokenAlias {
  mountAccessor: string;
  mountType: string;
  name: string;
  metadata: Record<string, string>;
}

const COLUMNS = `token_hmac, accessor, parent_accessor, policies, display_name, meta, path, orphan, renewable,
  creation_ttl, explicit_max_ttl, period, num_uses, created_at, expires_at, max_expires_at, entity_name, alias, last_renewal_at`;

interface RawToken {
  token_hmac: Uint8Array;
  accessor: string;
  parent_accessor: string | null;
  policies: string[];
  display_name: string;
  meta: Record<string, string>;
  path: string;
  orphan: boolean;
  renewable: boolean;
  creation_ttl: number;
  explicit_max_ttl: number;
  period: number;
  num_uses: number;
  created_at: Date;
  expires_at: Date | null;
  max_expires_at: Date | null;
  entity_name: string;
  alias: TokenAlias | null;
  last_renewal_at: Date | null;
}

const toRow = (r: RawToken): TokenRow => ({
  tokenHmac: toBuffer(r.token_hmac),
  accessor: r.accessor,
  parentAccessor: r.parent_accessor,
  policies: r.policies,
  displayName: r.display_name,
  meta: r.meta,
  path: r.path,
  orphan: r.orphan,
  renewable: r.renewable,
  creationTtl: r.creation_ttl,
  explicitMaxTtl: r.explicit_max_ttl,
  period: r.period,
  numUses: r.num_uses,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  maxExpiresAt: r.max_expires_at,
  entityName: r.entity_name,
  alias: r.alias,
  lastRenewalAt: r.last_renewal_at,
});

export function createTokensStore(db: Queryable) {
  return {
    /** Returns false when a token with the same value already exists (nothing is written then). */
    async insert(t: TokenRow, q: Queryable = db): Promise<boolean> {
      const r = await q.query(
        `INSERT INTO tokens (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         ON CONFLICT (token_hmac) DO NOTHING`,
        [
          t.tokenHmac,
          t.accessor,
          t.parentAccessor,
          t.policies,
          t.displayName,
          JSON.stringify(t.meta),
          t.path,
          t.orphan,
          t.renewable,
          t.creationTtl,
          t.explicitMaxTtl,
          t.period,
          t.numUses,
          t.createdAt,
          t.expiresAt,
          t.maxExpiresAt,
          t.entityName,
          t.alias ? JSON.stringify(t.alias) : null,
          t.lastRenewalAt ?? null,
        ],
      );
      return r.rowCount === 1;
    },
    async getByHmac(tokenHmac: Uint8Array): Promise<TokenRow | null> {
      const r = await db.query<RawToken>(`SELECT ${COLUMNS} FROM tokens WHERE token_hmac = $1`, [tokenHmac]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    async getByAccessor(accessor: string): Promise<TokenRow | null> {
      const r = await db.query<RawToken>(`SELECT ${COLUMNS} FROM tokens WHERE accessor = $1`, [accessor]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    /** Accessors of tokens past their expiry (revoked by the lease expiry pass, which also revokes their leases). */
    async expiredAccessors(now: Date, limit: number): Promise<string[]> {
      const r = await db.query<{ accessor: string }>('SELECT accessor FROM tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2', [now, limit]);
      return r.rows.map((x) => x.accessor);
    },

    async setExpiry(accessor: string, expiresAt: Date | null, renewedAt?: Date): Promise<void> {
      if (renewedAt) await db.query('UPDATE tokens SET expires_at = $2, last_renewal_at = $3 WHERE accessor = $1', [accessor, expiresAt, renewedAt]);
      else await db.query('UPDATE tokens SET expires_at = $2 WHERE accessor = $1', [accessor, expiresAt]);
    },
    /** Accessors of unexpired tokens, in order (auth/token/accessors). */
    async accessors(now: Date, limit: number): Promise<string[]> {
      const r = await db.query<{ accessor: string }>(
        'SELECT accessor FROM tokens WHERE (expires_at IS NULL OR expires_at > $1) AND num_uses >= 0 ORDER BY accessor LIMIT $2',
        [now, limit],
      );
      return r.rows.map((x) => x.accessor);
    },
    /** Deletes the token and every descendant; returns the HMACs deleted (for cache invalidation). */
    async deleteTree(accessor: string): Promise<{ tokenHmac: Buffer; accessor: string }[]> {
      const r = await db.query<{ token_hmac: Uint8Array; accessor: string }>(
        `WITH RECURSIVE tree AS (
           SELECT accessor FROM tokens WHERE accessor = $1
           UNION SELECT t.accessor FROM tokens t JOIN tree ON t.parent_accessor = tree.accessor
         )
         DELETE FROM tokens WHERE accessor IN (SELECT accessor FROM tree) RETURNING token_hmac, accessor`,
        [accessor],
      );
      return r.rows.map((row) => ({ tokenHmac: toBuffer(row.token_hmac), accessor: row.accessor }));
    },
    /**
     * Spends one use of a limited-use token in one statement. Returns the uses left, -1 when this was the last
     * one (the row then reads as exhausted, never as 0 = unlimited), or null when none were left.
     */
    async spendUse(accessor: string): Promise<number | null> {
      const r = await db.query<{ num_uses: number }>(
        'UPDATE tokens SET num_uses = CASE WHEN num_uses = 1 THEN -1 ELSE num_uses - 1 END WHERE accessor = $1 AND num_uses > 0 RETURNING num_uses',
        [accessor],
      );
      return r.rows[0] ? r.rows[0].num_uses : null;
    },
    async countRoot(): Promise<number> {
      const r = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM tokens WHERE 'root' = ANY(policies)");
      return r.rows[0]?.n ?? 0;
    },
  };
}

export type TokensStore = ReturnType<typeof createTokensStore>;
