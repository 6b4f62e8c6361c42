/**
 * One bounded pg.Pool per connection config. Pools are rebuilt when the stored config's version changes (a write
 * here, or on another replica: rotate-root elsewhere changes the password). A target that cannot be reached opens a
 * short circuit breaker, so that requests fail at once with a 503 instead of each waiting for a timeout.
 */
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import pg from 'pg';
import type { TargetPoolStats } from '../../core/engine.ts';
import { AppError } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { buildConnectionString, describeTarget } from './connection-url.ts';
import { effectiveMaxIdle, type DbConfig } from './model.ts';
import { classify, connectFailure, unavailable } from './target-errors.ts';

export const CONNECT_TIMEOUT_MS = 4000;
/**
 * How long a request may wait for a free pooled connection when all max_open_connections are busy. Longer than a
 * TCP connect: a burst of requests is normal load, not a sign that the target is down, so it never opens the breaker.
 */
export const POOL_WAIT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 10_000;
const QUERY_TIMEOUT_MS = 15_000;
const IDLE_TIMEOUT_MS = 30_000;
/** How long a failed connect short-circuits later requests for the same config. */
export const BREAKER_MS = 2000;
/** pg-pool's message when no pooled connection became free within connectionTimeoutMillis. */
const POOL_WAIT_TIMEOUT = 'timeout exceeded when trying to connect';

type ConnectSettings = Pick<DbConfig, 'connectionUrl' | 'username' | 'maxOpenConnections' | 'maxIdleConnections' | 'maxConnectionLifetime'>;

function clientConfig(cfg: Pick<DbConfig, 'connectionUrl' | 'username'>, password: string): pg.ClientConfig {
  return {
    connectionString: buildConnectionString(cfg.connectionUrl, cfg.username, password),
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: 'sealbox',
    keepAlive: true,
  };
}

/**
 * pg-pool uses its connectionTimeoutMillis both for the wait for a free slot and (passed on to each new client)
 * for the TCP connect and login. The pool gets POOL_WAIT_MS; this client class keeps the connect at CONNECT_TIMEOUT_MS.
 */
