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
  /** The row's integrity MAC (core/integrity/row-mac.ts). */
  mac: Buffer | null;
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
  mac: Uint8Array | null;
}

const COLUMNS = `id, mount_id, secret_type, internal, token_accessor, issued_at, last_renewed_at, expires_at, max_expires_at,
  ttl_seconds, renewable, state, due_at, revoke_attempts, last_error, mac`;

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
  mac: r.mac ? toBuffer(r.mac) : null,
});

/** The exclusive upper bound of the ids that start with `prefix` (ids are COLLATE "C", compared bytewise). */
export const prefixEnd = (prefix: string): string => `${prefix}\u{10FFFF}`;

export interface LeaseCountQuota {
  name: string;
  path: string;
  maxLeases: number;
  used: number;
  mac: Buffer | null;
}

/** The lease count quotas the broker has checked: a covering quota not in this list, or changed since, counts as full. */
export type VerifiedQuotas = readonly { name: string; maxLeases: number }[];

/** A lease as an engine's mint stores it (the bookkeeping columns take their defaults). */
export type NewLease = Omit<LeaseRow, 'lastRenewedAt' | 'state' | 'revokeAttempts' | 'lastError'>;
export type BatchOutcome = 'inserted' | 'covered' | 'no-mount';

export function createLeasesStore() {
  return {
    /**
     * Inserts a lease unless a lease count quota covering its id is full, in one statement (one round trip on the
     * mint path): the covering quotas are locked, checked, and counted up together with the insert. Returns the
     * full quota, or null when the lease was stored. `endsIntent` names the lease intent (lease_intents) that the
     * stored lease ends: it is deleted by the same statement, so that a secret is always either leased or intended.
     */
    async insertWithinQuota(
      q: Queryable,
      l: NewLease,
      verified: VerifiedQuotas,
      endsIntent: string | null = null,
    ): Promise<{ name: string; path: string; maxLeases: number } | null> {
      const r = await q.query<{ full_name: string | null; full_path: string | null; full_max: string | null; inserted: string }>(
        `WITH q AS (SELECT name, path, used, max_leases FROM lease_count_quotas WHERE starts_with($1::text COLLATE "C", path) FOR UPDATE),
              v AS (SELECT name, max FROM jsonb_to_recordset($13::jsonb) AS x(name text, max bigint)),
              full_q AS (SELECT q.name, q.path, q.max_leases FROM q LEFT JOIN v ON v.name = q.name
                          WHERE v.max IS NULL OR q.used >= LEAST(q.max_leases, v.max) ORDER BY q.name LIMIT 1),
              ins AS (INSERT INTO leases (id, mount_id, secret_type, internal, token_accessor, issued_at, expires_at, max_expires_at, ttl_seconds, renewable, due_at, mac)
                      SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
                       WHERE NOT EXISTS (SELECT 1 FROM full_q) AND EXISTS (SELECT 1 FROM mounts WHERE id::text = $2) RETURNING id),
              bump AS (UPDATE lease_count_quotas SET used = used + 1 WHERE name IN (SELECT name FROM q) AND EXISTS (SELECT 1 FROM ins) RETURNING name),
              gone AS (DELETE FROM lease_intents WHERE id = $14 AND EXISTS (SELECT 1 FROM ins) RETURNING id)
         SELECT (SELECT name FROM full_q) AS full_name, (SELECT path FROM full_q) AS full_path, (SELECT max_leases FROM full_q) AS full_max,
                (SELECT count(*) FROM ins) AS inserted`,
        [l.id, l.mountId, l.secretType, l.internal, l.tokenAccessor, l.issuedAt, l.expiresAt, l.maxExpiresAt, l.ttlSeconds, l.renewable, l.dueAt, l.mac,
          JSON.stringify(verified.map((x) => ({ name: x.name, max: x.maxLeases }))), endsIntent],
      );
      const row = r.rows[0];
      if (row?.full_name) return { name: row.full_name, path: row.full_path ?? '', maxLeases: Number(row.full_max ?? 0) };
      if (Number(row?.inserted ?? 0) !== 1) throw new Error('the mount was removed while the secret was issued');
      return null;
    },

    /**
     * Inserts many leases in one statement (concurrent mints, group-committed: core/leases/lease-inserts.ts), each
     * with the end of its intent, for leases no lease count quota covers. Per lease, in order: 'inserted';
     * 'covered' when a quota covers its id (nothing written for it: it goes through insertWithinQuota); 'no-mount'
     * when its mount is gone (nothing written).
     */
    async insertBatch(q: Queryable, items: readonly { lease: NewLease; endsIntent: string | null }[]): Promise<BatchOutcome[]> {
      if (items.length === 0) return [];
      const b64 = (v: Buffer | null): string | null => (v ? v.toString('base64') : null);
      const rows = items.map(({ lease: l, endsIntent }, n) => ({
        n, id: l.id, mount_id: l.mountId, secret_type: l.secretType, internal: b64(l.internal), token_accessor: l.tokenAccessor,
        issued_at: l.issuedAt.toISOString(), expires_at: l.expiresAt.toISOString(), max_expires_at: l.maxExpiresAt.toISOString(),
        ttl_seconds: l.ttlSeconds, renewable: l.renewable, due_at: l.dueAt.toISOString(), mac: b64(l.mac), intent: endsIntent,
      }));
      const r = await q.query<{ n: number; outcome: BatchOutcome }>(
        `WITH v AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(n int, id text, mount_id text, secret_type text, internal text,
                      token_accessor text, issued_at timestamptz, expires_at timestamptz, max_expires_at timestamptz, ttl_seconds bigint,
                      renewable boolean, due_at timestamptz, mac text, intent text)),
              c AS (SELECT v.n FROM v WHERE EXISTS (SELECT 1 FROM lease_count_quotas qq WHERE starts_with(v.id COLLATE "C", qq.path))),
              ins AS (INSERT INTO leases (id, mount_id, secret_type, internal, token_accessor, issued_at, expires_at, max_expires_at, ttl_seconds, renewable, due_at, mac)
                      SELECT v.id, v.mount_id, v.secret_type, decode(v.internal, 'base64'), v.token_accessor, v.issued_at, v.expires_at, v.max_expires_at,
                             v.ttl_seconds, v.renewable, v.due_at, decode(v.mac, 'base64')
                        FROM v WHERE v.n NOT IN (SELECT n FROM c) AND EXISTS (SELECT 1 FROM mounts WHERE id::text = v.mount_id) RETURNING id),
              gone AS (DELETE FROM lease_intents WHERE id IN (SELECT v.intent FROM v JOIN ins ON ins.id = v.id) RETURNING id)
         SELECT v.n, CASE WHEN v.n IN (SELECT n FROM c) THEN 'covered' WHEN v.id IN (SELECT id FROM ins) THEN 'inserted' ELSE 'no-mount' END AS outcome
           FROM v ORDER BY v.n`,
        [JSON.stringify(rows)],
      );
      const byN = new Map(r.rows.map((x) => [Number(x.n), x.outcome]));
      return items.map((_, n) => byN.get(n) ?? 'no-mount');
    },

    async get(q: Queryable, id: string): Promise<LeaseRow | null> {
      const r = await q.query<RawLease>(`SELECT ${COLUMNS} FROM leases WHERE id = $1`, [id]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },

    /**
     * Claims up to `limit` due leases for this replica until `claimUntil` under `claimId`: other replicas skip rows
     * locked by the claim and, once it commits, see them as not due. Active leases become 'revoking'.
     */
    async claimDue(q: Queryable, claimId: string, now: Date, claimUntil: Date, limit: number): Promise<LeaseRow[]> {
      const r = await q.query<RawLease>(
        `UPDATE leases SET due_at = $3, claim_id = $1, state = CASE WHEN state = 'irrevocable' THEN 'irrevocable' ELSE 'revoking' END
          WHERE id IN (SELECT id FROM leases WHERE due_at <= $2 ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
          RETURNING ${COLUMNS}`,
        [claimId, now, claimUntil, limit],
      );
      return r.rows.map(toRow);
    },

    /** Claims one lease (an explicit revoke) unless someone holds an unexpired claim on it. */
    async claimOne(q: Queryable, id: string, claimId: string, now: Date, claimUntil: Date): Promise<{ row: LeaseRow | null; busy: boolean }> {
      const r = await q.query<RawLease>(
        `UPDATE leases SET due_at = $4, claim_id = $2, state = CASE WHEN state = 'irrevocable' THEN 'irrevocable' ELSE 'revoking' END
          WHERE id = $1 AND (claim_id IS NULL OR due_at <= $3) RETURNING ${COLUMNS}`,
        [id, claimId, now, claimUntil],
      );
      if (r.rows[0]) return { row: toRow(r.rows[0]), busy: false };
      const exists = await q.query(`SELECT 1 FROM leases WHERE id = $1`, [id]);
      return { row: null, busy: exists.rowCount > 0 };
    },

    /** Gives claimed leases back, due now, for the next pass (this replica ran out of claim time). */
    async release(q: Queryable, ids: readonly string[], claimId: string, now: Date): Promise<void> {
      if (ids.length > 0) await q.query(`UPDATE leases SET claim_id = NULL, due_at = $3 WHERE id = ANY($1::text[]) AND claim_id = $2`, [ids, claimId, now]);
    },

    /**
     * Deletes revoked leases this claim holds and gives their places back to the lease count quotas covering them,
     * in one statement (a crash cannot leave a quota counting a deleted lease).
     */
    async deleteMany(q: Queryable, ids: readonly string[], claimId: string): Promise<number> {
      if (ids.length === 0) return 0;
      const r = await q.query<{ n: string }>(
        `WITH d AS (DELETE FROM leases WHERE id = ANY($1::text[]) AND claim_id = $2 RETURNING id),
              m AS (SELECT qq.name, count(*) AS n FROM lease_count_quotas qq JOIN d ON starts_with(d.id COLLATE "C", qq.path) GROUP BY qq.name),
              u AS (UPDATE lease_count_quotas qt SET used = GREATEST(0, qt.used - m.n) FROM m WHERE qt.name = m.name RETURNING 1)
         SELECT count(*) AS n FROM d`,
        [ids, claimId],
      );
      return Number(r.rows[0]?.n ?? 0);
    },

    /** Records a failed revocation by the claim holder and lets the claim go (the lease is due again at `dueAt`). */
    async recordFailure(q: Queryable, id: string, claimId: string, f: { attempts: number; dueAt: Date; error: string; irrevocable: boolean }): Promise<void> {
      await q.query(
        `UPDATE leases SET revoke_attempts = $3, due_at = $4, last_error = $5, claim_id = NULL,
                state = CASE WHEN $6::boolean THEN 'irrevocable' ELSE state END
          WHERE id = $1 AND claim_id = $2`,
        [id, claimId, f.attempts, f.dueAt, f.error, f.irrevocable],
      );
    },

    /** Records a renewal; false if the lease is gone or no longer active. */
    async renewed(q: Queryable, id: string, expiresAt: Date, now: Date, mac: Buffer | null): Promise<boolean> {
      const r = await q.query(
        `UPDATE leases SET expires_at = $2, due_at = $2, last_renewed_at = $3, mac = $4 WHERE id = $1 AND state = 'active' AND claim_id IS NULL`,
        [id, expiresAt, now, mac],
      );
      return r.rowCount > 0;
    },

    /** Queues the active leases of these tokens for revocation now: due, and no longer renewable. */
    async dueByAccessors(q: Queryable, accessors: readonly string[], now: Date): Promise<number> {
      if (accessors.length === 0) return 0;
      const r = await q.query(
        `UPDATE leases SET due_at = $2, state = 'revoking' WHERE token_accessor = ANY($1::text[]) AND state = 'active' AND claim_id IS NULL`,
        [accessors, now],
      );
      return r.rowCount;
    },

    /**
     * Queues for revocation up to `limit` active leases whose issuing token no longer exists (a broker that died
     * between deleting a token and queueing its leases). Returns how many.
     */
    async orphansDue(q: Queryable, now: Date, limit: number): Promise<number> {
      const r = await q.query(
        `UPDATE leases SET due_at = $1, state = 'revoking'
          WHERE id IN (SELECT l.id FROM leases l
                        WHERE l.state = 'active' AND l.claim_id IS NULL AND l.token_accessor IS NOT NULL
                          AND NOT EXISTS (SELECT 1 FROM tokens t WHERE t.accessor = l.token_accessor)
                        LIMIT $2)`,
        [now, limit],
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

    /** Ids of one mount's leases (a remounted mount's leases keep ids under its old path), after `after`, in id order. */
    async idsOfMount(q: Queryable, mountId: string, limit: number, after = ''): Promise<string[]> {
      const r = await q.query<{ id: string }>('SELECT id FROM leases WHERE mount_id = $1 AND id > $2 ORDER BY id LIMIT $3', [mountId, after, limit]);
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

    /** Every lease count quota with its counter (a handful of rows). */
    async quotaCounters(q: Queryable): Promise<LeaseCountQuota[]> {
      const r = await q.query<{ name: string; path: string; max_leases: string; used: string; mac: Uint8Array | null }>(
        `SELECT name, path, max_leases, used, mac FROM lease_count_quotas`,
      );
      return r.rows.map((x) => ({ name: x.name, path: x.path, maxLeases: Number(x.max_leases), used: Number(x.used), mac: x.mac ? toBuffer(x.mac) : null }));
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
