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
  /** Settles when every lock of `held` is held on the current connection (null: not since it was last replaced). */
  let taken: Promise<void> | null = null;
  const connection = (): Promise<pg.Client> => {
    client ??= (async () => {
      const c = await deps.connect();
      c.on('error', (err) => {
        deps.log.warn({ err: err.message }, 'session-lock connection failed; taking the locks again');
        client = null;
        taken = null;
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
  const takeAll = (): Promise<void> => {
    taken ??= (async () => {
      const c = await connection();
      for (const [a, b] of held) await c.query('SELECT pg_advisory_lock($1::int, $2::int)', [a, b]);
    })().catch((err: unknown) => {
      taken = null;
      throw err;
    });
    return taken;
  };
  const relock = async (): Promise<void> => {
    if (closed || taken) return;
    try {
      await takeAll();
    } catch (err) {
      deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not take the session locks again; retrying');
      if (!closed) setTimeout(() => void relock(), 2000).unref();
    }
  };
  return {
    /**
     * Resolves once the lock is held on the current connection. Asked again for a lock it holds, it resolves at once
     * while the connection lives, and after a failover only once the new primary's connection has taken every lock
     * again: a caller that records the lock's key (a rotation claim) never records one that no session holds.
     */
    async hold(classId: number, key: number): Promise<void> {
      if (held.some(([a, b]) => a === classId && b === key)) return takeAll();
      held.push([classId, key]);
      const c = await connection();
      await c.query('SELECT pg_advisory_lock($1::int, $2::int)', [classId, key]);
      // A connection whose locks were all taken before this one counts as holding it too.
      taken ??= Promise.resolve();
    },
    async close(): Promise<void> {
      closed = true;
      if (client) await (await client.catch(() => null))?.end().catch(() => undefined);
    },
  };
}
