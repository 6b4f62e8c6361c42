import { prefixEnd, type LeaseCountQuota } from './leases-store.ts';
import { toBuffer, type Db } from './db.ts';

/** sys/quotas/lease-count definitions (migrations/0005). `used` is kept by leases-store inside lease transactions. */
export function createLeaseQuotasStore(db: Db) {
  type Raw = { name: string; path: string; max_leases: string | number; used: string | number; mac: Uint8Array | null };
  const toQuota = (x: Raw): LeaseCountQuota => ({
    name: x.name,
    path: x.path,
    maxLeases: Number(x.max_leases),
    used: Number(x.used),
    mac: x.mac ? toBuffer(x.mac) : null,
  });
  return {
    async list(): Promise<LeaseCountQuota[]> {
      const r = await db.query<Raw>(`SELECT name, path, max_leases, used, mac FROM lease_count_quotas ORDER BY name`);
      return r.rows.map(toQuota);
    },
    async get(name: string): Promise<LeaseCountQuota | null> {
      const r = await db.query<Raw>(`SELECT name, path, max_leases, used, mac FROM lease_count_quotas WHERE name = $1`, [name]);
      return r.rows[0] ? toQuota(r.rows[0]) : null;
    },
    /**
     * Creates or changes a quota. Its counter starts from the leases that already live under its path: counted
     * once, under the quota's row lock, so that no concurrent issue is missed. False if another quota has the path.
     */
    async put(name: string, path: string, maxLeases: number, mac: Buffer | null): Promise<boolean> {
      return db.tx(async (q) => {
        const clash = await q.query(`SELECT 1 FROM lease_count_quotas WHERE path = $1 AND name <> $2`, [path, name]);
        if (clash.rowCount > 0) return false;
        await q.query(
          `INSERT INTO lease_count_quotas (name, path, max_leases, mac) VALUES ($1, $2, $3, $4)
           ON CONFLICT (name) DO UPDATE SET path = EXCLUDED.path, max_leases = EXCLUDED.max_leases, mac = EXCLUDED.mac, updated_at = now()`,
          [name, path, maxLeases, mac],
        );
        await q.query(`SELECT 1 FROM lease_count_quotas WHERE name = $1 FOR UPDATE`, [name]);
        const n = await q.query<{ n: string }>(
          path === '' ? `SELECT count(*) AS n FROM leases` : `SELECT count(*) AS n FROM leases WHERE id >= $1 AND id < $2 AND starts_with(id, $1)`,
          path === '' ? [] : [path, prefixEnd(path)],
        );
        await q.query(`UPDATE lease_count_quotas SET used = $2 WHERE name = $1`, [name, Number(n.rows[0]?.n ?? 0)]);
        return true;
      });
    },
    async delete(name: string): Promise<void> {
      await db.query(`DELETE FROM lease_count_quotas WHERE name = $1`, [name]);
    },
  };
}

export type LeaseQuotasStore = ReturnType<typeof createLeaseQuotasStore>;
