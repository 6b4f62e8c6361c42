import { toBuffer, type Queryable } from './db.ts';

/** One stored entry of the log, as verify and export read it (hash = its leaf hash). */
export interface ChainRowRecord {
  seq: number;
  entry: string;
  hash: Buffer;
}

/** The columns search filters on, copied from the entry (verify checks they still equal it). */
export interface ColumnsRecord {
  time: Date;
  request_id: string;
  type: string;
  operation: string;
  mount_path: string | null;
  path: string;
  accessor: string | null;
  remote_address: string | null;
  outcome: string;
}

export interface CheckpointRecord {
  /** Tree size. */
  seq: number;
  /** Root hash. */
  hash: Buffer;
  time: Date;
  /** The signed note, with any witness cosignature lines after the log's own. */
  note: string;
  frontier: Buffer;
}

export interface MarkRecord {
  through: number;
  note: string | null;
}

export interface AuditSearch {
  /** Inclusive lower bound on the entry time. */
  since?: Date;
  /** Exclusive upper bound on the entry time. */
  until?: Date;
  /** Request path prefix, matched literally (no wildcards). */
  pathPrefix?: string;
  accessor?: string;
  operation?: string;
  outcome?: string;
  /** Only entries with seq > after (the paging cursor). */
  after?: number;
  limit: number;
}

/**
 * How far apart the times of two entries may be out of seq order: a request's time is when it started, its seq when
 * it was appended, so this covers the longest request plus the clock skew between replicas. Checkpoints carry the
 * time of the entry they pin; a checkpoint more than this before `since` bounds the seqs from below, one more than
 * this after `until` from above. So a time range becomes a seq range the primary key serves, with no time index.
 */
const TIME_SLACK = '5 minutes';

/** Escapes LIKE's metacharacters so that a prefix matches literally (with ESCAPE '\'). */
export const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Greater than every string that starts with the prefix (U+10FFFF is the largest code point; C collation compares bytes). */
const prefixUpperBound = (prefix: string): string => `${prefix}\u{10FFFF}`;

/**
 * pg returns bigint as a string, PGlite as a bigint or number: one JS number either way. (Never select `seq::text AS seq`:
 * ORDER BY seq would then sort the text alias, and "10" comes before "2".)
 */
const seqOf = (v: unknown): number => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw new TypeError('audit seq is not a safe integer');
  return n;
};

