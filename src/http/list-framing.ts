/**
 * The request-framing tracker behind the `LIST` method rewrite (see list-method.ts). It follows a connection's bytes
 * the way Node's HTTP parser (llhttp, strict mode) frames them, to know where each request starts, and there it
 * rewrites the method without changing the length of anything:
 *
 *   `LIST` → `LINK`   (a method Node accepts; the vault adapter reads it as a list on a rewritten connection)
 *   `LINK` → `LINX`   (so that a client's own LINK is refused by Node with 400, as an unknown method)
 *
 * Only those letters change, and only in the first four bytes of a request: no byte that takes part in framing (CR,
 * LF, digits, hex, `:`, header names) is ever touched, so Node's parser stays the only authority on where a request
 * ends, and no rewrite can make it frame a stream differently. The tracker only needs to agree with it on every stream
 * Node accepts. Wherever it is unsure (framing Node refuses: both Content-Length and Transfer-Encoding, a repeated
 * Content-Length, obsolete line folding, a bad chunk size, a bare CR or LF; or framing it does not model), it stops:
 * the caller forwards the bytes up to and including the one that stopped it and then ends the input, so Node sees an
 * incomplete or invalid request and closes the connection with its own 400. After a request that asks for an
 * upgrade (an `Upgrade` header, or CONNECT) nothing more of the connection is read.
 */

export type FeedResult =
  | { kind: 'more'; out: Buffer }
  /** Forward `out` (the bytes up to the one that stopped the tracker), then end the input. */
  | { kind: 'stop'; out: Buffer; reason: string }
  /** Forward `out` (through the end of an upgrade request); any further byte ends the connection. */
  | { kind: 'upgrade'; out: Buffer };

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const COLON = 0x3a;
const SEMI = 0x3b;

const enum S {
  Start,
  RequestLine,
  RequestLineLf,
  LineStart,
  Name,
  Value,
  ValueLf,
  HeadLf,
  Body,
  ChunkSize,
  ChunkExt,
  ChunkSizeLf,
  ChunkData,
  ChunkDataCr,
  ChunkDataLf,
  TrailerStart,
  Trailer,
  TrailerLf,
  TrailersLf,
  Upgraded,
}

/** Header names are kept only this far; longer ones cannot be a framing header. */
const MAX_NAME = 32;
/** The value of a framing header is kept this far; a longer Content-Length or Transfer-Encoding stops the tracker. */
const MAX_VALUE = 256;
const MAX_SAFE_HEX_DIGITS = 13;

function isHex(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);
}

function hexValue(b: number): number {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x61 + 10;
}

