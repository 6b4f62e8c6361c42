import { toBuffer, type Queryable } from './db.ts';

/** One lease_intents row (migrations/0009). `internal` is sealed by the barrier; this layer never opens it. */
export interface LeaseIntentRow {
  id: string;
  mountId: string;
  secretType: string;
  internal: Buffer;
  createdAt: Date;
}

interface RawIntent {
  id: string;
  mount_id: string;
  secret_type: string;
  internal: Uint8Array;
  created_at: Date;
}

export function createLeaseIntentsStore() {
  return {
    async insert(q: Queryable, row: LeaseIntentRow): Promise<void> {
      await q.query('INSERT INTO lease_intents (id, mount_id, secret_type, internal, created_at) VALUES ($1, $2, $3, $4, $5)', [
        row.id,
        row.mountId,
        row.secretType,
        row.internal,
        row.createdAt,
      ]);
    },
    /** Many intents in one statement (concurrent mints, group-committed by core/leases/lease-intents.ts). */
    async insertMany(q: Queryable, rows: readonly LeaseIntentRow[]): Promise<void> {
      if (rows.length === 0) return;
      const json = rows.map((r) => ({ id: r.id, mount_id: r.mountId, secret_type: r.secretType, internal: r.internal.toString('base64'), created_at: r.createdAt.toISOString() }));
      await q.query(
        `INSERT INTO lease_intents (id, mount_id, secret_type, internal, created_at)
         SELECT x.id, x.mount_id, x.secret_type, decode(x.internal, 'base64'), x.created_at
           FROM jsonb_to_recordset($1::jsonb) AS x(id text, mount_id text, secret_type text, internal text, created_at timestamptz)`,
        [JSON.stringify(json)],
      );
    },
    async delete(q: Queryable, id: string): Promise<void> {
      await q.query('DELETE FROM lease_intents WHERE id = $1', [id]);
    },
    /** Intents recorded before `cutoff`, oldest first. */
    async olderThan(q: Queryable, cutoff: Date, limit: number): Promise<LeaseIntentRow[]> {
      const r = await q.query<RawIntent>(
        'SELECT id, mount_id, secret_type, internal, created_at FROM lease_intents WHERE created_at < $1 ORDER BY created_at LIMIT $2',
        [cutoff, limit],
      );
      return r.rows.map((x) => ({ id: x.id, mountId: x.mount_id, secretType: x.secret_type, internal: toBuffer(x.internal), createdAt: new Date(x.created_at) }));
    },
  };
}

export type LeaseIntentsStore = ReturnType<typeof createLeaseIntentsStore>;
