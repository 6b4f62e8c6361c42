/** The messages between the broker and its PGlite worker thread (pglite-worker.ts, pglite-thread-db.ts). */

export type Request =
  | { op: 'open'; id: number; dir: string }
  | { op: 'query'; id: number; sql: string; params?: readonly unknown[]; tx?: number }
  | { op: 'exec'; id: number; sql: string; tx?: number }
  | { op: 'begin'; id: number }
  | { op: 'end'; id: number; tx: number; commit: boolean }
  | { op: 'listen'; id: number; channel: string }
  | { op: 'close'; id: number };

export interface WireError {
  message: string;
  fields: Record<string, string | number>;
}

/** id 0 answers the open; a transaction's id is answered twice: when it has begun and when it has ended. */
export type Reply =
  | { id: number; ok: true; rows?: unknown[]; rowCount?: number; ended?: boolean }
  | { id: number; ok: false; error: WireError; ended?: boolean };

export interface Notification {
  notify: string;
  payload: string;
}

// PostgreSQL's error fields that callers look at (the SQLSTATE above all). The statement and its parameters stay in
// the worker: they may hold secret values, and an error object travels into logs.
const FIELDS = ['code', 'detail', 'hint', 'severity', 'schema', 'table', 'column', 'dataType', 'constraint', 'routine', 'position'] as const;

export function errorToWire(err: unknown): WireError {
  const fields: Record<string, string | number> = {};
  if (typeof err === 'object' && err !== null) {
    const rec = err as Record<string, unknown>;
    for (const f of FIELDS) {
      const v = rec[f];
      if (typeof v === 'string' || typeof v === 'number') fields[f] = v;
    }
  }
  return { message: err instanceof Error ? err.message : String(err), fields };
}

export function errorFromWire(w: WireError): Error {
  return Object.assign(new Error(w.message), w.fields);
}

/**
 * Where `bin/sealbox.mjs` leaves the PGlite worker it started before loading the broker (`sealbox server` only; the
 * worker then waits for an `open` message naming the data directory). Taken once; unref'd until taken.
 */
export const PRESTARTED = Symbol.for('sealbox.pglite-worker');