function trimOws(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

export interface FramingTracker {
  feed(chunk: Buffer): FeedResult;
  /** At the end of the input: the byte held back, if any (see `held`). */
  flush(): Buffer;
  /** Requests whose method was rewritten from LIST so far. */
  readonly lists: number;
}

export function createFramingTracker(): FramingTracker {
  let state: S = S.Start;
  /** The original bytes of the current request's method so far (at most 8). */
  let method = '';
  let name = '';
  let nameLong = false;
  /** Whether the current header's value is kept (Content-Length, Transfer-Encoding). */
  let keepValue = false;
  let value = '';
  let contentLength: number | null = null;
  let chunked = false;
  let seenTe = false;
  let upgrade = false;
  let remaining = 0;
  /** Whether the current chunk size has a digit yet, and how many significant (non-leading-zero) digits. */
  let chunkDigit = false;
  let chunkSignificant = 0;
  let lists = 0;
  /**
   * A chunk that ends in "LIS" at a request start keeps its "S" back until the next byte shows whether this is LIST,
   * so that a byte is only ever changed once the whole method word is known.
   */
  let held: Buffer | null = null;

  function resetRequest(): void {
    method = '';
    contentLength = null;
    chunked = false;
    seenTe = false;
    upgrade = false;
  }

  /** A header line ended: returns a stop reason, or null. */
  function headerDone(): string | null {
    if (nameLong) return null;
    const lower = name.toLowerCase();
    if (lower === 'content-length') {
      if (contentLength !== null) return 'repeated Content-Length';
      if (seenTe) return 'both Content-Length and Transfer-Encoding';
      const v = trimOws(value);
      if (!/^[0-9]{1,15}$/.test(v)) return 'invalid Content-Length';
      contentLength = Number(v);
    } else if (lower === 'transfer-encoding') {
      if (seenTe) return 'repeated Transfer-Encoding';
      if (contentLength !== null) return 'both Content-Length and Transfer-Encoding';
      seenTe = true;
      const codings = value.split(',').map(trimOws);
      if (codings.at(-1)?.toLowerCase() !== 'chunked') return 'Transfer-Encoding does not end in chunked';
      chunked = true;
    } else if (lower === 'upgrade') {
      upgrade = true;
    }
    return null;
  }

  function feed(input: Buffer): FeedResult {
    const chunk = held ? Buffer.concat([held, input]) : input;
    held = null;
    let out = chunk;
    let copied = false;
    const set = (i: number, byte: number): void => {
      // i - 1 may be the byte held back from the previous chunk: it is part of `chunk`.
      if (!copied) {
        out = Buffer.from(chunk);
        copied = true;
      }
      out[i] = byte;
    };
    const stop = (i: number, reason: string): FeedResult => ({ kind: 'stop', out: out.subarray(0, i + 1), reason });
    /**
     * The rest of a line at once (indexOf instead of a byte loop): where its CR is (-1: not in this chunk), or the
     * bare LF that comes first (`lf` >= 0).
     */
    const lineEnd = (from: number): { cr: number; lf: number } => {
      const cr = chunk.indexOf(CR, from);
      const lf = chunk.indexOf(LF, from);
      return lf >= 0 && (cr < 0 || lf < cr) ? { cr: -1, lf } : { cr, lf: -1 };
    };

    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i] as number;
      switch (state) {
        case S.Start:
          if (b === CR || b === LF) break;
          state = S.RequestLine;
          i--; // this byte starts the request line
          break;
        case S.RequestLine:
          if (method.length >= 8 || method.includes(' ')) {
            const e = lineEnd(i);
            if (e.lf >= 0) return stop(e.lf, 'bare LF in the request line');
            if (e.cr < 0) i = chunk.length - 1;
            else {
              i = e.cr;
              state = S.RequestLineLf;
            }
            break;
          }
          {
            method += String.fromCharCode(b);
            if (method === 'LIS' && i === chunk.length - 1) {
              held = chunk.subarray(i);
              method = 'LI';
              return { kind: 'more', out: out.subarray(0, i) };
            }
            if (method === 'LIST') {
              set(i - 1, 0x4e); // N
              set(i, 0x4b); // K
              lists++;
            } else if (method === 'LINK') {
              set(i, 0x58); // X
            }
          }
          if (b === CR) state = S.RequestLineLf;
          else if (b === LF) return stop(i, 'bare LF in the request line');
          break;
        case S.RequestLineLf:
          if (b !== LF) return stop(i, 'bare CR in the request line');
          state = S.LineStart;
          break;
        case S.LineStart:
          if (b === CR) {
            state = S.HeadLf;
            break;
          }
          if (b === SP || b === HT) return stop(i, 'obsolete line folding');
          if (b === LF) return stop(i, 'bare LF in the head');
          name = '';
          nameLong = false;
          value = '';
          state = S.Name;
          i--; // this byte starts the header name
          break;
        case S.Name: {
          const colon = chunk.indexOf(COLON, i);
          const e = lineEnd(i);
          const end = colon < 0 ? chunk.length : colon;
          if (e.lf >= 0 && e.lf < end) return stop(e.lf, 'header line without a colon');
          if (e.cr >= 0 && e.cr < end) return stop(e.cr, 'header line without a colon');
          if (end > i) {
            if (name.length + (end - i) > MAX_NAME) nameLong = true;
            else name += chunk.toString('latin1', i, end);
            i = end - 1;
            break;
          }
          if (b === COLON) {
            const lower = name.toLowerCase();
            keepValue = !nameLong && (lower === 'content-length' || lower === 'transfer-encoding');
            state = S.Value;
          } else if (b === CR || b === LF) return stop(i, 'header line without a colon');
          break;
        }
        case S.Value: {
          const e = lineEnd(i);
          if (e.lf >= 0) return stop(e.lf, 'bare LF in a header');
          const end = e.cr < 0 ? chunk.length : e.cr;
          if (keepValue) {
            if (value.length + (end - i) > MAX_VALUE) return stop(i, 'framing header too long');
            value += chunk.toString('latin1', i, end);
          }
          if (e.cr < 0) i = chunk.length - 1;
          else {
            i = e.cr;
            state = S.ValueLf;
          }
          break;
        }
        case S.ValueLf: {
          if (b !== LF) return stop(i, 'bare CR in a header');
          const problem = headerDone();
          if (problem) return stop(i, problem);
          state = S.LineStart;
          break;
        }
        case S.HeadLf:
          if (b !== LF) return stop(i, 'bare CR at the end of the head');
          if (method.startsWith('CONNECT ')) upgrade = true;
          if (chunked) {
            state = S.ChunkSize;
            remaining = 0;
            chunkDigit = false;
            chunkSignificant = 0;
          } else if (contentLength !== null && contentLength > 0) {
            state = S.Body;
            remaining = contentLength;
          } else if (upgrade) {
            state = S.Upgraded;
            return { kind: 'upgrade', out: out.subarray(0, i + 1) };
          } else {
            resetRequest();
            state = S.Start;
          }
          break;
        case S.Body: {
          const take = Math.min(remaining, chunk.length - i);
          remaining -= take;
          i += take - 1;
          if (remaining === 0) {
            if (upgrade) {
              state = S.Upgraded;
              return { kind: 'upgrade', out: out.subarray(0, i + 1) };
            }
            resetRequest();
            state = S.Start;
          }
          break;
        }
        case S.ChunkSize:
          if (isHex(b)) {
            chunkDigit = true;
            if (remaining === 0 && b === 0x30) break; // a leading zero
            if (++chunkSignificant > MAX_SAFE_HEX_DIGITS) return stop(i, 'chunk size too large');
            remaining = remaining * 16 + hexValue(b);
          } else if (!chunkDigit) {
            return stop(i, 'invalid chunk size');
          } else if (b === SEMI) {
            state = S.ChunkExt;
          } else if (b === CR) {
            state = S.ChunkSizeLf;
          } else {
            return stop(i, 'invalid chunk size');
          }
          break;
        case S.ChunkExt: {
          const e = lineEnd(i);
          if (e.lf >= 0) return stop(e.lf, 'bare LF in a chunk extension');
          if (e.cr < 0) i = chunk.length - 1;
          else {
            i = e.cr;
            state = S.ChunkSizeLf;
          }
          break;
        }
        case S.ChunkSizeLf:
          if (b !== LF) return stop(i, 'bare CR after a chunk size');
          state = remaining === 0 ? S.TrailerStart : S.ChunkData;
          break;
        case S.ChunkData: {
          const take = Math.min(remaining, chunk.length - i);
          remaining -= take;
          i += take - 1;
          if (remaining === 0) state = S.ChunkDataCr;
          break;
        }
        case S.ChunkDataCr:
          if (b !== CR) return stop(i, 'chunk data longer than its size');
          state = S.ChunkDataLf;
          break;
        case S.ChunkDataLf:
          if (b !== LF) return stop(i, 'bare CR after chunk data');
          state = S.ChunkSize;
          remaining = 0;
          chunkDigit = false;
          chunkSignificant = 0;
          break;
        case S.TrailerStart:
          if (b === CR) state = S.TrailersLf;
          else if (b === SP || b === HT) return stop(i, 'obsolete line folding in the trailers');
          else if (b === LF) return stop(i, 'bare LF in the trailers');
          else state = S.Trailer;
          break;
        case S.Trailer: {
          const e = lineEnd(i);
          if (e.lf >= 0) return stop(e.lf, 'bare LF in the trailers');
          if (e.cr < 0) i = chunk.length - 1;
          else {
            i = e.cr;
            state = S.TrailerLf;
          }
          break;
        }
        case S.TrailerLf:
          if (b !== LF) return stop(i, 'bare CR in the trailers');
          state = S.TrailerStart;
          break;
        case S.TrailersLf:
          if (b !== LF) return stop(i, 'bare CR at the end of the trailers');
          if (upgrade) {
            state = S.Upgraded;
            return { kind: 'upgrade', out: out.subarray(0, i + 1) };
          }
          resetRequest();
          state = S.Start;
          break;
        case S.Upgraded:
          return { kind: 'stop', out: out.subarray(0, i), reason: 'data after an upgrade request' };
      }
    }
    return { kind: 'more', out };
  }

  return {
    feed,
    flush() {
      const rest = held ?? Buffer.alloc(0);
      held = null;
      return rest;
    },
    get lists() {
      return lists;
    },
  };
}
