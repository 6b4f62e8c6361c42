import type { Queryable } from './db.ts';

/** login_failures: failure counts and lock expiry per (mount, identity HMAC). */
export function createLockoutStore(db: Queryable) {
  return {
    async lockedUntil(mountId: string, identityHmac: Uint8Array, now: Date): Promise<Date | null> {
      const r = await db.query<{ locked_until: Date }>(
        'SELECT locked_until FROM login_failures WHERE mount_id = $1 AND identity_hmac = $2 AND locked_until > $3',
        [mountId, identityHmac, now],
      );
      return r.rows[0]?.locked_until ?? null;
    },
    /**
     * Counts one failure in a window of `windowSeconds`; at `threshold` failures the identity is locked for
     * `lockSeconds`. One statement, so concurrent failures on several replicas all count. `now` is the broker's clock
     * (not the database's): a lock is a decision about time, like a token's expiry.
     */
    async recordFailure(
      mountId: string,
      identityHmac: Uint8Array,
      opts: { threshold: number; windowSeconds: number; lockSeconds: number },
      now: Date,
    ): Promise<void> {
      await db.query(
        `INSERT INTO login_failures AS f (mount_id, identity_hmac, failures, first_failed_at, locked_until)
         VALUES ($1, $2, 1, $6::timestamptz, CASE WHEN $3::int <= 1 THEN $6::timestamptz + make_interval(secs => $5::int) END)
         ON CONFLICT (mount_id, identity_hmac) DO UPDATE SET
           failures = CASE WHEN f.first_failed_at < $6::timestamptz - make_interval(secs => $4::int) AND (f.locked_until IS NULL OR f.locked_until <= $6::timestamptz)
                           THEN 1 ELSE f.failures + 1 END,
           first_failed_at = CASE WHEN f.first_failed_at < $6::timestamptz - make_interval(secs => $4::int) AND (f.locked_until IS NULL OR f.locked_until <= $6::timestamptz)
                                  THEN $6::timestamptz ELSE f.first_failed_at END,
           locked_until = CASE
             WHEN f.locked_until > $6::timestamptz THEN f.locked_until
             WHEN f.first_failed_at >= $6::timestamptz - make_interval(secs => $4::int) AND f.failures + 1 >= $3::int
               THEN $6::timestamptz + make_interval(secs => $5::int)
             ELSE NULL END`,
        [mountId, identityHmac, opts.threshold, opts.windowSeconds, opts.lockSeconds, now],
      );
    },
    /** Deletes up to `limit` rows whose failure window has passed and that are not locked; returns how many. */
    async prune(windowSeconds: number, limit: number, now: Date): Promise<number> {
      const r = await db.query(
        `DELETE FROM login_failures WHERE (mount_id, identity_hmac) IN (
           SELECT mount_id, identity_hmac FROM login_failures
            WHERE first_failed_at < $3::timestamptz - make_interval(secs => $1::int) AND (locked_until IS NULL OR locked_until <= $3::timestamptz)
            LIMIT $2)`,
        [windowSeconds, limit, now],
      );
      return r.rowCount;
    },
    async reset(mountId: string, identityHmac: Uint8Array): Promise<void> {
      await db.query('DELETE FROM login_failures WHERE mount_id = $1 AND identity_hmac = $2', [mountId, identityHmac]);
    },
  };
}

export type LockoutStore = ReturnType<typeof createLockoutStore>;