class TargetClient extends pg.Client {
  constructor(config?: pg.ClientConfig) {
    super({ ...config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  }
}

function poolConfig(cfg: ConnectSettings, password: string): pg.PoolConfig {
  return {
    ...clientConfig(cfg, password),
    Client: TargetClient,
    connectionTimeoutMillis: POOL_WAIT_MS,
    max: cfg.maxOpenConnections,
    idleTimeoutMillis: effectiveMaxIdle(cfg) > 0 ? IDLE_TIMEOUT_MS : 1,
    maxLifetimeSeconds: cfg.maxConnectionLifetime,
  };
}

/** Connects once with the given settings and runs SELECT 1; resolves with an error message, or null when it worked. */
export async function checkConnection(cfg: Pick<DbConfig, 'connectionUrl' | 'username' | 'password'>): Promise<string | null> {
  let client: pg.Client | null = null;
  try {
    // Inside the try: parsing the connection string can throw (a parameter pg does not accept).
    client = new pg.Client(clientConfig(cfg, cfg.password));
    client.on('error', () => {});
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return connectFailure(err, describeTarget(cfg.connectionUrl), CONNECT_TIMEOUT_MS / 1000);
  } finally {
    await client?.end().catch(() => {});
  }
}

interface PoolEntry {
  version: string;
  /** Whether this pool logs in with the config's pendingPassword (an interrupted rotate-root). */
  pending: boolean;
  pool: pg.Pool;
}

export interface TargetPools {
  /**
   * Runs fn on a pooled connection to the config's target. Throws a 503 AppError when it cannot connect. On an
   * authentication failure it asks `reload` for the stored config and retries once if that changed.
   */
  withClient<T>(cfg: DbConfig, fn: (c: pg.PoolClient) => Promise<T>, reload?: () => Promise<DbConfig | null>): Promise<T>;
  /** Ends the config's pool (after a write or delete of the config, a reset, a rotation). */
  evict(name: string): void;
  closeAll(): Promise<void>;
  /** Size and saturation of each open pool (sys/metrics). */
  stats(): TargetPoolStats[];
}

export function createTargetPools(deps: { log: Logger; clock: Clock }): TargetPools {
  const pools = new Map<string, PoolEntry>();
  const breakers = new Map<string, { version: string; until: number; reason: string }>();
  const now = (): number => deps.clock.now().getTime();

  const end = (entry: PoolEntry): void => {
    void entry.pool.end().catch(() => {});
  };

  const poolFor = (cfg: DbConfig, pending: boolean): PoolEntry => {
    const existing = pools.get(cfg.name);
    if (existing && existing.version === cfg.version && (existing.pending === pending || !pending)) return existing;
    if (existing) end(existing);
    const password = pending && cfg.pendingPassword !== undefined ? cfg.pendingPassword : cfg.password;
    const pool = new pg.Pool(poolConfig(cfg, password));
    const log = deps.log;
    pool.on('error', (err) => {
      log.warn({ config: cfg.name, failure: classify(err) }, 'database connection error');
    });
    const entry: PoolEntry = { version: cfg.version, pending, pool };
    pools.set(cfg.name, entry);
    return entry;
  };

  const connect = async (cfg: DbConfig, reload?: () => Promise<DbConfig | null>): Promise<pg.PoolClient> => {
    const breaker = breakers.get(cfg.name);
    if (breaker && breaker.version === cfg.version && now() < breaker.until) throw unavailable(cfg.name, breaker.reason);
    let entry = poolFor(cfg, pools.get(cfg.name)?.pending === true && pools.get(cfg.name)?.version === cfg.version);
    try {
      return await entry.pool.connect();
    } catch (err) {
      // Every connection is busy: load, not an outage. Never opens the breaker (it would fail mints and revokes).
      if (err instanceof Error && err.message === POOL_WAIT_TIMEOUT) {
        throw new AppError(
          'unavailable',
          `database "${cfg.name}" is busy: all ${entry.pool.options.max} connections (max_open_connections) stayed in use for ${POOL_WAIT_MS / 1000} s`,
          [],
          { retryAfterSeconds: 1 },
        );
      }
      const failure = classify(err);
      const target = describeTarget(cfg.connectionUrl);
      if (failure === 'auth') {
        const fresh = reload ? await reload() : null;
        if (fresh && fresh.version !== cfg.version) return connect(fresh);
        if (cfg.pendingPassword !== undefined && !entry.pending) {
          entry = poolFor(cfg, true);
          deps.log.warn({ config: cfg.name }, 'database refused the broker password; trying the one an interrupted rotate-root left');
          try {
            return await entry.pool.connect();
          } catch (again) {
            throw unavailable(cfg.name, connectFailure(again, target, CONNECT_TIMEOUT_MS / 1000));
          }
        }
      }
      const reason = connectFailure(err, target, CONNECT_TIMEOUT_MS / 1000);
      if (failure === 'unreachable' || failure === 'timeout' || failure === 'connection') {
        breakers.set(cfg.name, { version: cfg.version, until: now() + BREAKER_MS, reason });
      }
      throw unavailable(cfg.name, reason);
    }
  };

  const withClient = async <T>(cfg: DbConfig, fn: (c: pg.PoolClient) => Promise<T>, reload?: () => Promise<DbConfig | null>): Promise<T> => {
    const client = await connect(cfg, reload);
    breakers.delete(cfg.name);
    // pg-pool takes its own error listener off a checked-out client. Without one, a connection that drops while
    // a query runs (a network cut, the server restarting) emits 'error' with no listener: an uncaught exception
    // that would kill the broker. The query itself rejects as well, so the request still fails (503).
    let lost = false;
    const onError = (err: Error): void => {
      lost = true;
      deps.log.warn({ config: cfg.name, failure: classify(err) }, 'database connection lost while in use');
    };
    client.on('error', onError);
    const release = (destroy: boolean): void => {
      client.removeListener('error', onError);
      client.release(destroy ? true : undefined);
    };
    let result: T;
    try {
      result = await fn(client);
    } catch (err) {
      // A broken connection must not go back to the pool; one that only ran a refused statement may.
      const broken = lost || (err instanceof AppError ? err.code === 'unavailable' : classify(err) !== 'sql');
      release(broken);
      throw err;
    }
    release(lost);
    return result;
  };

  return {
    withClient<T>(cfg: DbConfig, fn: (c: pg.PoolClient) => Promise<T>, reload?: () => Promise<DbConfig | null>): Promise<T> {
      // Traced only inside a live request span (tracing on): with tracing off the API has no context and this is one lookup.
      if (!trace.getActiveSpan()?.isRecording()) return withClient(cfg, fn, reload);
      const attributes = { 'db.system.name': 'postgresql', 'sealbox.db.config': cfg.name, 'sealbox.db.target': describeTarget(cfg.connectionUrl) };
      return trace.getTracer('sealbox').startActiveSpan('target-db', { kind: SpanKind.CLIENT, attributes }, async (span) => {
        try {
          return await withClient(cfg, fn, reload);
        } catch (err) {
          // The code only (AppError code or SQLSTATE): messages can quote statements.
          const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
          span.setAttribute('error.type', typeof code === 'string' ? code.slice(0, 64) : err instanceof Error ? err.name : 'error');
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw err;
        } finally {
          span.end();
        }
      });
    },
    evict(name) {
      const entry = pools.get(name);
      pools.delete(name);
      breakers.delete(name);
      if (entry) end(entry);
    },
    stats() {
      return [...pools].map(([config, { pool }]) => ({
        config,
        total: pool.totalCount,
        idle: pool.idleCount,
        waiting: pool.waitingCount,
        max: pool.options.max,
      }));
    },
    async closeAll() {
      const entries = [...pools.values()];
      pools.clear();
      breakers.clear();
      await Promise.all(entries.map((e) => e.pool.end().catch(() => {})));
    },
  };
}
