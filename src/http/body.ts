import type { IncomingMessage } from 'node:http';
import { AppError, badRequest } from '../lib/errors.ts';

const tooLarge = (limit: number): AppError => new AppError('payload_too_large', `request body is larger than the limit of ${limit} bytes`);

/**
 * Bytes of request bodies that are being held for requests nobody has authenticated (logins, sys/unseal …), shared by
 * all of them: what an anonymous client can make the broker buffer is this much, not connections × the body limit.
 */
export interface BodyBudget {
  /** Takes `n` bytes; false (and nothing taken) when that would pass the cap. */
  take(n: number): boolean;
  give(n: number): void;
}

export function createBodyBudget(maxBytes: number): BodyBudget {
  let used = 0;
  return {
    take(n) {
      if (used + n > maxBytes) return false;
      used += n;
      return true;
    },
    give(n) {
      used = Math.max(0, used - n);
    },
  };
}

const busy = (): AppError => new AppError('unavailable', 'too many unauthenticated request bodies in flight; retry later');

/** A budget held by one request: what it took is given back once, when the request is done. */
export interface BodyHold {
  budget: BodyBudget;
  held: number;
}

function charge(hold: BodyHold | undefined, n: number): void {
  if (!hold || n === 0) return;
  if (!hold.budget.take(n)) throw busy();
  hold.held += n;
}

/** Whether the request announces a body (a length above zero, or chunked). */
export function hasBody(req: IncomingMessage): boolean {
  return Number(req.headers['content-length'] ?? '0') > 0 || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads the whole body, refusing more than `limit` bytes without buffering the excess. With `hold`, the bytes are
 * charged to a shared budget (the declared length up front), and a full budget is a 503 before anything is buffered.
 */
export async function readBody(req: IncomingMessage, limit: number, hold?: BodyHold): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const upfront = Number.isFinite(declared) && declared > 0 ? declared : 0;
  charge(hold, upfront);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) throw tooLarge(limit);
      if (size > upfront) charge(hold, Math.min(buf.length, size - upfront));
      chunks.push(buf);
    }
  } catch (err) {
    for (const c of chunks) c.fill(0);
    if (err instanceof AppError) throw err;
    // The client went away or the request timed out mid-body: its mistake, not ours.
    throw badRequest('the request body was not received completely');
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON object body; an empty body is `{}`. Anything else is a 400 that says what is wrong. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  const text = body.toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // V8's message quotes the input, which may hold a secret: report only the position.
    const pos = err instanceof SyntaxError ? /position (\d+)/.exec(err.message)?.[1] : undefined;
    throw badRequest(`failed to parse JSON input: malformed JSON${pos ? ` at position ${pos}` : ''}`);
  }
  // Go clients send `null` for a write with no data (Vault's jsonutil decodes it to an empty map).
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest('request body must be a JSON object');
  if (depthExceeds(value, MAX_DEPTH)) throw badRequest(`request body is nested deeper than ${MAX_DEPTH} levels`);
  return value as Record<string, unknown>;
}

/** Deeply nested JSON would overflow the stack of every recursive walk after this one (JSON.stringify included). */
const MAX_DEPTH = 64;

function depthExceeds(root: unknown, max: number): boolean {
  const stack: { v: unknown; d: number }[] = [{ v: root, d: 1 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (item.d > max) return true;
    if (typeof item.v === 'object' && item.v !== null) {
      for (const child of Object.values(item.v)) if (typeof child === 'object' && child !== null) stack.push({ v: child, d: item.d + 1 });
    }
  }
  return false;
}
