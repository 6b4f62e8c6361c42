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
  /** The authenticated use limit (0: unlimited); numUses counts down from it and may never exceed it. */
  numUsesLimit?: number;
  /** The row's integrity MAC (core/integrity/row-mac.ts); null on a row that has none. Always set on a row read. */
  mac?: Buffer | null;
  /** Set on read when a tombstone holds this token's HMAC: the row was restored after its revocation. */
  tombstone?: { accessor: string; until: Date | null; mac: Buffer };
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
  creation_ttl, explicit_max_ttl, period, num_uses, created_at, expires_at, max_expires_at, entity_name, alias, num_uses_limit, mac, last_renewal_at`;
/** The tombstone of the same token HMAC, read in the same statement (one round trip per cache miss). */
const TOMBSTONE = `(SELECT json_build_object('accessor', tt.accessor, 'until', tt.until, 'mac', encode(tt.mac, 'hex'))
  FROM token_tombstones tt WHERE tt.token_hmac = tokens.token_hmac) AS tombstone`;

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
  num_uses_limit: number;
  mac: Uint8Array | null;
  tombstone?: { accessor: string; until: string | null; mac: string } | null;
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
  numUsesLimit: r.num_uses_limit,
  mac: r.mac ? toBuffer(r.mac) : null,
  ...(r.tombstone
    ? { tombstone: { accessor: r.tombstone.accessor, until: r.tombstone.until ? new Date(r.tombstone.until) : null, mac: Buffer.from(r.tombstone.mac, 'hex') } }
    : {}),
  lastRenewalAt: r.last_renewal_at,
});

export interface TombstoneRow {
  tokenHmac: Buffer;
  accessor: string;
  until: Date | null;
  mac: Buffer | null;
}

export function createTokensStore() {
  return {
    /** Returns false when a token with the same value already exists (nothing is written then). */
    async insert(q: Queryable, t: TokenRow): Promise<boolean> {
      const r = await q.query(
        `INSERT INTO tokens (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
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
          t.numUsesLimit ?? t.numUses,
          t.mac ?? null,
          t.lastRenewalAt ?? null,
        ],
      );
      return r.rowCount === 1;
    },
    async getByHmac(q: Queryable, tokenHmac: Uint8Array): Promise<TokenRow | null> {
      const r = await q.query<RawToken>(`SELECT ${COLUMNS}, ${TOMBSTONE} FROM tokens WHERE token_hmac = $1`, [tokenHmac]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    async getByAccessor(q: Queryable, accessor: string): Promise<TokenRow | null> {
      const r = await q.query<RawToken>(`SELECT ${COLUMNS}, ${TOMBSTONE} FROM tokens WHERE accessor = $1`, [accessor]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    /** Accessors of tokens past their expiry (revoked by the lease expiry pass, which also revokes their leases). */
    async expiredAccessors(q: Queryable, now: Date, limit: number): Promise<string[]> {
      const r = await q.query<{ accessor: string }>('SELECT accessor FROM tokens WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2', [now, limit]);
      return r.rows.map((x) => x.accessor);
    },

    /** A renewal: the new expiry and the row's new MAC (computed by the broker over the new values). */
    async setExpiry(q: Queryable, accessor: string, expiresAt: Date | null, mac: Buffer | null, renewedAt?: Date): Promise<void> {
      if (renewedAt) await q.query('UPDATE tokens SET expires_at = $2, mac = $3, last_renewal_at = $4 WHERE accessor = $1', [accessor, expiresAt, mac, renewedAt]);
      else await q.query('UPDATE tokens SET expires_at = $2, mac = $3 WHERE accessor = $1', [accessor, expiresAt, mac]);
    },
    /** The token and every descendant (what deleteTree will delete), locked until the transaction ends. */
    async treeForUpdate(q: Queryable, accessor: string): Promise<{ tokenHmac: Buffer; accessor: string; expiresAt: Date | null; maxExpiresAt: Date | null }[]> {
      const r = await q.query<{ token_hmac: Uint8Array; accessor: string; expires_at: Date | null; max_expires_at: Date | null }>(
        `WITH RECURSIVE tree AS (
           SELECT accessor FROM tokens WHERE accessor = $1
           UNION SELECT t.accessor FROM tokens t JOIN tree ON t.parent_accessor = tree.accessor
         )
         SELECT token_hmac, accessor, expires_at, max_expires_at FROM tokens WHERE accessor IN (SELECT accessor FROM tree) FOR UPDATE`,
        [accessor],
      );
      return r.rows.map((x) => ({ tokenHmac: toBuffer(x.token_hmac), accessor: x.accessor, expiresAt: x.expires_at, maxExpiresAt: x.max_expires_at }));
    },
    async insertTombstones(q: Queryable, rows: readonly TombstoneRow[]): Promise<void> {
      if (rows.length === 0) return;
      await q.query(
        `INSERT INTO token_tombstones (token_hmac, accessor, until, mac)
         SELECT decode(h, 'hex'), a, u, decode(m, 'hex') FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) AS v(h, a, u, m)
         ON CONFLICT (token_hmac) DO NOTHING`,
        [rows.map((x) => x.tokenHmac.toString('hex')), rows.map((x) => x.accessor), rows.map((x) => x.until), rows.map((x) => (x.mac ?? Buffer.alloc(0)).toString('hex'))],
      );
    },
    async deleteTombstone(q: Queryable, tokenHmac: Buffer): Promise<void> {
      await q.query('DELETE FROM token_tombstones WHERE token_hmac = $1', [tokenHmac]);
    },
    /** Tombstones whose token could no longer be used anyway. Returns how many went. */
    async pruneTombstones(q: Queryable, now: Date): Promise<number> {
      const r = await q.query('DELETE FROM token_tombstones WHERE until IS NOT NULL AND until < $1', [now]);
      return r.rowCount;
    },
    /** Accessors of unexpired tokens, in order (auth/token/accessors). */
    async accessors(q: Queryable, now: Date, limit: number): Promise<string[]> {
      const r = await q.query<{ accessor: string }>(
        'SELECT accessor FROM tokens WHERE (expires_at IS NULL OR expires_at > $1) AND num_uses >= 0 ORDER BY accessor LIMIT $2',
        [now, limit],
      );
      return r.rows.map((x) => x.accessor);
    },
    /** Deletes the token and every descendant; returns the HMACs deleted (for cache invalidation). */
    async deleteTree(q: Queryable, accessor: string): Promise<{ tokenHmac: Buffer; accessor: string }[]> {
      const r = await q.query<{ token_hmac: Uint8Array; accessor: string }>(
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
    async spendUse(q: Queryable, accessor: string): Promise<number | null> {
      const r = await q.query<{ num_uses: number }>(
        'UPDATE tokens SET num_uses = CASE WHEN num_uses = 1 THEN -1 ELSE num_uses - 1 END WHERE accessor = $1 AND num_uses > 0 RETURNING num_uses',
        [accessor],
      );
      return r.rows[0] ? r.rows[0].num_uses : null;
    },
    async countRoot(q: Queryable): Promise<number> {
      const r = await q.query<{ n: number }>("SELECT count(*)::int AS n FROM tokens WHERE 'root' = ANY(policies)");
      return r.rows[0]?.n ?? 0;
    },
  };
}

export type TokensStore = ReturnType<typeof createTokensStore>;
