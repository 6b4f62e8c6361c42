import { toBuffer, type Queryable } from './db.ts';

/** One lease row (migrations/0005). `internal` is sealed by the barrier; this layer never opens it. */
export interface LeaseRow {
  id: string;
  mountId: string;
  secretType: string;
  internal: Buffer;
  tokenAccessor: string | null;
  issuedAt: Date;
  lastRenewedAt: Date | null;
  expiresAt: Date;
  maxExpiresAt: Date;
  ttlSeconds: number;
  renewable: boolean;
  state: 'active' | 'revoking' | 'irrevocable';
  dueAt: Date;
  revokeAttempts: number;
  lastError: string | null;
}

interface RawLease {
  id: string;
  mount_id: string;
  secret_type: string;
  internal: Uint8Array;
  token_accessor: string | null;
  issued_at: Date;
  last_renewed_at: Date | null;
  expires_at: Date;
  max_expires_at: Date;
  ttl_seconds: string | number;
  renewable: boolean;
  state: LeaseRow['state'];
  due_at: Date;
  revoke_attempts: number;
  last_error: string | null;
}

const COLUMNS = `id, mount_id, secret_type, internal, token_accessor, issued_at, last_renewed_at, expires_at, max_expires_at,
  ttl_seconds, renewable, state, due_at, revoke_attempts, last_error`;

const toRow = (r: RawLease): LeaseRow => ({
  id: r.id,
  mountId: r.mount_id,
  secretType: r.secret_type,
  internal: toBuffer(r.internal),
  tokenAccessor: r.token_accessor,
  issuedAt: new Date(r.issued_at),
  lastRenewedAt: r.last_renewed_at ? new Date(r.last_renewed_at) : null,
  expiresAt: new Date(r.expires_at),
  maxExpiresAt: new Date(r.max_expires_at),
  ttlSeconds: Number(r.ttl_seconds),
  renewable: r.renewable,
  state: r.state,
  dueAt: new Date(r.due_at),
  revokeAttempts: r.revoke_attempts,
  lastError: r.last_error,
});

/** The exclusive upper bound of the ids that start with `prefix` (ids are COLLATE "C", compared bytewise). */
export const prefixEnd = (prefix: string): string => `${prefix}\u{10FFFF}`;

export interface LeaseCountQuota {
  name: string;
  path: string;
  maxLeases: number;
  used: number;
}

