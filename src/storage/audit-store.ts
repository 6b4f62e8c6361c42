import { toBuffer, type Queryable } from './db.ts';

export interface AuditRow {
  seq: number;
  time: Date;
  requestId: string;
  type: string;
  operation: string;
  mountPath: string | null;
  path: string;
  accessor: string | null;
  remoteAddress: string | null;
  outcome: string;
  entry: string;
  hash: Buffer;
  /** HMAC of the leaf hash under a root-key-derived key (see migrations/0010). */
  mac: Buffer | null;
}

export interface CheckpointRow {
  /** Tree size. */
  seq: number;
  /** Root hash at that size. */
  hash: Buffer;
  /** Time of entry `seq` (a search hint, not signed). */
  time: Date;
  /** The signed note (C2SP tlog-checkpoint). */
  note: string;
  /** The tree's frontier at that size (see audit_head). */
  frontier: Buffer;
}

/** The tree head: size, root and frontier (migrations/0010). */
export interface TreeHead {
  seq: number;
  hash: Buffer;
  frontier: Buffer;
}

export interface TreeNodeRow {
  level: number;
  index: number;
  hash: Buffer;
}

/** What an append found when it did not commit. */
export type AppendConflict = { kind: 'moved' } | { kind: 'taken'; seq: number | null };

const columns = (rows: readonly AuditRow[]): unknown[] => {
  const col = <K extends keyof AuditRow>(k: K) => rows.map((r) => r[k]);
  return [
    col('seq'),
    rows.map((r) => r.time.toISOString()),
    col('requestId'),
    col('type'),
    col('operation'),
    col('mountPath'),
    col('path'),
    col('accessor'),
    col('remoteAddress'),
    col('outcome'),
    // Canonical JSON never contains a raw newline (JSON.stringify escapes it), so the entries travel as one text
    // value split in SQL: no per-element array escaping of ~1 KB strings full of quotes.
    rows.map((r) => r.entry).join('\n'),
    rows.map((r) => r.hash.toString('hex')),
    rows.map((r) => r.mac?.toString('hex') ?? null),
  ];
};

const hexes = (bs: readonly Buffer[]): string[] => bs.map((b) => b.toString('hex'));

