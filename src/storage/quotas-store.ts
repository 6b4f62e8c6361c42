import { toBuffer, type Queryable } from './db.ts';

export interface RateLimitQuotaRow {
  name: string;
  path: string;
  rate: number;
  intervalSeconds: number;
  blockIntervalSeconds: number;
  /** The row's integrity MAC (core/integrity/row-mac.ts); absent on a row about to be written. */
  mac?: Buffer | null;
}

export interface QuotaConfigRow {
  enableRateLimitResponseHeaders: boolean;
  rateLimitExemptPaths: string[];
  mac?: Buffer | null;
}

/** What one reservation against the shared counter found, measured on the clock the windows are cut on (reserve's `now`). */
export interface Reservation {
  /** The window's count after this reservation (it may pass the limit; the caller grants only what fits). */
  used: number;
  /** Seconds until the current window ends. */
  windowLeft: number;
  /** Seconds until the client's block ends; 0 when it is not blocked. */
  blockedLeft: number;
}

const QUOTA_COLUMNS =
  'name, path, rate, interval_seconds AS "intervalSeconds", block_interval_seconds AS "blockIntervalSeconds", mac';

/** rate_limit_quotas, quota_config and rate_limit_counters: quota definitions and the counters replicas share. */
export function createQuotasStore(db: Queryable) {
  return {
    async list(): Promise<RateLimitQuotaRow[]> {
      const r = await db.query<Omit<RateLimitQuotaRow, 'mac'> & { mac: Uint8Array | null }>(`SELECT ${QUOTA_COLUMNS} FROM rate_limit_quotas ORDER BY name`);
      return r.rows.map((row) => ({ ...row, rate: Number(row.rate), mac: row.mac ? toBuffer(row.mac) : null }));
    },

    /** Inserts or replaces a quota. Returns false when another quota already has the same path. */
    async upsert(q: RateLimitQuotaRow): Promise<boolean> {
      const r = await db.query(
        `INSERT INTO rate_limit_quotas (name, path, rate, interval_seconds, block_interval_seconds, mac)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name) DO UPDATE SET path = EXCLUDED.path, rate = EXCLUDED.rate, interval_seconds = EXCLUDED.interval_seconds,
           block_interval_seconds = EXCLUDED.block_interval_seconds, mac = EXCLUDED.mac, updated_at = now()
         WHERE NOT EXISTS (SELECT 1 FROM rate_limit_quotas o WHERE o.path = EXCLUDED.path AND o.name <> EXCLUDED.name)`,
        [q.name, q.path, q.rate, q.intervalSeconds, q.blockIntervalSeconds, q.mac ?? null],
      ).catch((err: unknown) => {
        // The unique index on path: another quota (possibly written concurrently) already covers it.
        if (err instanceof Error && 'code' in err && err.code === '23505') return { rows: [], rowCount: 0 };
        throw err;
      });
      return r.rowCount > 0;
    },

    async delete(name: string): Promise<void> {
      await db.query('DELETE FROM rate_limit_quotas WHERE name = $1', [name]);
      await db.query('DELETE FROM rate_limit_counters WHERE quota_name = $1', [name]);
    },

    async getConfig(): Promise<QuotaConfigRow | null> {
      const r = await db.query<{ headers: boolean; exempt: unknown; mac: Uint8Array | null }>(
        'SELECT enable_rate_limit_response_headers AS headers, rate_limit_exempt_paths AS exempt, mac FROM quota_config WHERE id = 1',
      );
      const row = r.rows[0];
      if (!row) return null;
      // Anything but an array of strings is kept as it is, so that its integrity check fails rather than pass on a cleaned copy.
      const exempt = (Array.isArray(row.exempt) && row.exempt.every((p) => typeof p === 'string') ? row.exempt : [JSON.stringify(row.exempt)]) as string[];
      return { enableRateLimitResponseHeaders: row.headers, rateLimitExemptPaths: exempt, mac: row.mac ? toBuffer(row.mac) : null };
    },

    async putConfig(c: QuotaConfigRow): Promise<void> {
      await db.query(
        `INSERT INTO quota_config (id, enable_rate_limit_response_headers, rate_limit_exempt_paths, mac) VALUES (1, $1, $2::jsonb, $3)
         ON CONFLICT (id) DO UPDATE SET enable_rate_limit_response_headers = EXCLUDED.enable_rate_limit_response_headers,
           rate_limit_exempt_paths = EXCLUDED.rate_limit_exempt_paths, mac = EXCLUDED.mac, updated_at = now()`,
        [c.enableRateLimitResponseHeaders, JSON.stringify(c.rateLimitExemptPaths), c.mac ?? null],
      );
    },

    /**
     * Adds `n` to the client's count in the current window and returns the new count. Windows are aligned to
     * multiples of the interval on the database clock, so every replica agrees on where a window starts. When the
     * window was already full before this reservation and `blockSeconds` > 0, the client is blocked for that long.
     * One statement under the row lock, so concurrent reservations from several replicas all count.
     * `now` replaces the database clock (windows, blocks and what is left of them) for a broker on a test's clock
     * (core/quotas/quotas.ts `windows`); every real broker leaves it out.
     */
    async reserve(
      quotaName: string,
      clientKey: string,
      n: number,
      opts: { intervalSeconds: number; limit: number; blockSeconds: number; now?: Date },
    ): Promise<Reservation> {
      const r = await db.query<{ used: string | number; window_left: number; blocked_left: number | null }>(
        `INSERT INTO rate_limit_counters AS c (quota_name, client_key, window_end, used)
         VALUES ($1, $2, to_timestamp((floor(extract(epoch FROM COALESCE($7::timestamptz, now()))::float8 / $4::int) + 1) * $4::int), $3::bigint)
         ON CONFLICT (quota_name, client_key) DO UPDATE SET
           used = CASE WHEN c.window_end = EXCLUDED.window_end THEN c.used + EXCLUDED.used ELSE EXCLUDED.used END,
           window_end = EXCLUDED.window_end,
           blocked_until = CASE
             WHEN c.blocked_until > COALESCE($7::timestamptz, now()) THEN c.blocked_until
             WHEN $6::int > 0 AND c.window_end = EXCLUDED.window_end AND c.used >= $5::bigint
               THEN COALESCE($7::timestamptz, now()) + make_interval(secs => $6::int)
             ELSE NULL END
         RETURNING used, extract(epoch FROM window_end - COALESCE($7::timestamptz, now()))::float8 AS window_left,
           extract(epoch FROM blocked_until - COALESCE($7::timestamptz, now()))::float8 AS blocked_left`,
        [quotaName, clientKey, n, opts.intervalSeconds, opts.limit, opts.blockSeconds, opts.now ?? null],
      );
      const row = r.rows[0];
      if (!row) throw new Error('rate limit reservation returned no row');
      return { used: Number(row.used), windowLeft: Math.max(0, Number(row.window_left)), blockedLeft: Math.max(0, Number(row.blocked_left ?? 0)) };
    },

    /** Removes counters whose window and block have both ended (by `now`, as for reserve). Returns how many rows went. */
    async purgeExpired(now?: Date): Promise<number> {
      const r = await db.query(
        `DELETE FROM rate_limit_counters
         WHERE window_end < COALESCE($1::timestamptz, now()) - interval '5 seconds'
           AND (blocked_until IS NULL OR blocked_until < COALESCE($1::timestamptz, now()))`,
        [now ?? null],
      );
      return r.rowCount;
    },
  };
}

export type QuotasStore = ReturnType<typeof createQuotasStore>;
