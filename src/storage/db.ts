/** The one database interface. pg-db.ts (PostgreSQL) and pglite-db.ts (embedded) implement it with the same SQL. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  /** One parameterised statement. Row types are the caller's promise about its SELECT list. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** A multi-statement script with no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** Called with the payload of a notification, or with null when notifications may have been missed. */
/** May return a promise: the notification counts as handled (a debug log line tests wait for) when it settles. */
export type NotifyHandler = (payload: string | null) => void | Promise<void>;

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one transaction on one connection; commits on return, rolls back on throw. */
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  listen(channel: string, handler: NotifyHandler): Promise<void>;
  notify(channel: string, payload: string): Promise<void>;
  /**
   * Takes the session-level advisory lock (classId, key) on a connection held for the life of this process, so that
   * the lock ends when the process does (SIGKILL included): other replicas see the holder's claims free at once
   * (core/rotations.ts). Resolves once held; a lost connection re-takes it.
   */
  holdSessionLock(classId: number, key: number): Promise<void>;
  close(): Promise<void>;
  /** False while the store cannot confirm the broker's cached state (PostgreSQL unreachable: sys/health is 503). */
  available?(): boolean;
  /**
   * True while every change another process commits reaches this process's listen() handlers (PostgreSQL: the LISTEN
   * connection is up and, with a staleness bound, confirmed within it; PGlite: one process, always). Caches that only
   * notifications keep current (the entry cache) answer only while this holds. Absent: never (no cache may answer).
   */
  notifying?(): boolean;
}

/** Normalises a bytea value (pg returns Buffer, PGlite Uint8Array). */
export function toBuffer(v: unknown): Buffer {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError('expected a bytea value');
}
