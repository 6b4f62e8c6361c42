import type { Queryable } from './db.ts';

/** One audit entry as lineage reads it: its seq and its canonical JSON. */
export interface LineageEntryRow {
  seq: number;
  entry: string;
}

export interface LineageLeaseRow {
  id: string;
  issuedAt: Date;
  lastRenewedAt: Date | null;
  expiresAt: Date;
  state: string;
  tokenAccessor: string | null;
}

export interface LineageTokenRow {
  accessor: string;
  parentAccessor: string | null;
  policies: string[];
  displayName: string;
  path: string;
  createdAt: Date;
  expiresAt: Date | null;
}

export interface LineageRunRow {
  runId: string;
  kind: string;
  startedAt: Date;
  finishedAt: Date | null;
  status: string;
  step: string | null;
  error: string | null;
}

const num = (v: unknown): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new TypeError('audit seq is not a safe integer');
  return n;
};
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as string));

/**
 * The lineage index (migrations/0014) and the rows lineage reads beside it: audit entries by seq, the live lease and
 * token rows, and rotation runs. Reads only; nothing here changes a lease, token or entry.
 */
export function createLineageStore(db: Queryable) {
  return {
    async indexedThrough(): Promise<number> {
      const r = await db.query<{ n: unknown }>('SELECT indexed_through AS n FROM audit_lineage_progress WHERE id = 1');
      return r.rows[0] ? num(r.rows[0].n) : 0;
    },

    async headSeq(): Promise<number> {
      const r = await db.query<{ seq: unknown }>('SELECT seq FROM audit_head WHERE id = 1');
      return r.rows[0] ? num(r.rows[0].seq) : 0;
    },

    /** Entries after `after`, up to and including `through`, in seq order, at most `limit`. */
    async entriesAfter(after: number, through: number, limit: number): Promise<LineageEntryRow[]> {
      const r = await db.query<{ seq: unknown; entry: string }>(
        'SELECT seq, entry FROM audit_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3',
        [after, through, limit],
      );
      return r.rows.map((row) => ({ seq: num(row.seq), entry: row.entry }));
    },

    /** Adds (key, seq) pairs (repeats are ignored) and raises the progress mark to `through` (never lowers it). */
    async addKeys(pairs: { key: Buffer; seq: number }[], through: number): Promise<void> {
      for (let i = 0; i < pairs.length; i += 500) {
        const chunk = pairs.slice(i, i + 500);
        const params: unknown[] = [];
        const values = chunk.map((p) => {
          params.push(p.key, p.seq);
          return `($${params.length - 1}, $${params.length})`;
        });
        await db.query(`INSERT INTO audit_lineage_keys (key, seq) VALUES ${values.join(', ')} ON CONFLICT DO NOTHING`, params);
      }
      await db.query('UPDATE audit_lineage_progress SET indexed_through = GREATEST(indexed_through, $1) WHERE id = 1', [through]);
    },

    /** The entries that name a key, in seq order (at most `limit`). */
    async entriesFor(key: Buffer, limit: number): Promise<LineageEntryRow[]> {
      const r = await db.query<{ seq: unknown; entry: string }>(
        `SELECT e.seq, e.entry FROM audit_lineage_keys k JOIN audit_entries e ON e.seq = k.seq
          WHERE k.key = $1 ORDER BY k.seq LIMIT $2`,
        [key, limit],
      );
      return r.rows.map((row) => ({ seq: num(row.seq), entry: row.entry }));
    },

    /** The revoke-prefix requests (few): a lease under one of their prefixes was revoked by it. */
    async revokePrefixEntries(limit: number): Promise<LineageEntryRow[]> {
      const r = await db.query<{ seq: unknown; entry: string }>(
        `SELECT seq, entry FROM audit_entries
          WHERE (path >= 'sys/leases/revoke-' AND path < 'sys/leases/revoke.') OR (path >= 'sys/revoke-' AND path < 'sys/revoke.')
          ORDER BY seq LIMIT $1`,
        [limit],
      );
      return r.rows.map((row) => ({ seq: num(row.seq), entry: row.entry }));
    },

    /** Entries at exactly these request paths (manual rotation triggers, say), in seq order. */
    async entriesAtPaths(paths: string[], limit: number): Promise<LineageEntryRow[]> {
      const r = await db.query<{ seq: unknown; entry: string }>('SELECT seq, entry FROM audit_entries WHERE path = ANY($1::text[]) ORDER BY seq LIMIT $2', [paths, limit]);
      return r.rows.map((row) => ({ seq: num(row.seq), entry: row.entry }));
    },

    async lease(id: string): Promise<LineageLeaseRow | null> {
      const r = await db.query<{ id: string; issued_at: Date; last_renewed_at: Date | null; expires_at: Date; state: string; token_accessor: string | null }>(
        'SELECT id, issued_at, last_renewed_at, expires_at, state, token_accessor FROM leases WHERE id = $1',
        [id],
      );
      const row = r.rows[0];
      if (!row) return null;
      return {
        id: row.id,
        issuedAt: new Date(row.issued_at),
        lastRenewedAt: dateOrNull(row.last_renewed_at),
        expiresAt: new Date(row.expires_at),
        state: row.state,
        tokenAccessor: row.token_accessor,
      };
    },

    async token(accessor: string): Promise<LineageTokenRow | null> {
      const r = await db.query<{ accessor: string; parent_accessor: string | null; policies: string[]; display_name: string; path: string; created_at: Date; expires_at: Date | null }>(
        'SELECT accessor, parent_accessor, policies, display_name, path, created_at, expires_at FROM tokens WHERE accessor = $1',
        [accessor],
      );
      const row = r.rows[0];
      if (!row) return null;
      return {
        accessor: row.accessor,
        parentAccessor: row.parent_accessor,
        policies: [...row.policies],
        displayName: row.display_name,
        path: row.path,
        createdAt: new Date(row.created_at),
        expiresAt: dateOrNull(row.expires_at),
      };
    },

    async mountType(path: string): Promise<string | null> {
      const r = await db.query<{ type: string }>('SELECT type FROM mounts WHERE path = $1', [path]);
      return r.rows[0]?.type ?? null;
    },

    /** A rotation's runs, oldest first (at most `limit`, the newest ones). */
    async runs(rotationId: string, limit: number): Promise<LineageRunRow[]> {
      const r = await db.query<{ run_id: string; kind: string; started_at: Date; finished_at: Date | null; status: string; step: string | null; error: string | null }>(
        `SELECT run_id, kind, started_at, finished_at, status, step, error FROM
           (SELECT * FROM rotation_runs WHERE rotation_id = $1 ORDER BY started_at DESC LIMIT $2) r ORDER BY started_at`,
        [rotationId, limit],
      );
      return r.rows.map((row) => ({
        runId: row.run_id,
        kind: row.kind,
        startedAt: new Date(row.started_at),
        finishedAt: dateOrNull(row.finished_at),
        status: row.status,
        step: row.step,
        error: row.error,
      }));
    },
  };
}

export type LineageStore = ReturnType<typeof createLineageStore>;
