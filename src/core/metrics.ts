/**
 * Prometheus metrics (issue 9). Every metric lives in a registry that app.ts creates and passes in (never prom-client's
 * global default registry), so that several brokers in one process do not share counters. Labels are bounded: a mount
 * path ("secret/"), an operation, a status code, a database config name; never a full path, a token or a lease id.
 * Counts that live in PostgreSQL (leases) and state held elsewhere (seal, keyring, pools) are read at scrape time.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { Logger } from '../lib/log.ts';
import type { TargetPoolStats } from './engine.ts';

/** Leases of one mount in one state, and how many of the active ones expire before the horizon. */
export interface LeaseCount {
  mountId: string;
  state: string;
  count: number;
  expiringSoon: number;
}

export interface MetricsSources {
  /** One grouped query over the leases table (no lease is loaded). */
  leaseCounts(horizon: Date): Promise<LeaseCount[]>;
  /** A stored mount's path ("database/"), or null once it is gone. */
  mountPath(mountId: string): string | null;
  sealed(): boolean;
  /** The newest keyring term, or null while sealed. */
  keyringTerm(): number | null;
  /** Lines the audit file sink dropped so far (absent: no sink). */
  auditSinkDropped?(): number;
  /** Connection pools of the mounted engines that report any (database targets). */
  pools(): { mount: string; pools: readonly TargetPoolStats[] }[];
  /** The entry cache's counters (issue 18). */
  entryCache?(): { hits: number; misses: number; invalidations: number; flushes: number; entries: number; bytes: number };
  now(): Date;
}

export interface MetricsDeps {
  registry: Registry;
  sources: MetricsSources;
  log: Logger;
  version: string;
}

/** Active leases that expire within this many seconds count as "expiring soon". */
export const EXPIRING_SOON_SECONDS = 3600;
/** Label value for a request that did not reach a mount (bad path, unknown mount, refused before routing). */
export const NO_MOUNT = 'none';
const MAX_REQUEST_SERIES = 10_000;

type Observe = (seconds: number) => void;

