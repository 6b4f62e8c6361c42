/**
 * A Db usable while the database is still opening: statements issued before it is open wait for it, those after go
 * straight through. The broker wires itself (its stores, engines and routes, which issue no statement) while PGlite
 * starts in its worker thread or the pool connects, and only then waits (issue 17: start-up on an existing directory).
 * If opening fails, every statement fails with that error, and close() has nothing to close.
 */
import type { Db, NotifyHandler, Queryable, QueryResult } from './db.ts';

export function openingDb(kind: Db['kind'], opening: Promise<Db>): Db {
  let open: Db | null = null;
  opening.then(
    (d) => void (open = d),
    () => undefined, // the statements that wait for it fail with its error; buildApp awaits it too
  );
  const use = <T>(f: (d: Db) => Promise<T>): Promise<T> => (open ? f(open) : opening.then(f));
  return {
    kind,
    query: <R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => use((d) => d.query<R>(sql, params)),
    exec: (sql: string) => use((d) => d.exec(sql)),
    tx: <T>(fn: (q: Queryable) => Promise<T>) => use((d) => d.tx(fn)),
    listen: (channel: string, handler: NotifyHandler) => use((d) => d.listen(channel, handler)),
    notify: (channel: string, payload: string) => use((d) => d.notify(channel, payload)),
    holdSessionLock: (classId: number, key: number) => use((d) => d.holdSessionLock(classId, key)),
    close: () => opening.then((d) => d.close(), () => undefined),
    available: () => (open ? (open.available?.() ?? true) : false),
    notifying: () => open?.notifying?.() ?? false,
  };
}