export function createLeasesStore() {
  return {
    /**
     * Inserts a lease unless a lease count quota covering its id is full, in one statement (one round trip on the
     * mint path): the covering quotas are locked, checked, and counted up together with the insert. Returns the
     * full quota, or null when the lease was stored.
     */
    async insertWithinQuota(
      q: Queryable,
      l: Omit<LeaseRow, 'lastRenewedAt' | 'state' | 'revokeAttempts' | 'lastError'>,
    ): Promise<{ name: string; path: string; maxLeases: number } | null> {
      const r = await q.query<{ full_name: string | null; full_path: string | null; full_max: string | null; inserted: string }>(
        `WITH q AS (SELECT name, path, used, max_leases FROM lease_count_quotas WHERE starts_with($1::text COLLATE "C", path) FOR UPDATE),
              full_q AS (SELECT name, path, max_leases FROM q WHERE used >= max_leases ORDER BY name LIMIT 1),
              bump AS (UPDATE lease_count_quotas SET used = used + 1
                        WHERE name IN (SELECT name FROM q) AND NOT EXISTS (SELECT 1 FROM full_q) RETURNING name),
              ins AS (INSERT INTO leases (id, mount_id, secret_type, internal, token_accessor, issued_at, expires_at, max_expires_at, ttl_seconds, renewable, due_at)
                      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE NOT EXISTS (SELECT 1 FROM full_q) RETURNING id)
         SELECT (SELECT name FROM full_q) AS full_name, (SELECT path FROM full_q) AS full_path, (SELECT max_leases FROM full_q) AS full_max,
                (SELECT count(*) FROM ins) AS inserted`,
        [l.id, l.mountId, l.secretType, l.internal, l.tokenAccessor, l.issuedAt, l.expiresAt, l.maxExpiresAt, l.ttlSeconds, l.renewable, l.dueAt],
      );
      const row = r.rows[0];
      if (row?.full_name) return { name: row.full_name, path: row.full_path ?? '', maxLeases: Number(row.full_max ?? 0) };
      if (Number(row?.inserted ?? 0) !== 1) throw new Error('lease insert did not store the lease');
      return null;
    },

    async get(q: Queryable, id: string): Promise<LeaseRow | null> {
      const r = await q.query<RawLease>(`SELECT ${COLUMNS} FROM leases WHERE id = $1`, [id]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },

    /**
     * Claims up to `limit` due leases for this replica until `claimUntil`: other replicas skip rows locked by the
     * claim and, once it commits, see them as not due. Active leases become 'revoking'; irrevocable ones stay so.
     */
    async claimDue(q: Queryable, now: Date, claimUntil: Date, limit: number): Promise<LeaseRow[]> {
      const r = await q.query<RawLease>(
        `UPDATE leases SET due_at = $2, state = CASE WHEN state = 'irrevocable' THEN 'irrevocable' ELSE 'revoking' END
          WHERE id IN (SELECT id FROM leases WHERE due_at <= $1 ORDER BY due_at LIMIT $3 FOR UPDATE SKIP LOCKED)
          RETURNING ${COLUMNS}`,
        [now, claimUntil, limit],
      );
      return r.rows.map(toRow);
    },

    /** Claims one lease for an explicit revoke, unless another replica holds an unexpired claim on it. */
    async claimOne(q: Queryable, id: string, now: Date, claimUntil: Date): Promise<{ row: LeaseRow | null; busy: boolean }> {
      const r = await q.query<RawLease>(
        `UPDATE leases SET due_at = $3, state = CASE WHEN state = 'irrevocable' THEN 'irrevocable' ELSE 'revoking' END
          WHERE id = $1 AND NOT (state = 'revoking' AND due_at > $2) RETURNING ${COLUMNS}`,
        [id, now, claimUntil],
      );
      if (r.rows[0]) return { row: toRow(r.rows[0]), busy: false };
      const exists = await q.query(`SELECT 1 FROM leases WHERE id = $1`, [id]);
      return { row: null, busy: exists.rowCount > 0 };
    },

    /** Deletes leases and gives their places back to the lease count quotas that covered them. */
    async deleteMany(q: Queryable, ids: readonly string[]): Promise<number> {
      if (ids.length === 0) return 0;
      const r = await q.query<{ id: string }>(`DELETE FROM leases WHERE id = ANY($1::text[]) RETURNING id`, [ids]);
      const gone = r.rows.map((x) => x.id);
      if (gone.length > 0) {
        await q.query(
          `UPDATE lease_count_quotas qt SET used = GREATEST(0, used - m.n)
             FROM (SELECT qq.name, count(*) AS n FROM lease_count_quotas qq, unnest($1::text[]) AS g(id)
                    WHERE starts_with(g.id COLLATE "C", qq.path) GROUP BY qq.name) m
            WHERE qt.name = m.name`,
          [gone],
        );
      }
      return gone.length;
    },

    async recordFailure(q: Queryable, id: string, f: { attempts: number; dueAt: Date; error: string; irrevocable: boolean }): Promise<void> {
      await q.query(
        `UPDATE leases SET revoke_attempts = $2, due_at = $3, last_error = $4,
                state = CASE WHEN $5::boolean THEN 'irrevocable' ELSE state END
          WHERE id = $1`,
        [id, f.attempts, f.dueAt, f.error, f.irrevocable],
      );
    },

    /** Records a renewal; false if the lease is gone or no longer active. */
    async renewed(q: Queryable, id: string, expiresAt: Date, now: Date): Promise<boolean> {
      const r = await q.query(
        `UPDATE leases SET expires_at = $2, due_at = $2, last_renewed_at = $3 WHERE id = $1 AND state = 'active'`,
        [id, expiresAt, now],
      );
      return r.rowCount > 0;
    },

    /** Makes the active leases of these tokens due now (the expiry worker revokes them). */
    async dueByAccessors(q: Queryable, accessors: readonly string[], now: Date): Promise<number> {
      if (accessors.length === 0) return 0;
      const r = await q.query(
        `UPDATE leases SET due_at = $2 WHERE token_accessor = ANY($1::text[]) AND state = 'active' AND due_at > $2`,
        [accessors, now],
      );
      return r.rowCount;
    },

    /** Ids under a prefix (index range), up to `limit`, after `after` (exclusive) in id order. */
    async idsWithPrefix(q: Queryable, prefix: string, limit: number, after = ''): Promise<string[]> {
      const start = after > prefix ? after : prefix;
      const r = await q.query<{ id: string }>(
        `SELECT id FROM leases WHERE id ${after > prefix ? '>' : '>='} $1 AND id < $2 AND starts_with(id, $3) ORDER BY id LIMIT $4`,
        [start, prefixEnd(prefix), prefix, limit],
      );
      return r.rows.map((x) => x.id);
    },

    /** The immediate children of a prefix: lease ids' next segment, "name/" for folders. */
    async children(q: Queryable, prefix: string, limit: number): Promise<string[]> {
      const r = await q.query<{ k: string }>(
        `SELECT DISTINCT CASE WHEN strpos(rest, '/') > 0 THEN split_part(rest, '/', 1) || '/' ELSE rest END AS k
           FROM (SELECT substr(id, length($1) + 1) AS rest FROM leases WHERE id >= $1 AND id < $2 AND starts_with(id, $1)) s
          ORDER BY k LIMIT $3`,
        [prefix, prefixEnd(prefix), limit],
      );
      return r.rows.map((x) => x.k);
    },

    async irrevocable(q: Queryable, limit: number): Promise<LeaseRow[]> {
      const r = await q.query<RawLease>(`SELECT ${COLUMNS} FROM leases WHERE state = 'irrevocable' ORDER BY id LIMIT $1`, [limit]);
      return r.rows.map(toRow);
    },

    async count(q: Queryable, irrevocableOnly: boolean): Promise<number> {
      const r = await q.query<{ n: string }>(
        irrevocableOnly ? `SELECT count(*) AS n FROM leases WHERE state = 'irrevocable'` : `SELECT count(*) AS n FROM leases`,
      );
      return Number(r.rows[0]?.n ?? 0);
    },

  };
}

export type LeasesStore = ReturnType<typeof createLeasesStore>;
