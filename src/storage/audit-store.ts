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

/** The append side of the audit log: the chain head, batched inserts, checkpoints. */
export function createAuditStore(db: Queryable) {
  return {
    /** Locks the chain head for the rest of the transaction (every replica appends through this row). */
    async lockHead(q: Queryable): Promise<{ seq: number; hash: Buffer }> {
      const r = await q.query<{ seq: string | number; hash: Uint8Array }>('SELECT seq::text AS seq, hash FROM audit_head WHERE id = 1 FOR UPDATE');
      const row = r.rows[0];
      if (!row) throw new Error('audit_head row is missing');
      return { seq: Number(row.seq), hash: toBuffer(row.hash) };
    },
    async head(): Promise<{ seq: number; hash: Buffer }> {
      const r = await db.query<{ seq: string | number; hash: Uint8Array }>('SELECT seq::text AS seq, hash FROM audit_head WHERE id = 1');
      const row = r.rows[0];
      if (!row) throw new Error('audit_head row is missing');
      return { seq: Number(row.seq), hash: toBuffer(row.hash) };
    },
    /** One multi-row INSERT for the whole batch, then the new head. */
    async insertBatch(q: Queryable, rows: readonly AuditRow[]): Promise<void> {
      const col = <K extends keyof AuditRow>(k: K) => rows.map((r) => r[k]);
      await q.query(
        `INSERT INTO audit_entries (seq, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome, entry, hash)
         SELECT s, t, rid, ty, op, mp, p, acc, ra, oc, e, decode(h, 'hex')
           FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[], $11::text[], $12::text[]) AS u(s, t, rid, ty, op, mp, p, acc, ra, oc, e, h)`,
        [
          col('seq'),
          col('time'),
          col('requestId'),
          col('type'),
          col('operation'),
          col('mountPath'),
          col('path'),
          col('accessor'),
          col('remoteAddress'),
          col('outcome'),
          col('entry'),
          rows.map((r) => r.hash.toString('hex')),
        ],
      );
      const last = rows.at(-1);
      if (last) await q.query('UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1', [last.seq, last.hash]);
    },
    async hashAt(seq: number): Promise<Buffer | null> {
      const r = await db.query<{ hash: Uint8Array }>('SELECT hash FROM audit_entries WHERE seq = $1', [seq]);
      return r.rows[0] ? toBuffer(r.rows[0].hash) : null;
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
