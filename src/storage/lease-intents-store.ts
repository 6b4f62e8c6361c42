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