/** The review side of the audit log: search, pages for verify and export, checkpoints, the export mark, pruning. */
export function createAuditReadStore(db: Queryable) {
  const page = async (after: number, limit: number): Promise<ChainRowRecord[]> => {
    const r = await db.query<{ seq: unknown; entry: string; hash: Uint8Array }>(
      'SELECT seq, entry, hash FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2',
      [after, limit],
    );
    return r.rows.map((row) => ({ seq: seqOf(row.seq), entry: row.entry, hash: toBuffer(row.hash) }));
  };

  const pageWithColumns = async (after: number, limit: number): Promise<(ChainRowRecord & { columns: ColumnsRecord; mac: Buffer | null })[]> => {
    const r = await db.query<{ seq: unknown; entry: string; hash: Uint8Array; mac: Uint8Array | null } & Omit<ColumnsRecord, 'time'> & { time: Date }>(
      `SELECT seq, entry, hash, mac, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome
         FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [after, limit],
    );
    return r.rows.map((row) => ({
      seq: seqOf(row.seq),
      entry: row.entry,
      hash: toBuffer(row.hash),
      mac: row.mac ? toBuffer(row.mac) : null,
      columns: {
        time: new Date(row.time),
        request_id: row.request_id,
        type: row.type,
        operation: row.operation,
        mount_path: row.mount_path,
        path: row.path,
        accessor: row.accessor,
        remote_address: row.remote_address,
        outcome: row.outcome,
      },
    }));
  };

  const head = async (): Promise<{ seq: number; hash: Buffer }> => {
    const r = await db.query<{ seq: unknown; hash: Uint8Array }>('SELECT seq, hash FROM audit_head WHERE id = 1');
    const row = r.rows[0];
    if (!row) throw new Error('audit_head row is missing');
    return { seq: seqOf(row.seq), hash: toBuffer(row.hash) };
  };

  return {
    /**
     * Entries matching every given filter, in seq order, at most `limit`. Each filter is one indexed column
     * compared with `=`, a time range, or a path range, so the (column, seq) indexes serve it.
     */
    async search(s: AuditSearch): Promise<ChainRowRecord[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: (n: string) => string, value: unknown) => {
        params.push(value);
        where.push(sql(`$${params.length}`));
      };
      if (s.after !== undefined && s.after > 0) add((n) => `seq > ${n}`, s.after);
      // Time bounds are also turned into seq bounds through the checkpoints (see TIME_SLACK): otherwise PostgreSQL
      // walks the primary key from the start and filters by time (it does not know that time grows with seq).
      if (s.since) {
        add((n) => `time >= ${n}`, s.since);
        where.push(`seq > coalesce((SELECT max(seq) FROM audit_checkpoints WHERE time < $${params.length}::timestamptz - interval '${TIME_SLACK}'), 0)`);
      }
      if (s.until) {
        add((n) => `time < ${n}`, s.until);
        where.push(`seq < coalesce((SELECT min(seq) FROM audit_checkpoints WHERE time >= $${params.length}::timestamptz + interval '${TIME_SLACK}'), 9223372036854775807)`);
      }
      if (s.pathPrefix) {
        // The range lets a generic (prepared) plan use the path index; LIKE keeps the match exact.
        add((n) => `path >= ${n}`, s.pathPrefix);
        add((n) => `path < ${n}`, prefixUpperBound(s.pathPrefix));
        add((n) => `path LIKE ${n} ESCAPE '\\'`, `${escapeLike(s.pathPrefix)}%`);
      }
      if (s.accessor !== undefined) add((n) => `accessor = ${n}`, s.accessor);
      if (s.operation !== undefined) add((n) => `operation = ${n}`, s.operation);
      if (s.outcome !== undefined) add((n) => `outcome = ${n}`, s.outcome);
      params.push(s.limit);
      const r = await db.query<{ seq: unknown; entry: string; hash: Uint8Array }>(
        `SELECT seq, entry, hash FROM audit_entries${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
         ORDER BY seq LIMIT $${params.length}`,
        params,
      );
      return r.rows.map((row) => ({ seq: seqOf(row.seq), entry: row.entry, hash: toBuffer(row.hash) }));
    },

    /** The next `limit` links after `after`, in seq order (verify and export stream through these). */
    page,

    /** Every entry after `after` with its copied columns, fetched a page at a time (never the whole table in memory). */
    async *pages(after = 0, pageSize = 1000): AsyncGenerator<ChainRowRecord & { columns: ColumnsRecord; mac: Buffer | null }> {
      let cursor = after;
      for (;;) {
        const rows = await pageWithColumns(cursor, pageSize);
        yield* rows;
        const last = rows.at(-1);
        if (!last || rows.length < pageSize) return;
        cursor = last.seq;
      }
    },

    /** Every checkpoint in size order (or only those from `from`), each with its witness cosignature lines. */
    async checkpoints(from = 0, limit = 1_000_000): Promise<CheckpointRecord[]> {
      const r = await db.query<{ seq: unknown; hash: Uint8Array; time: Date; note: string; frontier: Uint8Array; cosig: string | null }>(
        `SELECT c.seq, c.hash, c.time, c.note, c.frontier,
                (SELECT string_agg(s.line || E'\n', '' ORDER BY s.name, s.key_id) FROM audit_cosignatures s WHERE s.seq = c.seq) AS cosig
           FROM audit_checkpoints c WHERE c.seq >= $1 ORDER BY c.seq LIMIT $2`,
        [from, limit],
      );
      return r.rows.map((row) => ({
        seq: seqOf(row.seq),
        hash: toBuffer(row.hash),
        time: new Date(row.time),
        note: row.note + (row.cosig ?? ''),
        frontier: toBuffer(row.frontier),
      }));
    },

    /** The checkpoint of the largest size (with its cosignatures), or null. */
    async latestCheckpoint(): Promise<CheckpointRecord | null> {
      const r = await db.query<{ seq: unknown }>('SELECT max(seq) AS seq FROM audit_checkpoints');
      const v = r.rows[0]?.seq;
      if (v === null || v === undefined) return null;
      const [cp] = await this.checkpoints(seqOf(v), 1);
      return cp ?? null;
    },

    /** Stores a witness's cosignature line for the checkpoint of `seq` (the caller has verified it). */
    async addCosignature(c: { seq: number; name: string; keyId: Buffer; line: string; signedAt: Date }): Promise<void> {
      await db.query(
        `INSERT INTO audit_cosignatures (seq, name, key_id, line, signed_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (seq, name, key_id) DO UPDATE SET line = EXCLUDED.line, signed_at = EXCLUDED.signed_at`,
        [c.seq, c.name, c.keyId, c.line, c.signedAt],
      );
    },

    /** The signed prune mark (through 0 and no note before any prune). */
    async pruneMark(): Promise<MarkRecord> {
      const r = await db.query<{ seq: unknown; note: string | null }>('SELECT pruned_through AS seq, prune_note AS note FROM audit_exports WHERE id = 1');
      return r.rows[0] ? { through: seqOf(r.rows[0].seq), note: r.rows[0].note } : { through: 0, note: null };
    },

    /** The signed export mark. */
    async exportMark(): Promise<MarkRecord> {
      const r = await db.query<{ seq: unknown; note: string | null }>('SELECT exported_through AS seq, export_note AS note FROM audit_exports WHERE id = 1');
      return r.rows[0] ? { through: seqOf(r.rows[0].seq), note: r.rows[0].note } : { through: 0, note: null };
    },

    /** The chain head every appender extends: the last seq and its hash (0 and 32 zero bytes when empty). */
    head,

    /** The largest checkpoint size <= seq (0 when none). */
    async checkpointAtOrBelow(seq: number): Promise<number> {
      const r = await db.query<{ seq: unknown }>('SELECT max(seq) AS seq FROM audit_checkpoints WHERE seq <= $1', [seq]);
      const v = r.rows[0]?.seq;
      return v === null || v === undefined ? 0 : seqOf(v);
    },

    /** The lowest seq still stored, or null when the table is empty. */
    async firstSeq(): Promise<number | null> {
      const r = await db.query<{ seq: unknown }>('SELECT min(seq) AS seq FROM audit_entries');
      const v = r.rows[0]?.seq;
      return v === null || v === undefined ? null : seqOf(v);
    },

    /** Highest seq an export has marked as exported; pruning never goes past it. */
    async exportedThrough(): Promise<number> {
      const r = await db.query<{ seq: unknown }>('SELECT exported_through AS seq FROM audit_exports WHERE id = 1');
      return r.rows[0] ? seqOf(r.rows[0].seq) : 0;
    },

    /** Raises the export mark to `seq` with its signed note (never lowers it). Returns the mark afterwards. */
    async markExported(seq: number, note: string): Promise<number> {
      const r = await db.query<{ seq: unknown }>(
        `INSERT INTO audit_exports (id, exported_through, export_note, updated_at) VALUES (1, $1, $2, now())
         ON CONFLICT (id) DO UPDATE SET
           export_note = CASE WHEN EXCLUDED.exported_through >= audit_exports.exported_through THEN EXCLUDED.export_note ELSE audit_exports.export_note END,
           exported_through = GREATEST(audit_exports.exported_through, EXCLUDED.exported_through),
           updated_at = now()
         RETURNING exported_through AS seq`,
        [seq, note],
      );
      return r.rows[0] ? seqOf(r.rows[0].seq) : seq;
    },

    /**
     * The last seq that is older than `cutoff`: one below the first entry (by seq) at or after it. Times are taken
     * when requests start, so they are not strictly ordered by seq; this never removes an entry newer than the
     * cutoff. The scan starts TIME_SLACK before the cutoff. With no entry at or after the cutoff, the head.
     */
    async lastSeqBefore(cutoff: Date): Promise<number> {
      const r = await db.query<{ seq: unknown }>(
        `SELECT seq FROM audit_entries WHERE time >= $1
           AND seq > coalesce((SELECT max(seq) FROM audit_checkpoints WHERE time < $1::timestamptz - interval '${TIME_SLACK}'), 0)
         ORDER BY seq LIMIT 1`,
        [cutoff],
      );
      const v = r.rows[0]?.seq;
      if (v !== null && v !== undefined) return seqOf(v) - 1;
      return (await head()).seq;
    },

    /** Deletes every entry with seq <= through and records the signed prune mark, in one statement. Returns how many went. */
    async prune(through: number, note: string): Promise<number> {
      const r = await db.query<{ n: unknown }>(
        `WITH d AS (DELETE FROM audit_entries WHERE seq <= $1 RETURNING 1),
              m AS (UPDATE audit_exports SET pruned_through = $1, prune_note = $2, updated_at = now() WHERE id = 1 AND pruned_through <= $1 RETURNING 1)
         SELECT (SELECT count(*) FROM d) AS n, (SELECT count(*) FROM m) AS marked`,
        [through, note],
      );
      return Number(r.rows[0]?.n ?? 0);
    },
  };
}

export type AuditReadStore = ReturnType<typeof createAuditReadStore>;