/** The append side of the audit log: the tree head, batched inserts with their tree nodes, checkpoints. */
export function createAuditStore(db: Queryable) {
  return {
    async head(): Promise<TreeHead> {
      const r = await db.query<{ seq: string | number; hash: Uint8Array; frontier: Uint8Array }>(
        'SELECT seq::text AS seq, hash, frontier FROM audit_head WHERE id = 1',
      );
      const row = r.rows[0];
      if (!row) throw new Error('audit_head row is missing');
      return { seq: Number(row.seq), hash: toBuffer(row.hash), frontier: toBuffer(row.frontier) };
    },
    /**
     * The whole append in ONE statement and transaction: move audit_head from `expected` to the batch's last entry
     * (taking its row lock first, which queues every other appender, on every replica, behind this one), then insert
     * the batch. If the head is not where the batch expects it, or a seq is taken, the statement raises and nothing
     * is written: false, and the caller rebuilds the batch on the fresh head.
     * (Inserting first and locking last was tried: batches in flight then overtake each other, fail, and retry.)
     */
    async appendIfHead(
      expected: { seq: number; hash: Buffer },
      rows: readonly AuditRow[],
      next: TreeHead,
      nodes: readonly TreeNodeRow[],
      checkpoints: readonly CheckpointRow[],
    ): Promise<AppendConflict | null> {
      if (rows.length === 0) return null;
      const cols = columns(rows);
      try {
        await db.query(
          `WITH ins AS (
             INSERT INTO audit_entries (seq, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome, entry, hash, mac)
             SELECT s, t, rid, ty, op, mp, p, acc, ra, oc, e, decode(h, 'hex'), decode(m, 'hex')
               FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                           $9::text[], $10::text[], regexp_split_to_array($11::text, E'\\n'), $12::text[], $27::text[]) AS u(s, t, rid, ty, op, mp, p, acc, ra, oc, e, h, m)
             RETURNING 1
           ), head AS (
             UPDATE audit_head SET seq = $13, hash = decode($14, 'hex'), frontier = decode($15, 'hex')
              WHERE id = 1 AND seq = $16 AND hash = decode($17, 'hex') RETURNING 1
           ), nodes AS (
             INSERT INTO audit_tree_nodes (level, idx, hash)
             SELECT l, i, decode(h, 'hex') FROM unnest($19::smallint[], $20::bigint[], $21::text[]) AS u(l, i, h)
             ON CONFLICT (level, idx) DO UPDATE SET hash = EXCLUDED.hash
             RETURNING 1
           ), cps AS (
             INSERT INTO audit_checkpoints (seq, hash, time, note, frontier)
             SELECT s, decode(h, 'hex'), t, n, decode(f, 'hex') FROM unnest($22::bigint[], $23::text[], $24::timestamptz[], $25::text[], $26::text[]) AS u(s, h, t, n, f)
             ON CONFLICT (seq) DO NOTHING
             RETURNING 1
           )
           SELECT CASE WHEN (SELECT count(*) FROM head) <> 1 THEN audit_head_moved()
                       WHEN (SELECT count(*) FROM ins) <> $18 THEN audit_head_moved()
                       ELSE (SELECT count(*) FROM nodes) + (SELECT count(*) FROM cps) END AS ok`,
          [
            ...cols.slice(0, 12),
            next.seq,
            next.hash.toString('hex'),
            next.frontier.toString('hex'),
            expected.seq,
            expected.hash.toString('hex'),
            rows.length,
            nodes.map((n) => n.level),
            nodes.map((n) => n.index),
            hexes(nodes.map((n) => n.hash)),
            checkpoints.map((c) => c.seq),
            hexes(checkpoints.map((c) => c.hash)),
            checkpoints.map((c) => c.time.toISOString()),
            checkpoints.map((c) => c.note),
            hexes(checkpoints.map((c) => c.frontier)),
            cols[12],
          ],
        );
        return null;
      } catch (err) {
        const e = err as { code?: string; detail?: string };
        if (e.code === 'SBX01') return { kind: 'moved' };
        if (e.code === '23505') {
          const m = /\(seq\)=\((\d+)\)/.exec(e.detail ?? '');
          return { kind: 'taken', seq: m ? Number(m[1]) : null };
        }
        throw err;
      }
    },

    /** The checkpoint with the highest size, if any. */
    async latestCheckpoint(): Promise<CheckpointRow | null> {
      const r = await db.query<{ seq: string; hash: Uint8Array; time: Date; note: string; frontier: Uint8Array }>(
        'SELECT seq::text AS seq, hash, time, note, frontier FROM audit_checkpoints ORDER BY seq DESC LIMIT 1',
      );
      const row = r.rows[0];
      return row ? { seq: Number(row.seq), hash: toBuffer(row.hash), time: new Date(row.time), note: row.note, frontier: toBuffer(row.frontier) } : null;
    },
    async timeAt(seq: number): Promise<Date | null> {
      const r = await db.query<{ time: Date }>('SELECT time FROM audit_entries WHERE seq = $1', [seq]);
      return r.rows[0] ? new Date(r.rows[0].time) : null;
    },
    async latestCheckpointSeq(): Promise<number> {
      const r = await db.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM audit_checkpoints');
      return Number(r.rows[0]?.seq ?? 0);
    },
    async insertCheckpoint(cp: CheckpointRow): Promise<void> {
      await db.query(
        'INSERT INTO audit_checkpoints (seq, hash, time, note, frontier) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING',
        [cp.seq, cp.hash, cp.time, cp.note, cp.frontier],
      );
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
