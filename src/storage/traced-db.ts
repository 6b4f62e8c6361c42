/**
 * A Db decorator that records one span per statement and per transaction, as children of the request's span.
 * Applied only when tracing is on (app.ts), so the untraced Db is untouched. Spans carry a summary of the statement
 * (first keyword and table, e.g. `SELECT tokens`), never its text after that and never its parameters.
 * Statements outside a live request span (background workers, pollers) record nothing: a 1 s expiry poll
 * must not flood the collector with root spans.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import type { Db, Queryable, QueryResult } from './db.ts';

const TABLE = /\b(?:FROM|INTO|UPDATE|JOIN|TABLE)\s+(?:ONLY\s+)?("?[A-Za-z_][A-Za-z0-9_]*"?(?:\."?[A-Za-z_][A-Za-z0-9_]*"?)?)/i;
const summaries = new Map<string, { name: string; attributes: Attributes }>();

/** `SELECT tokens`: the statement's first keyword and first table, cached per SQL text (the texts are constants). */
export function statementSummary(sql: string): { name: string; attributes: Attributes } {
  let s = summaries.get(sql);
  if (!s) {
    const head = sql.trimStart();
    const operation = (/^[A-Za-z]+/.exec(head)?.[0] ?? 'SQL').toUpperCase();
    const table = TABLE.exec(head)?.[1]?.replaceAll('"', '');
    const name = table ? `${operation} ${table}` : operation;
    s = {
      name,
      attributes: { 'db.system.name': 'postgresql', 'db.operation.name': operation, 'db.query.summary': name, ...(table ? { 'db.collection.name': table } : {}) },
    };
    if (summaries.size < 5000) summaries.set(sql, s);
  }
  return s;
}

function errorType(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.length <= 64) return code;
  }
  return err instanceof Error ? err.name : 'error';
}

/** The parent span of a storage call, or null when there is no live one (then nothing is recorded). */
function liveParent(): Span | null {
  const parent = trace.getActiveSpan();
  return parent?.isRecording() ? parent : null;
}

async function inSpan<T>(tracer: Tracer, name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes });
  try {
    return await context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    // The error's type only: driver messages can quote values.
    span.setAttribute('error.type', errorType(err));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}

function tracedQueryable(q: Queryable, tracer: Tracer): Queryable {
  return {
    query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      if (!liveParent()) return q.query<R>(sql, params);
      const { name, attributes } = statementSummary(sql);
      return inSpan(tracer, `storage ${name}`, attributes, () => q.query<R>(sql, params));
    },
    exec(sql: string): Promise<void> {
      if (!liveParent()) return q.exec(sql);
      return inSpan(tracer, 'storage script', { 'db.system.name': 'postgresql', 'db.operation.name': 'script' }, () => q.exec(sql));
    },
  };
}

/** Wraps a Db so that its queries and transactions become child spans of the active span. */
export function tracedDb(db: Db, tracer: Tracer): Db {
  const plain = tracedQueryable(db, tracer);
  return {
    kind: db.kind,
    query: plain.query,
    exec: plain.exec,
    tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
      if (!liveParent()) return db.tx(fn);
      return inSpan(tracer, 'storage transaction', { 'db.system.name': 'postgresql', 'db.operation.name': 'transaction' }, () => {
        // PGlite runs the callback from its own queue, in whatever context last released it: re-enter ours.
        const inside = context.active();
        return db.tx((q) => context.with(inside, () => fn(tracedQueryable(q, tracer))));
      });
    },
    listen: (channel, handler) => db.listen(channel, handler),
    notify: (channel, payload) => db.notify(channel, payload),
    holdSessionLock: (classId, key) => db.holdSessionLock(classId, key),
    close: () => db.close(),
    available: db.available ? () => db.available?.() ?? true : undefined,
    notifying: () => db.notifying?.() ?? false,
  };
}
