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
}

export interface CheckpointRow {
  seq: number;
  hash: Buffer;
  time: Date;
  signature: Buffer;
  publicKey: Buffer;
}

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
  ];
};

/** The append side of the audit log: the chain head, batched inserts, checkpoints. */
export function createAuditStore(db: Queryable) {
  return {
    async head(): Promise<{ seq: number; hash: Buffer }> {
      const r = await db.query<{ seq: string | number; hash: Uint8Array }>('SELECT seq::text AS seq, hash FROM audit_head WHERE id = 1');
      const row = r.rows[0];
      if (!row) throw new Error('audit_head row is missing');
      return { seq: Number(row.seq), hash: toBuffer(row.hash) };
    },
    /** One multi-row INSERT for the whole batch, then the new head (inside the caller's transaction). */
    async insertBatch(q: Queryable, rows: readonly AuditRow[]): Promise<void> {
      await q.query(
        `INSERT INTO audit_entries (seq, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome, entry, hash)
         SELECT s, t, rid, ty, op, mp, p, acc, ra, oc, e, decode(h, 'hex')
           FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[], regexp_split_to_array($11::text, E'\\n'), $12::text[]) AS u(s, t, rid, ty, op, mp, p, acc, ra, oc, e, h)`,
        columns(rows),
      );
      const last = rows.at(-1);
      if (last) await q.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [last.seq, last.hash]);
    },
    /**
     * The whole append in ONE statement and transaction: move audit_head from `expected` to the batch's last entry
     * (taking its row lock first, which queues every other appender, on every replica, behind this one), then insert
     * the batch. If the head is not where the batch expects it, or a seq is taken, the statement raises and nothing
     * is written: false, and the caller rebuilds the batch on the fresh head.
     * (Inserting first and locking last was tried: batches in flight then overtake each other, fail, and retry.)
     */
    async appendIfHead(expected: { seq: number; hash: Buffer }, rows: readonly AuditRow[]): Promise<boolean> {
      const last = rows.at(-1);
      if (!last) return true;
      try {
        await db.query(
          `WITH ins AS (
             INSERT INTO audit_entries (seq, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome, entry, hash)
             SELECT s, t, rid, ty, op, mp, p, acc, ra, oc, e, decode(h, 'hex')
               FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                           $9::text[], $10::text[], regexp_split_to_array($11::text, E'\\n'), $12::text[]) AS u(s, t, rid, ty, op, mp, p, acc, ra, oc, e, h)
             RETURNING 1
           ), head AS (
             UPDATE audit_head SET seq = $13, hash = decode($14, 'hex')
              WHERE id = 1 AND seq = $15 AND hash = decode($16, 'hex') RETURNING 1
           )
           SELECT CASE WHEN (SELECT count(*) FROM head) <> 1 THEN audit_head_moved()
                       WHEN (SELECT count(*) FROM ins) <> $17 THEN audit_head_moved()
                       ELSE 1 END AS ok`,
          [...columns(rows), last.seq, last.hash.toString('hex'), expected.seq, expected.hash.toString('hex'), rows.length],
        );
        return true;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === 'SBX01' || code === '23505') return false;
        throw err;
      }
    },

    async linkAt(seq: number): Promise<{ hash: Buffer; time: Date } | null> {
      const r = await db.query<{ hash: Uint8Array; time: Date }>('SELECT hash, time FROM audit_entries WHERE seq = $1', [seq]);
      return r.rows[0] ? { hash: toBuffer(r.rows[0].hash), time: new Date(r.rows[0].time) } : null;
    },
    async latestCheckpointSeq(): Promise<number> {
      const r = await db.query<{ seq: string | null }>('SELECT max(seq)::text AS seq FROM audit_checkpoints');
      return Number(r.rows[0]?.seq ?? 0);
    },
    async insertCheckpoint(cp: CheckpointRow): Promise<void> {
      await db.query(
        'INSERT INTO audit_checkpoints (seq, hash, time, signature, public_key) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING',
        [cp.seq, cp.hash, cp.time, cp.signature, cp.publicKey],
      );
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
