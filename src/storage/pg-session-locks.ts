/**
 * Session-level advisory locks held for this process's whole life (rotation claims, issue 20): one connection holds
 * them, so they end when the process dies. A failed connection (a restart, a failover) is replaced and every lock is
 * taken again; `connect` decides where (the one server, or the current primary).
 */
import type pg from 'pg';
import type { Logger } from '../lib/log.ts';

export interface SessionLocks {
  hold(classId: number, key: number): Promise<void>;
  close(): Promise<void>;
}

export function createSessionLocks(deps: { connect: () => Promise<pg.Client>; log: Logger }): SessionLocks {
  const held: [number, number][] = [];
  let closed = false;
  let client: Promise<pg.Client> | null = null;
  const connection = (): Promise<pg.Client> => {
    client ??= (async () => {
      const c = await deps.connect();
      c.on('error', (err) => {
        deps.log.warn({ err: err.message }, 'session-lock connection failed; taking the locks again');
        client = null;
        void c.end().catch(() => undefined);
        if (!closed) setTimeout(() => void relock(), 1000).unref();
      });
      return c;
    })().catch((err: unknown) => {
      client = null;
      throw err;
    });
    return client;
  };
  const relock = async (): Promise<void> => {
    try {
      const c = await connection();
      for (const [a, b] of held) await c.query('SELECT pg_advisory_lock($1::int, $2::int)', [a, b]);
    } catch (err) {
      deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not take the session locks again; retrying');
      if (!closed) setTimeout(() => void relock(), 2000).unref();
    }
  };
  return {
    async hold(classId: number, key: number): Promise<void> {
      // Once in the list however often it is asked for (a caller tries again after a failed first take).
      if (!held.some(([a, b]) => a === classId && b === key)) held.push([classId, key]);
      const c = await connection();
      await c.query('SELECT pg_advisory_lock($1::int, $2::int)', [classId, key]);
    },
    async close(): Promise<void> {
      closed = true;
      if (client) await (await client.catch(() => null))?.end().catch(() => undefined);
    },
  };
}
