import { toBuffer, type Queryable } from './db.ts';

export interface MountRow {
  id: string;
  path: string;
  class: 'secret' | 'auth';
  type: string;
  description: string;
  config: Record<string, unknown>;
  options: Record<string, unknown>;
  createdAt: Date;
  /** The row's integrity MAC (core/integrity/row-mac.ts). */
  mac: Buffer | null;
}

const withMac = <T extends { mac: Uint8Array | null }>(r: T): T & { mac: Buffer | null } => ({ ...r, mac: r.mac ? toBuffer(r.mac) : null });

export function createMountsStore() {
  return {
    async list(q: Queryable): Promise<MountRow[]> {
      const r = await q.query<MountRow>(
        'SELECT id, path, class, type, description, config, options, created_at AS "createdAt", mac FROM mounts ORDER BY path',
      );
      return r.rows.map(withMac);
    },
    /** Returns false if the path is taken. */
    async insert(q: Queryable, m: Omit<MountRow, 'createdAt'>): Promise<boolean> {
      const r = await q.query(
        `INSERT INTO mounts (id, path, class, type, description, config, options, mac)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (path) DO NOTHING`,
        [m.id, m.path, m.class, m.type, m.description, JSON.stringify(m.config), JSON.stringify(m.options), m.mac],
      );
      return r.rowCount === 1;
    },
    /** The tunable part of a mount, locked until the transaction ends (sys/mounts/:path/tune). */
    async getForUpdate(q: Queryable, path: string): Promise<Omit<MountRow, 'createdAt'> | null> {
      const r = await q.query<Omit<MountRow, 'createdAt'>>(
        'SELECT id, path, class, type, description, config, options, mac FROM mounts WHERE path = $1 FOR UPDATE',
        [path],
      );
      return r.rows[0] ? withMac(r.rows[0]) : null;
    },
    async update(q: Queryable, path: string, m: Pick<MountRow, 'description' | 'config' | 'options' | 'mac'>): Promise<void> {
      await q.query('UPDATE mounts SET description = $2, config = $3, options = $4, mac = $5 WHERE path = $1', [
        path,
        m.description,
        JSON.stringify(m.config),
        JSON.stringify(m.options),
        m.mac,
      ]);
    },
    /** sys/remount: the mount keeps its id (and so its entries and leases); false if `from` is gone or `to` is taken. */
    async rename(q: Queryable, from: string, to: string, mac: Buffer | null): Promise<boolean> {
      const r = await q.query('UPDATE mounts SET path = $2, mac = $3 WHERE path = $1 AND NOT EXISTS (SELECT 1 FROM mounts WHERE path = $2)', [from, to, mac]);
      return r.rowCount === 1;
    },
    async delete(q: Queryable, path: string): Promise<boolean> {
      const r = await q.query('DELETE FROM mounts WHERE path = $1', [path]);
      return r.rowCount === 1;
    },
  };
}

export type MountsStore = ReturnType<typeof createMountsStore>;
