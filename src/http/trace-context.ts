/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) for incoming requests: `traceparent` (and `tracestate`)
 * become the remote parent of the request's span. A small parser rather than a registered global propagator, so
 * nothing here runs, and no propagator is loaded, while tracing is off.
 */
import { createTraceState, ROOT_CONTEXT, trace, type Context, type SpanContext } from '@opentelemetry/api';

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** The remote span context a `traceparent` header names, or null when it is absent or malformed (then a new trace starts). */
export function parseTraceparent(traceparent: string | undefined, tracestate?: string): SpanContext | null {
  if (!traceparent || traceparent.length > 512) return null;
  const m = TRACEPARENT.exec(traceparent.trim());
  if (!m) return null;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === undefined || traceId === undefined || spanId === undefined || flags === undefined) return null;
  // Version ff is forbidden; version 00 has exactly four fields. Later versions may append fields (kept forward-compatible).
  if (version === 'ff' || (version === '00' && rest !== undefined)) return null;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  const state = tracestate && tracestate.length <= 512 ? createTraceState(tracestate) : undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) & 1, isRemote: true, ...(state ? { traceState: state } : {}) };
}

/** The context to start a request's span in: the caller's trace when it sent a valid traceparent, else a new one. */
export function incomingContext(headers: Record<string, string | string[] | undefined>): Context {
  const single = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);
  const parent = parseTraceparent(single(headers.traceparent), single(headers.tracestate));
  return parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
}
