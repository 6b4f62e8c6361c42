/**
 * The embedded default in a worker thread: the same Db as pglite-db.ts (one PGlite, one connection, statements and
 * transactions queued by PGlite), but PostgreSQL's half-second start in WASM runs on another core while the broker
 * loads and wires itself. `sealbox server` opens it as soon as its configuration is read (src/main.ts).
 */
import { Worker } from 'node:worker_threads';
import type { Db, NotifyHandler, Queryable, QueryResult } from './db.ts';
import { lockDataDir } from './dir-lock.ts';
import { translatePgError } from './pg-errors.ts';
import { errorFromWire, PRESTARTED, type Notification, type Reply, type Request } from './pglite-wire.ts';

type Pending = { resolve: (r: Reply & { ok: true }) => void; reject: (e: Error) => void };
type Outgoing = Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never;

/**
 * The worker's module beside this one: `.js` in dist/ (the bundle names dist/'s URL), `.ts` under tsx (tests), where
 * the thread first loads tsx (a worker does not inherit the loader hooks of its parent).
 */
function spawnWorker(dir: string): Worker {
  const early = takePrestarted();
  if (early) {
    early.ref();
    early.postMessage({ op: 'open', id: 0, dir } satisfies Request);
    return early;
  }
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./pglite-worker.js', import.meta.url), { workerData: { dir } });
  const url = new URL('./pglite-worker.ts', import.meta.url).href;
  const boot = `import('tsx/esm/api').then((m) => m.tsImport(${JSON.stringify(url)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(boot, { eval: true, workerData: { dir } });
}

function takePrestarted(): Worker | undefined {
  const g = globalThis as { [PRESTARTED]?: unknown };
  const w = g[PRESTARTED];
  delete g[PRESTARTED];
  return w instanceof Worker ? w : undefined;
}

/** Ends a worker bin/sealbox.mjs started when the broker turns out not to use the embedded database. */
export function discardPrestartedPglite(): void {
  void takePrestarted()?.terminate();
}

export async function createPgliteThreadDb(dir: string, lockDir: string): Promise<Db> {
  const lock = lockDataDir(lockDir);
  const worker = spawnWorker(dir);
  const pending = new Map<number, Pending>();
  const handlers = new Map<string, NotifyHandler[]>();
  let nextId = 1;
  let failure: Error | null = null;

  const failAll = (err: Error): void => {
    failure ??= err;
    for (const p of pending.values()) p.reject(failure);
    pending.clear();
  };
  const wait = (id: number): Promise<Reply & { ok: true }> =>
    new Promise((resolve, reject) => {
      if (failure) reject(failure);
      else pending.set(id, { resolve, reject });
    });
  worker.on('message', (m: Reply | Notification) => {
    if ('notify' in m) {
      for (const h of handlers.get(m.notify) ?? []) void h(m.payload);
      return;
    }
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.ok) p.resolve(m);
    else p.reject(errorFromWire(m.error));
  });
  worker.on('error', (err) => failAll(new Error(`the embedded database stopped: ${err.message}`)));
  worker.on('exit', (code) => failAll(new Error(`the embedded database stopped (exit code ${String(code)})`)));

  const call = (req: Outgoing): Promise<Reply & { ok: true }> => {
    const id = nextId++;
    const answer = wait(id);
    if (!failure) worker.postMessage({ ...req, id });
    return answer;
  };

  try {
    await wait(0);
  } catch (err) {
    await worker.terminate();
    lock.release();
    throw err;
  }

  const on = (tx?: number): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const r = await call({ op: 'query', sql, params, tx }).catch(translatePgError);
      return { rows: (r.rows ?? []) as R[], rowCount: r.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await call({ op: 'exec', sql, tx });
    },
  });
  const base = on();
  const sessionLocks = new Set<string>();

  return {
    kind: 'pglite',
    query: base.query,
    exec: base.exec,
    async tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      const id = nextId++;
      const begun = wait(id);
      worker.postMessage({ op: 'begin', id } satisfies Request);
      await begun;
      let result: T;
      try {
        result = await fn(on(id));
      } catch (err) {
        const ended = wait(id);
        worker.postMessage({ op: 'end', id: nextId++, tx: id, commit: false } satisfies Request);
        // The caller's error is the one to see, also when the rollback could not be confirmed.
        await ended.catch(() => undefined);
        throw err;
      }
      const ended = wait(id);
      worker.postMessage({ op: 'end', id: nextId++, tx: id, commit: true } satisfies Request);
      await ended.catch(translatePgError);
      return result;
    },
    async listen(channel: string, handler: NotifyHandler): Promise<void> {
      const list = handlers.get(channel);
      if (list) {
        list.push(handler);
        return;
      }
      handlers.set(channel, [handler]);
      await call({ op: 'listen', channel });
    },
    async notify(channel: string, payload: string): Promise<void> {
      await base.query('SELECT pg_notify($1, $2)', [channel, payload]);
    },
    // One process owns the directory (dir-lock.ts): every write is this process's own, so nothing can be missed.
    notifying: () => true,
    async holdSessionLock(classId: number, key: number): Promise<void> {
      // One connection for the life of the process: a session lock on it ends with the process. Taken once.
      const id = `${classId}:${key}`;
      if (sessionLocks.has(id)) return;
      await base.query('SELECT pg_advisory_lock($1::int, $2::int)', [classId, key]);
      sessionLocks.add(id);
    },
    async close(): Promise<void> {
      try {
        if (!failure) await call({ op: 'close' });
        await worker.terminate();
      } finally {
        lock.release();
      }
    },
  };
}
