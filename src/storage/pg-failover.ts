/**
 * PostgreSQL that follows its primary (issue 21, DESIGN §8). The database URL may name several hosts (pg-hosts.ts);
 * the pool is made on the first writable one, and every connection is checked once to be out of recovery. A connection
 * error, or a write refused because the server became a standby, answers that request with a 503 (`unavailable`)
 * and makes the next request look for the primary again; the new primary gets a new pool and a new LISTEN
 * connection, and every cache is flushed, since notifications sent in the gap are lost.
 *
 * Fail closed: the LISTEN connection is what keeps caches of tokens, policies and mounts current, so it is
 * confirmed by a heartbeat. While it has not answered within `stalenessMs`, every statement is refused with a 503
 * (the audit append too, so no request can get a 200 on what this broker cached) and `available()` is false
 * (sys/health says 503 and a load balancer drains the broker). Caches are flushed when the link goes stale and
 * again when it is back, so a token revoked meanwhile elsewhere is refused as soon as this broker can check.
 */
import pg from 'pg';
import { AppError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Db, NotifyHandler, Queryable, QueryResult } from './db.ts';
import { isConnectionError } from './pg-conn-errors.ts';
import { translatePgError } from './pg-errors.ts';
import { parsePgTarget, type PgEndpoint } from './pg-hosts.ts';
import { statementName } from './pg-db.ts';
import { createSessionLocks } from './pg-session-locks.ts';
import { inTransaction } from './pg-tx.ts';

export interface FailoverPgDbOptions {
  /** One URL, a multi-host URL, or a whitespace-separated list of URLs. */
  url: string;
  maxConnections?: number;
  log: Logger;
  /** How long cached state may go unconfirmed by PostgreSQL before the broker refuses to serve (default 10 s). */
  stalenessMs?: number;
  /** Connecting (and probing a host) gives up after this long (default 5 s). */
  connectTimeoutMs?: number;
  /** A statement without an answer after this long fails, and its connection is dropped (default 30 s). */
  queryTimeoutMs?: number;
  /** Monotonic milliseconds (performance.now by default). */
  now?: () => number;
}

export interface FailoverDb extends Db {
  /** False while the broker cannot confirm its state with the primary (sys/health answers 503). */
  available(): boolean;
  /** `host:port` of the server in use, or null while none is. */
  primary(): string | null;
}

interface Current {
  endpoint: PgEndpoint;
  pool: pg.Pool;
  /** Connections already seen out of recovery. */
  checked: WeakSet<pg.PoolClient>;
}

const unavailable = (message: string): AppError => new AppError('unavailable', message);
const STORAGE_DOWN = 'storage is unavailable (the database connection failed or the primary changed); retry';
const STALE = 'storage is unreachable: this broker cannot confirm its cached state with PostgreSQL; retry';

