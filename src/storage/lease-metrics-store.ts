import type { Queryable } from './db.ts';

export interface LeaseCountRow {
  mountId: string;
  state: string;
  count: number;
  /** Of `count`, the leases whose expiry is at or before the horizon. */
  expiringSoon: number;
}

/**
 * Lease counts for sys/metrics: one grouped aggregate per scrape (rows per mount and state, never per lease). It
 * reads every lease row's mount, state and expiry; with millions of leases, scrape less often rather than add state.
 */
export function createLeaseMetricsStore() {
  return {
    async countsByMount(q: Queryable, horizon: Date): Promise<LeaseCountRow[]> {
      const r = await q.query<{ mount_id: string; state: string; n: string | number; soon: string | number }>(
        `SELECT mount_id, state, count(*) AS n, count(*) FILTER (WHERE expires_at <= $1) AS soon
           FROM leases GROUP BY mount_id, state`,
        [horizon],
      );
      return r.rows.map((row) => ({ mountId: row.mount_id, state: row.state, count: Number(row.n), expiringSoon: Number(row.soon) }));
    },
  };
}
