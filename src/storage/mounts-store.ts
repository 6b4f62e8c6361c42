import type { Queryable } from './db.ts';

export interface MountRow {
  id: string;
  path: string;
  class: 'secret' | 'auth';
  type: string;
  description: string;
  config: Record<string, unknown>;
  options: Record<string, unknown>;
  createdAt: Date;
}

export function createMountsStore(db: Queryable) {
  return {
    async list(): Promise<MountRow[]> {
      const r = await db.query<MountRow>(
        'SELECT id, path, class, type, description, config, options, created_at AS "createdAt" FROM mounts ORDER BY path',
      );
      return r.rows;
    },
    /** Returns false if the path is taken. */
    async insert(q: Queryable, m: Omit<MountRow, 'createdAt'>): Promise<boolean> {
      const r = await q.query(
        `INSERT INTO mounts (id, path, class, type, description, config, options)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (path) DO NOTHING`,
        [m.id, m.path, m.class, m.type, m.description, JSON.stringify(m.config), JSON.stringify(m.options)],
      );
      return r.rowCount === 1;
    },
    /** The tunable part of a mount, locked until the transaction ends (sys/mounts/:path/tune). */
    async getForUpdate(q: Queryable, path: string): Promise<Pick<MountRow, 'type' | 'description' | 'config' | 'options'> | null> {
      const r = await q.query<Pick<MountRow, 'type' | 'description' | 'config' | 'options'>>(
        'SELECT type, description, config, options FROM mounts WHERE path = $1 FOR UPDATE',
        [path],
      );
      return r.rows[0] ?? null;
    },
    async update(q: Queryable, path: string, m: Pick<MountRow, 'description' | 'config' | 'options'>): Promise<void> {
      await q.query('UPDATE mounts SET description = $2, config = $3, options = $4 WHERE path = $1', [
        path,
        m.description,
        JSON.stringify(m.config),
        JSON.stringify(m.options),
      ]);
    },
    /** sys/remount: the mount keeps its id (and so its entries and leases); false if `from` is gone or `to` is taken. */
    async rename(q: Queryable, from: string, to: string): Promise<boolean> {
      const r = await q.query('UPDATE mounts SET path = $2 WHERE path = $1 AND NOT EXISTS (SELECT 1 FROM mounts WHERE path = $2)', [from, to]);
      return r.rowCount === 1;
    },
    async delete(path: string): Promise<boolean> {
      const r = await db.query('DELETE FROM mounts WHERE path = $1', [path]);
      return r.rowCount === 1;
    },
  };
}

export type MountsStore = ReturnType<typeof createMountsStore>;
