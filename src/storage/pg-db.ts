import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../lib/log.ts';
import type { Db, NotifyHandler, Queryable, QueryResult } from './db.ts';
import { translatePgError } from './pg-errors.ts';
import { createSessionLocks } from './pg-session-locks.ts';
import { inTransaction } from './pg-tx.ts';

export interface PgDbOptions {
  url: string;
  maxConnections?: number;
  log: Logger;
}

const names = new Map<string, string>();
/** Every parameterised statement is prepared once per connection under a name derived from its text. */
export function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) {
    name = `sb_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`;
    names.set(sql, name);
  }
  return name;
}

function wrap(client: pg.Pool | pg.PoolClient): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await client.query({ name: statementName(sql), text: sql, values: params as unknown[] | undefined }).catch(translatePgError);
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

/** PostgreSQL through a pg.Pool, plus one dedicated connection for LISTEN that reconnects on failure. */
export function createPgDb(opts: PgDbOptions): Db {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 10,
    // Never wait forever for a connection, and never let a stuck transaction hold locks for long.
    connectionTimeoutMillis: 10_000,
    options: '-c idle_in_transaction_session_timeout=60000',
  });
  pool.on('error', (err) => opts.log.warn({ err: err.message }, 'idle database connection failed'));
  const base = wrap(pool);
  const handlers = new Map<string, NotifyHandler[]>();
  let listener: pg.Client | null = null;
  let closed = false;
  let connecting: Promise<void> | null = null;

  const connectListener = async (): Promise<void> => {
    const client = new pg.Client({ connectionString: opts.url });
    client.on('notification', (m) => {
      const done = (handlers.get(m.channel) ?? []).map((h) => h(m.payload ?? ''));
      // Once every handler has applied it (caches dropped, tables reloaded): what a test of replicas waits for.
      void Promise.allSettled(done).then(() => opts.log.debug({ channel: m.channel }, 'notification handled'));
    });
    client.on('error', (err) => {
      opts.log.warn({ err: err.message }, 'notification connection failed; reconnecting');
      listener = null;
      void client.end().catch(() => undefined);
      for (const hs of handlers.values()) for (const h of hs) h(null);
      retry(1000);
    });
    try {
      await client.connect();
      for (const ch of handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(ch)}`);
    } catch (err) {
      void client.end().catch(() => undefined);
      throw err;
    }
    listener = client;
  };
  const ensureListener = async (): Promise<void> => {
    if (listener || closed) return;
    connecting ??= connectListener().finally(() => {
      connecting = null;
    });
    await connecting;
  };
  /** Keeps trying, with backoff up to 30 s, until the LISTEN connection is back; then caches are flushed. */
  const retry = (delayMs: number): void => {
    if (closed) return;
    setTimeout(() => {
      ensureListener().then(
        () => {
          for (const hs of handlers.values()) for (const h of hs) h(null);
        },
        (err: Error) => {
          opts.log.warn({ err: err.message }, 'notification connection still down');
          retry(Math.min(delayMs * 2, 30_000));
        },
      );
    }, delayMs).unref();
  };

  const sessionLocks = createSessionLocks({
    log: opts.log,
    connect: async () => {
      const client = new pg.Client({ connectionString: opts.url });
      await client.connect();
      return client;
    },
  });

  return {
    kind: 'postgres',
    query: base.query,
    exec: base.exec,
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      // pg-pool drops its error listener while a client is checked out: a connection the server ends meanwhile
      // (idle-in-transaction timeout, failover) would otherwise be an uncaught exception that kills the broker.
      const onError = (err: Error): void => opts.log.warn({ err: err.message }, 'database connection failed inside a transaction');
      client.on('error', onError);
      return inTransaction(client, wrap(client), fn, (broken) => {
        client.off('error', onError);
        client.release(broken as Error | undefined);
      });
    },
    async listen(channel: string, handler: NotifyHandler): Promise<void> {
      const list = handlers.get(channel);
      if (list) {
        list.push(handler);
        return;
      }
      handlers.set(channel, [handler]);
      if (listener) await listener.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      else await ensureListener();
    },
    async notify(channel: string, payload: string): Promise<void> {
      await pool.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    holdSessionLock: (classId: number, key: number): Promise<void> => sessionLocks.hold(classId, key),
    notifying: () => !closed && listener !== null,
    async close(): Promise<void> {
      closed = true;
      await listener?.end().catch(() => undefined);
      await sessionLocks.close();
      await pool.end();
    },
  };
}
