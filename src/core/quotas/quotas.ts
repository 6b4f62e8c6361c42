import type { Clock } from '../../lib/clock.ts';
import { badRequest } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Db } from '../../storage/db.ts';
import type { QuotasStore } from '../../storage/quotas-store.ts';
import { idle, newBucket, take, type Bucket, type Decision, type QuotaParams } from './buckets.ts';
import { exemptMatches, formatExemptRule, parseExemptPath, type ExemptRule } from './exempt.ts';
import { ALWAYS_EXEMPT, DEFAULT_EXEMPT_PATHS, underPrefix } from './paths.ts';
import type { RowMac } from '../integrity/row-mac.ts';
import { quotaConfigFields, rateQuotaFields } from '../integrity/rows.ts';

export type { Decision } from './buckets.ts';

export interface RateLimitQuota {
  name: string;
  /** '' (global), a mount with its trailing slash ("secret/"), or a path under a mount ("secret/data/app"). */
  path: string;
  /** Requests per interval. */
  rate: number;
  intervalSeconds: number;
  /** 0: no blocking. */
  blockIntervalSeconds: number;
}

export interface QuotaConfig {
  enableRateLimitResponseHeaders: boolean;
  rateLimitExemptPaths: string[];
}

/** One quota as the request path sees it. */
export interface ActiveQuota extends QuotaParams {
  def: RateLimitQuota;
  /** The path without its trailing slash; matched at segment boundaries. */
  prefix: string;
  buckets: Map<string, Bucket>;
}

export interface QuotaLimiterDeps {
  db: Db;
  store: QuotasStore;
  clock: Clock;
  /**
   * What the shared windows and blocks are cut on. 'database' (the default, and every real broker's: wiring/core.ts):
   * PostgreSQL's clock, the one clock all replicas share however far their hosts' clocks drift apart. 'clock': `clock`,
   * for a broker on a test's FakeClock, whose windows then move when the test advances it; replicas sharing a counter
   * agree only while their clocks read the same (the in-process replicas of one test, set to the same instants).
   */
  windows?: 'database' | 'clock';
  log: Logger;
  /** Clients tracked in memory across all quotas; the oldest idle ones go first. Default 50,000. */
  maxClients?: number;
  rowMac: RowMac;
  /** Definitions are MAC-checked, which needs the root key: while sealed, reload keeps what it has. */
  sealed: () => boolean;
}

const CHANNEL = 'sealbox_quotas';
const ALWAYS: ExemptRule = { path: ALWAYS_EXEMPT, prefix: false };
const DEFAULT_CONFIG: QuotaConfig = { enableRateLimitResponseHeaders: false, rateLimitExemptPaths: [...DEFAULT_EXEMPT_PATHS] };

/** Vault rounds the rate to whole requests per interval; at least one passes. */
const limitOf = (rate: number): number => Math.max(1, Math.round(rate));

function activate(def: RateLimitQuota): ActiveQuota {
  const limit = limitOf(def.rate);
  return {
    def,
    name: def.name,
    prefix: def.path.replace(/\/$/, ''),
    limit,
    chunk: Math.max(1, Math.floor(limit / 10)),
    intervalMs: def.intervalSeconds * 1000,
    blockMs: def.blockIntervalSeconds * 1000,
    buckets: new Map(),
  };
}

const sameDef = (a: RateLimitQuota, b: RateLimitQuota): boolean =>
  a.name === b.name && a.path === b.path && a.rate === b.rate && a.intervalSeconds === b.intervalSeconds && a.blockIntervalSeconds === b.blockIntervalSeconds;

/**
 * Rate-limit quotas (Vault's sys/quotas/rate-limit): definitions in PostgreSQL, reloaded on every replica through
 * LISTEN/NOTIFY, and a per-client limiter whose counters replicas share through PostgreSQL (see quotas/buckets.ts).
 */
