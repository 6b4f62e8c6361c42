import type { IncomingMessage } from 'node:http';
import { AppError, badRequest } from '../lib/errors.ts';

const tooLarge = (limit: number): AppError => new AppError('payload_too_large', `request body is larger than the limit of ${limit} bytes`);

/** Reads the whole body, refusing more than `limit` bytes without buffering the excess. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > limit) throw tooLarge(limit);
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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badRequest('request body must be a JSON object');
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