export function createMetrics(deps: MetricsDeps) {
  const { registry: reg, sources, log } = deps;
  const registers = [reg];
  collectDefaultMetrics({ register: reg });

  const scrapeErrors = new Counter({
    name: 'sealbox_metrics_collect_errors_total',
    help: 'Collectors that failed during a scrape (their metrics were left empty).',
    labelNames: ['collector'],
    registers,
  });
  const guard = async (collector: string, fn: () => Promise<void> | void): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      scrapeErrors.inc({ collector });
      log.warn({ collector, err: err instanceof Error ? err.message : String(err) }, 'metrics collector failed');
    }
  };

  new Gauge({ name: 'sealbox_build_info', help: 'Always 1; the version is a label.', labelNames: ['version'], registers }).set({ version: deps.version }, 1);

  const requests = new Histogram({
    name: 'sealbox_request_duration_seconds',
    help: 'API requests by mount path, operation and HTTP status: latency in seconds (the _count series counts requests).',
    labelNames: ['mount', 'operation', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers,
  });
  // prom-client hashes the label object on every observe; a bound child per label combination skips that.
  const children = new Map<string, Observe>();

  const auditBatch = new Histogram({
    name: 'sealbox_audit_batch_size',
    help: 'Entries per committed audit batch (group commit).',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
    registers,
  });
  const auditLatency = new Histogram({
    name: 'sealbox_audit_append_duration_seconds',
    help: 'Time to commit one audit batch to PostgreSQL, in seconds.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const auditFailures = new Counter({
    name: 'sealbox_audit_append_failures_total',
    help: 'Audit entries whose batch failed to commit (their requests were refused: fail closed).',
    registers,
  });
  new Counter({
    name: 'sealbox_audit_sink_dropped_total',
    help: 'Audit lines the file sink dropped because it fell behind (PostgreSQL still has them).',
    registers,
    collect() {
      const read = sources.auditSinkDropped;
      if (!read) return;
      this.reset();
      this.inc(read());
    },
  });

  const cacheFigure = (name: string, help: string, pick: (s: NonNullable<ReturnType<NonNullable<MetricsSources['entryCache']>>>) => number, kind: 'counter' | 'gauge'): void => {
    const read = sources.entryCache;
    if (!read) return;
    const spec = {
      name,
      help,
      registers,
      collect(this: Counter | Gauge) {
        this.reset();
        this.inc(pick(read()));
      },
    };
    if (kind === 'counter') new Counter(spec);
    else new Gauge(spec);
  };
  cacheFigure('sealbox_entry_cache_hits_total', 'Entry reads answered from the sealed-record cache (then opened as a storage read is).', (s) => s.hits, 'counter');
  cacheFigure('sealbox_entry_cache_misses_total', 'Entry reads the cache could not answer (they went to storage).', (s) => s.misses, 'counter');
  cacheFigure('sealbox_entry_cache_invalidations_total', 'Cached keys or mounts dropped by a write here or a notification from any replica.', (s) => s.invalidations, 'counter');
  cacheFigure('sealbox_entry_cache_flushes_total', 'Times the whole entry cache was dropped (notification link lost, stale or restored; keyring rewrap).', (s) => s.flushes, 'counter');
  cacheFigure('sealbox_entry_cache_entries', 'Sealed records held by the entry cache.', (s) => s.entries, 'gauge');
  cacheFigure('sealbox_entry_cache_bytes', 'Bytes of sealed records held by the entry cache.', (s) => s.bytes, 'gauge');

  new Gauge({
    name: 'sealbox_sealed',
    help: '1 while this broker is sealed, 0 when it is unsealed.',
    registers,
    collect() {
      this.set(sources.sealed() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'sealbox_keyring_term',
    help: 'The newest keyring term (sys/rotate adds one); absent while sealed.',
    registers,
    collect() {
      this.reset();
      return guard('keyring', () => {
        const term = sources.keyringTerm();
        if (term !== null) this.set(term);
      });
    },
  });

  // Both lease gauges come from one query: prom-client collects all metrics of a scrape at once, so the second
  // collect finds the first one's query in flight and shares it.
  let leaseQuery: Promise<void> | null = null;
  const collectLeases = (): Promise<void> =>
    (leaseQuery ??= guard('leases', async () => {
      leases.reset();
      expiring.reset();
      const rows = await sources.leaseCounts(new Date(sources.now().getTime() + EXPIRING_SOON_SECONDS * 1000));
      for (const r of rows) {
        const mount = sources.mountPath(r.mountId) ?? 'unknown';
        leases.inc({ mount, state: r.state }, r.count);
        if (r.state === 'active') expiring.inc({ mount }, r.expiringSoon);
      }
    }).finally(() => {
      leaseQuery = null;
    }));
  const leases = new Gauge({
    name: 'sealbox_leases',
    help: 'Leases by mount path and state (active, revoking, irrevocable).',
    labelNames: ['mount', 'state'],
    registers,
    collect: collectLeases,
  });
  const expiring = new Gauge({
    name: 'sealbox_leases_expiring_soon',
    help: `Active leases by mount path that expire within ${EXPIRING_SOON_SECONDS / 3600} hour.`,
    labelNames: ['mount'],
    registers,
    collect: collectLeases,
  });

  /** `pick` returns null for a config it has nothing to say about (a pool gauge for a config with no open pool). */
  const poolGauge = (name: string, help: string, pick: (p: TargetPoolStats) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['mount', 'config'],
      registers,
      collect() {
        this.reset();
        return guard('pools', () => {
          for (const m of sources.pools()) {
            for (const p of m.pools) {
              const v = pick(p);
              if (v !== null) this.set({ mount: m.mount, config: p.config }, v);
            }
          }
        });
      },
    });
  poolGauge('sealbox_database_pool_connections', 'Open connections to a database target, by mount path and config name.', (p) => (p.noPool ? null : p.total));
  poolGauge('sealbox_database_pool_idle_connections', 'Idle connections to a database target.', (p) => (p.noPool ? null : p.idle));
  poolGauge('sealbox_database_pool_waiting_requests', 'Requests waiting for a connection to a database target (saturation).', (p) => (p.noPool ? null : p.waiting));
  poolGauge('sealbox_database_pool_max_connections', 'The pool size limit of a database target (max_open_connections).', (p) => (p.noPool ? null : p.max));
  poolGauge('sealbox_database_live_users', 'Live users of a database config with limits (max_credentials), as this replica last counted them.', (p) => p.liveUsers ?? 0);
  poolGauge('sealbox_database_creations_refused', 'Creations this replica refused over a database config limit (429), since start.', (p) => p.creationsRefused ?? 0);

  const rotationRuns = new Counter({
    name: 'sealbox_rotation_runs_total',
    help: 'Finished rotation runs by target kind (static-roles, root, rotate, keyring, …) and result (ok, failed).',
    labelNames: ['kind', 'result'],
    registers,
  });

  return {
    registry: reg,
    /** One rotation run ended; `kind` is the rotation's kind, a small fixed set per engine. */
    observeRotation(kind: string, result: 'ok' | 'failed'): void {
      rotationRuns.inc({ kind: kind.slice(0, 40), result });
    },
    /** One finished API request; `mount` is the mount path ("secret/") or NO_MOUNT, never the request path. */
    observeRequest(mount: string, operation: string, status: number, seconds: number): void {
      const key = `${mount}\u0000${operation}\u0000${status}`;
      let child = children.get(key);
      if (!child) {
        if (children.size >= MAX_REQUEST_SERIES) return;
        const bound = requests.labels({ mount, operation, status: String(status) });
        child = (s) => bound.observe(s);
        children.set(key, child);
      }
      child(seconds);
    },
    /** One audit batch: committed (size and latency), or failed (its entries' requests were refused). */
    observeAuditBatch(entries: number, seconds: number, committed: boolean): void {
      if (!committed) {
        auditFailures.inc(entries);
        return;
      }
      auditBatch.observe(entries);
      auditLatency.observe(seconds);
    },
    /** The Prometheus text exposition (format 0.0.4). */
    text: (): Promise<string> => reg.metrics(),
    contentType: reg.contentType,
    json: () => reg.getMetricsAsJSON(),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