export function createQuotaLimiter(deps: QuotaLimiterDeps) {
  const maxClients = deps.maxClients ?? 50_000;
  const nowMs = (): number => deps.clock.now().getTime();
  /** The time reservations pass to the store: none on the database clock. */
  const windowNow = (): Date | undefined => (deps.windows === 'clock' ? deps.clock.now() : undefined);
  /** Longest prefix first: the most specific quota wins. */
  let active: ActiveQuota[] = [];
  let config: QuotaConfig = DEFAULT_CONFIG;
  let exempt: ExemptRule[] = DEFAULT_EXEMPT_PATHS.map(parseExemptPath);
  let tracked = 0;
  let lastDbWarning = 0;

  const onReserveError = (err: unknown): void => {
    const now = nowMs();
    if (now - lastDbWarning < 30_000) return;
    lastDbWarning = now;
    deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'rate limit counters unreachable; limiting per replica');
  };

  const sweep = (): void => {
    const now = nowMs();
    let left = 0;
    for (const q of active) {
      for (const [key, b] of q.buckets) if (idle(b, now)) q.buckets.delete(key);
      left += q.buckets.size;
    }
    // Recounted rather than adjusted: a request that raced a reload may have added to a quota no longer active.
    tracked = left;
  };

  /** Drops idle buckets, then the oldest ones; an evicted client only loses unspent local tokens (never over-admits). */
  const makeRoom = (): void => {
    sweep();
    for (const q of active) {
      for (const [key, b] of q.buckets) {
        if (tracked < maxClients) return;
        if (b.pending) continue;
        q.buckets.delete(key);
        tracked -= 1;
      }
    }
  };

  /**
   * A quota row that fails its integrity check never loosens the limit: it keeps its last checked definition on this
   * replica, or else becomes the strictest quota (1 request a minute) on its stored path. (Deleting a quota row is not
   * detected: see SECURITY.md.) A failing configuration row falls back to the last checked one, or the defaults.
   */
  const checkedRows = (rows: RateLimitQuota[], previous: Map<string, ActiveQuota>): RateLimitQuota[] =>
    rows.map((row) => {
      const def: RateLimitQuota = { name: row.name, path: row.path, rate: row.rate, intervalSeconds: row.intervalSeconds, blockIntervalSeconds: row.blockIntervalSeconds };
      if (deps.rowMac.ok('rate_limit_quotas', rateQuotaFields(def), (row as { mac?: Buffer | null }).mac ?? null, row.name)) return def;
      return previous.get(row.name)?.def ?? { name: row.name, path: row.path, rate: 1, intervalSeconds: 60, blockIntervalSeconds: 0 };
    });

  const reload = async (): Promise<void> => {
    if (deps.sealed()) return;
    const [unchecked, storedRaw] = await Promise.all([deps.store.list(), deps.store.getConfig()]);
    const previous = new Map(active.map((q) => [q.name, q]));
    const rows = checkedRows(unchecked, previous);
    const stored =
      storedRaw && !deps.rowMac.ok('quota_config', quotaConfigFields(storedRaw), storedRaw.mac ?? null, 'id=1') ? (config === DEFAULT_CONFIG ? null : config) : storedRaw;
    const next = rows.map((def) => {
      const old = previous.get(def.name);
      // An unchanged quota keeps its buckets (and the tokens they reserved).
      return old && sameDef(old.def, def) ? old : activate(def);
    });
    active = next.sort((a, b) => b.prefix.length - a.prefix.length || (a.name < b.name ? -1 : 1));
    tracked = active.reduce((n, q) => n + q.buckets.size, 0);
    config = stored ? { enableRateLimitResponseHeaders: stored.enableRateLimitResponseHeaders, rateLimitExemptPaths: stored.rateLimitExemptPaths } : DEFAULT_CONFIG;
    exempt = config.rateLimitExemptPaths.map(parseExemptPath);
  };

  /** Deletes shared counters whose window and block have ended (the scheduler's `rate-limit-counter-purge` job). */
  const purgeExpired = async (): Promise<void> => {
    const n = await deps.store.purgeExpired(windowNow());
    if (n > 0) deps.log.debug({ rows: n }, 'expired rate limit counters deleted');
  };

  const changed = async (name: string): Promise<void> => {
    await reload();
    await deps.db.notify(CHANNEL, name);
  };

  return {
    reload,
    async listenForChanges(): Promise<void> {
      // The reload's promise is returned: the notification counts as handled (the debug line replica tests wait for) once applied.
      await deps.db.listen(CHANNEL, () => reload().catch((err: Error) => deps.log.error({ err: err.message }, 'quota reload failed')));
    },

    /** No quota at all: the request path skips everything else. */
    hasQuotas: (): boolean => active.length > 0,

    /**
     * The most specific quota for the API path held in `path` from `offset` on, or null when none applies or the
     * path is exempt. Allocates nothing.
     */
    quotaFor(path: string, offset: number): ActiveQuota | null {
      for (const q of active) {
        if (!underPrefix(path, offset, q.prefix)) continue;
        if (exemptMatches(path, offset, ALWAYS)) return null;
        for (const r of exempt) if (exemptMatches(path, offset, r)) return null;
        return q;
      }
      return null;
    },

    /** Counts one request of `client` (its address) against the quota. */
    async take(q: ActiveQuota, client: string): Promise<Decision> {
      let b = q.buckets.get(client);
      if (!b) {
        if (tracked >= maxClients) makeRoom();
        b = newBucket();
        q.buckets.set(client, b);
        tracked += 1;
      }
      const d = await take(
        q,
        b,
        nowMs,
        (n) => deps.store.reserve(q.name, client, n, { intervalSeconds: q.def.intervalSeconds, limit: q.limit, blockSeconds: q.def.blockIntervalSeconds, now: windowNow() }),
        onReserveError,
      );
      if (d.firstRefusal) deps.log.info({ quota: q.name, client, retry_after: d.retryAfterSeconds }, 'rate limit quota exceeded');
      return d;
    },

    headersEnabled: (): boolean => config.enableRateLimitResponseHeaders,

    async list(): Promise<RateLimitQuota[]> {
      return deps.store.list();
    },

    async get(name: string): Promise<RateLimitQuota | null> {
      const row = (await deps.store.list()).find((q) => q.name === name);
      if (!row) return null;
      deps.rowMac.verify('rate_limit_quotas', rateQuotaFields(row), row.mac ?? null, row.name);
      return row;
    },

    /** Creates or replaces a quota (already validated). */
    async put(q: RateLimitQuota): Promise<void> {
      if (!(await deps.store.upsert({ ...q, mac: deps.rowMac.sign('rate_limit_quotas', rateQuotaFields(q)) }))) {
        const other = (await deps.store.list()).find((o) => o.path === q.path && o.name !== q.name);
        throw badRequest(`quota rule with similar properties exists under the name "${other?.name ?? '?'}"`);
      }
      await changed(q.name);
    },

    async delete(name: string): Promise<void> {
      await deps.store.delete(name);
      await changed(name);
    },

    async getConfig(): Promise<QuotaConfig> {
      const row = await deps.store.getConfig();
      if (row) deps.rowMac.verify('quota_config', quotaConfigFields(row), row.mac ?? null, 'id=1');
      return row ? { enableRateLimitResponseHeaders: row.enableRateLimitResponseHeaders, rateLimitExemptPaths: row.rateLimitExemptPaths } : { ...DEFAULT_CONFIG, rateLimitExemptPaths: [...DEFAULT_EXEMPT_PATHS] };
    },

    /** Validates and stores the configuration; the exempt paths are normalised. */
    async putConfig(c: QuotaConfig): Promise<void> {
      const paths = [...new Set(c.rateLimitExemptPaths.map((p) => formatExemptRule(parseExemptPath(p))))];
      const row = { enableRateLimitResponseHeaders: c.enableRateLimitResponseHeaders, rateLimitExemptPaths: paths };
      await deps.store.putConfig({ ...row, mac: deps.rowMac.sign('quota_config', quotaConfigFields(row)) });
      await changed('config');
    },

    /** Drops idle in-memory buckets (the scheduler's shared `rate-limit-sweep` job; also done when memory is full). */
    sweep,
    purgeExpired,
    close(): void {
      // Nothing runs on a timer here any more: the scheduler runs sweep and purgeExpired.
    },
  };
}

export type QuotaLimiter = ReturnType<typeof createQuotaLimiter>;