export function createFailoverPgDb(opts: FailoverPgDbOptions): FailoverDb {
  const target = parsePgTarget(opts.url);
  const { log } = opts;
  const staleness = opts.stalenessMs ?? 10_000;
  const connectTimeout = opts.connectTimeoutMs ?? 5000;
  const queryTimeout = opts.queryTimeoutMs ?? 30_000;
  const heartbeatMs = Math.max(50, Math.floor(staleness / 5));
  const now = opts.now ?? (() => performance.now());
  const labels = target.endpoints.map((e) => e.label).join(', ');

  let closed = false;
  let current: Current | null = null;
  let resolving: Promise<Current> | null = null;
  let lastResolveFailure = -Infinity;

  const clientConfig = (ep: PgEndpoint): pg.ClientConfig => ({
    connectionString: ep.connectionString,
    connectionTimeoutMillis: connectTimeout,
    keepAlive: true,
    query_timeout: queryTimeout,
  });

  /** True if the host answers and (read-write) is not in recovery. */
  const probe = async (ep: PgEndpoint): Promise<boolean> => {
    const c = new pg.Client({ ...clientConfig(ep), query_timeout: connectTimeout });
    c.on('error', () => undefined);
    try {
      await c.connect();
      const r = await c.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return !(target.readWrite && r.rows[0]?.r === true);
    } catch (err) {
      log.debug({ host: ep.label, err: err instanceof Error ? err.message : String(err) }, 'database host not usable');
      return false;
    } finally {
      void c.end().catch(() => undefined);
    }
  };

  const retire = (cur: Current): void => {
    void cur.pool.end().catch(() => undefined);
  };

  /** A connection to `cur` failed: the next statement looks for the primary again. */
  const suspect = (cur: Current, err: unknown): void => {
    if (current !== cur) return;
    current = null;
    retire(cur);
    log.warn({ host: cur.endpoint.label, err: err instanceof Error ? err.message : String(err) }, 'database connection failed; looking for the primary again');
    if (listener && listener.endpoint === cur.endpoint) dropListener(listener.client, 'the primary is being looked up again');
  };

  const resolvePrimary = (): Promise<Current> => {
    if (current) return Promise.resolve(current);
    // Every host just refused: answer at once rather than probe again for each request.
    if (now() - lastResolveFailure < 200) return Promise.reject(unavailable(STORAGE_DOWN));
    resolving ??= (async () => {
      const usable = await Promise.all(target.endpoints.map(probe));
      const ep = target.endpoints[usable.indexOf(true)];
      if (!ep) {
        lastResolveFailure = now();
        log.warn({ hosts: labels, readWrite: target.readWrite }, 'no usable PostgreSQL server');
        throw unavailable(STORAGE_DOWN);
      }
      if (closed) throw unavailable('storage is closed');
      const pool = new pg.Pool({ ...clientConfig(ep), max: opts.maxConnections ?? 10, connectionTimeoutMillis: Math.max(connectTimeout, 10_000), options: '-c idle_in_transaction_session_timeout=60000' });
      pool.on('error', (err) => log.warn({ host: ep.label, err: err.message }, 'idle database connection failed'));
      if (previous && previous !== ep) log.warn({ from: previous.label, to: ep.label }, 'database primary changed');
      else if (!previous) log.info({ primary: ep.label }, 'database primary found');
      previous = ep;
      current = { endpoint: ep, pool, checked: new WeakSet() };
      return current;
    })().finally(() => {
      resolving = null;
    });
    return resolving;
  };
  let previous: PgEndpoint | null = null;

  // Session locks (rotation claims tied to this process): on the current primary, taken again after a failover.
  const sessionLocks = createSessionLocks({
    log,
    connect: async () => {
      const client = new pg.Client(clientConfig((await resolvePrimary()).endpoint));
      await client.connect();
      return client;
    },
  });

  // ------------------------------------------------------------------ statements

  const gate = (): void => {
    if (closed) throw unavailable('storage is closed');
    if (!fresh()) throw unavailable(STALE);
  };

  /** A connection of the current pool, checked once to be on a writable server. */
  const checkout = async (): Promise<{ cur: Current; client: pg.PoolClient; done: (err?: unknown) => void }> => {
    gate();
    const cur = await resolvePrimary();
    let client: pg.PoolClient;
    try {
      client = await cur.pool.connect();
    } catch (err) {
      suspect(cur, err);
      throw unavailable(STORAGE_DOWN);
    }
    // pg-pool drops its error listener while a client is checked out: a server that goes away meanwhile would
    // otherwise be an uncaught exception that kills the broker.
    const onError = (err: Error): void => log.warn({ err: err.message }, 'database connection failed while in use');
    client.on('error', onError);
    const done = (err?: unknown): void => {
      client.off('error', onError);
      client.release(err instanceof Error ? err : err === undefined ? undefined : true);
    };
    if (target.readWrite && !cur.checked.has(client)) {
      try {
        const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
        if (r.rows[0]?.r === true) throw Object.assign(new Error('the server is in recovery (a standby)'), { code: '25006' });
        cur.checked.add(client);
      } catch (err) {
        done(err instanceof Error ? err : true);
        suspect(cur, err);
        throw unavailable(STORAGE_DOWN);
      }
    }
    return { cur, client, done };
  };

  /** Connection failures become 503s (and a new search for the primary); data errors the caller's 400s. */
  const failed = (cur: Current, err: unknown): never => {
    if (err instanceof AppError) throw err;
    if (isConnectionError(err)) {
      suspect(cur, err);
      throw unavailable(STORAGE_DOWN);
    }
    return translatePgError(err);
  };

  const on = (cur: Current, client: pg.PoolClient): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await client.query({ name: statementName(sql), text: sql, values: params as unknown[] | undefined }).catch((err: unknown) => failed(cur, err));
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql).catch((err: unknown) => failed(cur, err));
    },
  });

  const once = async <T>(fn: (q: Queryable) => Promise<T>): Promise<T> => {
    const { cur, client, done } = await checkout();
    try {
      const out = await fn(on(cur, client));
      done();
      return out;
    } catch (err) {
      done(isConnectionError(err) || (err instanceof AppError && err.code === 'unavailable') ? err : undefined);
      throw err;
    }
  };

  // ------------------------------------------------------------------ LISTEN, heartbeat, staleness

  const handlers = new Map<string, NotifyHandler[]>();
  let listener: { client: pg.Client; endpoint: PgEndpoint } | null = null;
  let connecting: Promise<void> | null = null;
  let confirmedAt = -Infinity;
  let staleFlushed = false;
  let heartbeat: { client: pg.Client; sentAt: number } | null = null;
  let reconnectTimer: NodeJS.Timeout | null = null;
  let reconnectDelay = 100;

  /**
   * Time while this process could not run its timers (a stalled event loop: CPU starvation, a long GC) does not count
   * against the link: nothing was served meanwhile either, and a stall must not read as a partition.
   */
  let lastTickAt = now();
  const effectiveNow = (): number => Math.min(now(), lastTickAt + 2 * heartbeatMs);

  function fresh(): boolean {
    return handlers.size === 0 || (listener !== null && effectiveNow() - confirmedAt <= staleness);
  }

  const flush = (): void => {
    for (const hs of handlers.values()) for (const h of hs) h(null);
  };

  function dropListener(client: pg.Client, why: string): void {
    if (listener?.client !== client) return;
    listener = null;
    heartbeat = null;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    void client.end().catch(() => undefined);
    log.warn({ reason: why }, 'notification connection lost; caches flushed, reconnecting');
    flush();
    if (current && !closed) {
      // The pool's connections went where the listener went: start again from a fresh search.
      const cur = current;
      current = null;
      retire(cur);
    }
    scheduleReconnect();
  }

  const connectListener = async (): Promise<void> => {
    const cur = await resolvePrimary();
    const client = new pg.Client({ ...clientConfig(cur.endpoint), query_timeout: staleness });
    client.on('notification', (m) => {
      const done = (handlers.get(m.channel) ?? []).map((h) => h(m.payload ?? ''));
      // Once every handler has applied it (caches dropped, tables reloaded): what a test of replicas waits for.
      void Promise.allSettled(done).then(() => log.debug({ channel: m.channel }, 'notification handled'));
    });
    client.on('error', (err) => dropListener(client, err.message));
    client.on('end', () => dropListener(client, 'connection ended'));
    try {
      await client.connect();
      const r = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      if (target.readWrite && r.rows[0]?.r === true) throw Object.assign(new Error('the server is in recovery (a standby)'), { code: '25006' });
      // Named apart from the pool's connections in pg_stat_activity: the one that keeps this broker's caches current.
      await client.query("SELECT set_config('application_name', left(current_setting('application_name') || ' (listen)', 63), false)");
      for (const ch of handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(ch)}`);
    } catch (err) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      void client.end().catch(() => undefined);
      suspect(cur, err);
      throw err;
    }
    const reconnect = confirmedAt !== -Infinity;
    listener = { client, endpoint: cur.endpoint };
    reconnectDelay = 100;
    staleFlushed = false;
    // LISTEN is in place: from here nothing is missed. What was cached before may be stale, so it all goes.
    confirmedAt = now();
    if (reconnect) {
      log.info({ primary: cur.endpoint.label }, 'notification connection restored; caches flushed');
      flush();
    }
  };

  const ensureListener = (): Promise<void> => {
    if (listener || closed) return Promise.resolve();
    connecting ??= connectListener().finally(() => {
      connecting = null;
    });
    return connecting;
  };

  function scheduleReconnect(): void {
    if (closed || reconnectTimer || listener || handlers.size === 0) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      ensureListener().catch((err: unknown) => {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'notification connection still down');
        reconnectDelay = Math.min(reconnectDelay * 2, 2000);
        scheduleReconnect();
      });
    }, reconnectDelay);
    reconnectTimer.unref();
  }

  const tick = (): void => {
    const t = now();
    const frozen = t - lastTickAt - 2 * heartbeatMs;
    lastTickAt = t;
    if (frozen > 0) {
      confirmedAt += frozen;
      if (heartbeat) heartbeat.sentAt += frozen;
    }
    if (closed || handlers.size === 0) return;
    if (!fresh() && !staleFlushed) {
      // Stale: nothing cached may answer a request now (and every statement is refused until the link is back).
      staleFlushed = true;
      log.warn({ stalenessMs: staleness }, 'database not confirmed within the staleness bound; refusing requests and flushing caches');
      flush();
    }
    if (!listener) return scheduleReconnect();
    if (heartbeat) {
      if (now() - heartbeat.sentAt > staleness) dropListener(heartbeat.client, 'heartbeat unanswered');
      return;
    }
    const hb = { client: listener.client, sentAt: now() };
    heartbeat = hb;
    hb.client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').then(
      (r) => {
        if (heartbeat !== hb) return;
        heartbeat = null;
        if (target.readWrite && r.rows[0]?.r === true) return dropListener(hb.client, 'the server is in recovery (a standby)');
        // Notifications sent before the heartbeat was sent have arrived before its answer (one connection, in order).
        confirmedAt = hb.sentAt;
        staleFlushed = false;
      },
      (err: unknown) => {
        if (heartbeat === hb) dropListener(hb.client, err instanceof Error ? err.message : String(err));
      },
    );
  };
  const timer = setInterval(tick, heartbeatMs);
  timer.unref();

  return {
    kind: 'postgres',
    available: () => !closed && fresh(),
    // The LISTEN connection is up and was confirmed within the staleness bound: what was cached is current.
    notifying: () => !closed && listener !== null && fresh(),
    primary: () => current?.endpoint.label ?? null,
    holdSessionLock: (classId: number, key: number): Promise<void> => sessionLocks.hold(classId, key),
    query: <R>(sql: string, params?: readonly unknown[]) => once((q) => q.query<R>(sql, params)),
    exec: (sql: string) => once((q) => q.exec(sql)),
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      const { cur, client, done } = await checkout();
      return inTransaction(client, on(cur, client), fn, done);
    },
    async listen(channel: string, handler: NotifyHandler): Promise<void> {
      const list = handlers.get(channel);
      if (list) {
        list.push(handler);
        return;
      }
      handlers.set(channel, [handler]);
      if (listener) await listener.client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      else await ensureListener();
    },
    async notify(channel: string, payload: string): Promise<void> {
      await once((q) => q.query('SELECT pg_notify($1, $2)', [channel, payload]));
    },
    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      if (reconnectTimer) clearTimeout(reconnectTimer);
      const l = listener;
      listener = null;
      if (l) {
        l.client.removeAllListeners('end');
        await l.client.end().catch(() => undefined);
      }
      await sessionLocks.close();
      const cur = current;
      current = null;
      if (cur) await cur.pool.end().catch(() => undefined);
    },
  };
}
