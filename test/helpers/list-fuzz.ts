// Differential fuzzing of the LIST rewrite (src/http/list-method.ts) against Node's own HTTP server and parser.
//
// A case is a random stream of pipelined requests (bodies with Content-Length or chunked, chunk extensions,
// trailers, request-like text inside bodies and headers), sometimes with one framing defect. It runs twice on a
// real http.Server, both times with the same chunking:
//   actual:   the stream T through the rewrite wrapper;
//   expected: R = T with every "LIST" replaced by "LOCK" and every "LINK" by "LINX" (same length, letters that no
//             framing token contains), straight into Node: what Node would deliver if it accepted LIST.
// They must agree exactly (the requests and bodies Node delivered, up to the substitution, and the error response that
// closed the connection), except that the wrapper may stop earlier (it is
// stricter than Node on a few rare forms): then what it delivered must be a prefix of what Node delivered.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { Duplex } from 'node:stream';
import { isListRequest, ListMethodSocket } from '../../src/http/list-method.ts';

export type Rng = () => number;

/** mulberry32: a small seeded PRNG, so that a failing case can be replayed from its seed. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)] as T;
const int = (rng: Rng, max: number): number => Math.floor(rng() * (max + 1));

const METHODS = ['GET', 'GET', 'POST', 'PUT', 'DELETE', 'LIST', 'LIST', 'LIST', 'LINK', 'PATCH', 'HEAD', 'OPTIONS', 'LISTEN', 'LIS'];
const PATH_BITS = ['v1', 'secret', 'metadata', 'LIST', 'a', 'b%20c', 'sys', 'LINK', 'x'];
const VALUE_BITS = ['abc', 'LIST /v1/x HTTP/1.1', ' ', 'chunked', '0', '5', 'Content-Length: 4', 'LINK', '\t', 'ok'];
const BODY_BITS = [
  'a',
  '{"k":1}',
  '\r\n',
  '\r\n\r\n',
  '0\r\n\r\n',
  'LIST /smuggled HTTP/1.1\r\nHost: h\r\n\r\n',
  'GET /smuggled HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n',
  'LINK /smuggled HTTP/1.1\r\nHost: h\r\n\r\n',
  '5\r\nhello\r\n',
  'Transfer-Encoding: chunked\r\n',
  'LIS',
  'T ',
  'ff',
];

export const MUTATIONS = [
  'dupCL',
  'clte',
  'teGzip',
  'teGzipChunked',
  'teCase',
  'teEmpty',
  'teTwice',
  'fold',
  'badChunkSize',
  'chunkOverflow',
  'chunkNoCrlf',
  'chunkExtSpace',
  'bareLF',
  'bareCR',
  'clShort',
  'clLong',
  'clSpaces',
  'clTab',
  'clPlus',
  'upgrade',
  'upgradeOnly',
  'connect',
  'noColon',
  'connectionClose',
  'http10',
  'trailerFold',
] as const;
export type Mutation = (typeof MUTATIONS)[number];

interface Req {
  method: string;
  target: string;
  headers: string[];
  body: string;
  framing: 'none' | 'cl' | 'chunked';
}

function randomRequest(rng: Rng): Req {
  const method = pick(rng, METHODS);
  const segs = Array.from({ length: 1 + int(rng, 3) }, () => pick(rng, PATH_BITS));
  const target = `/${segs.join('/')}${rng() < 0.2 ? '?list=true' : ''}`;
  const headers = ['Host: h'];
  for (let i = int(rng, 3); i > 0; i--) headers.push(`X-${int(rng, 9)}: ${Array.from({ length: 1 + int(rng, 2) }, () => pick(rng, VALUE_BITS)).join('')}`);
  const body = Array.from({ length: int(rng, 4) }, () => pick(rng, BODY_BITS)).join('');
  const framing = body.length === 0 ? pick(rng, ['none', 'none', 'cl', 'chunked'] as const) : rng() < 0.5 ? 'cl' : 'chunked';
  return { method, target, headers, body, framing };
}

function chunkedBody(rng: Rng, body: string, mutation: Mutation | null): string {
  let out = '';
  let rest = body;
  let first = true;
  while (rest.length > 0) {
    const n = 1 + int(rng, rest.length - 1);
    let size = n.toString(16);
    if (rng() < 0.3) size = size.toUpperCase();
    if (rng() < 0.2) size = `000${size}`;
    if (first && mutation === 'badChunkSize') size = pick(rng, ['g', '-1', ' 3', '0x3', '']);
    if (first && mutation === 'chunkOverflow') size = 'fffffffffffffffff';
    const ext = rng() < 0.2 ? pick(rng, [';a=b', ';a', ';a="b c"']) : mutation === 'chunkExtSpace' && first ? ' ;a=b' : '';
    const data = rest.slice(0, n);
    out += `${size}${ext}\r\n${data}${first && mutation === 'chunkNoCrlf' ? 'X' : ''}\r\n`;
    rest = rest.slice(n);
    first = false;
  }
  const trailers = rng() < 0.2 ? `X-T: 1\r\n${mutation === 'trailerFold' ? ' folded\r\n' : ''}` : mutation === 'trailerFold' ? 'X-T: 1\r\n 2\r\n' : '';
  return `${out}${rng() < 0.2 ? '000' : '0'}\r\n${trailers}\r\n`;
}

function serialize(rng: Rng, r: Req, mutation: Mutation | null): string {
  const headers = [...r.headers];
  const body = Buffer.byteLength(r.body);
  let framing = r.framing;
  if (mutation === 'connect') return `CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n`;
  if (framing === 'cl') {
    const cl = mutation === 'clShort' ? Math.max(0, body - 1 - int(rng, 3)) : mutation === 'clLong' ? body + 1 + int(rng, 3) : body;
    const v = mutation === 'clSpaces' ? `  ${cl}  ` : mutation === 'clTab' ? `\t${cl}` : mutation === 'clPlus' ? `+${cl}` : String(cl);
    headers.push(`Content-Length:${rng() < 0.5 ? ' ' : ''}${v}`);
    if (mutation === 'dupCL') headers.push(`content-length: ${rng() < 0.5 ? cl : cl + 1}`);
    if (mutation === 'clte') headers.push('Transfer-Encoding: chunked');
  } else if (framing === 'chunked') {
    const te = mutation === 'teGzip' ? 'gzip' : mutation === 'teGzipChunked' ? 'gzip, chunked' : mutation === 'teCase' ? 'ChUnKeD' : mutation === 'teEmpty' ? '' : 'chunked';
    headers.push(`Transfer-Encoding: ${te}`);
    if (mutation === 'teTwice') headers.push('Transfer-Encoding: chunked');
    if (mutation === 'clte') headers.splice(int(rng, headers.length), 0, `Content-Length: ${body}`);
  } else if (mutation === 'clte' || mutation === 'dupCL') {
    headers.push('Content-Length: 0', mutation === 'clte' ? 'Transfer-Encoding: chunked' : 'Content-Length: 0');
    framing = mutation === 'clte' ? 'chunked' : 'none';
  }
  if (mutation === 'fold') headers.splice(1 + int(rng, headers.length - 1), 0, ' folded');
  if (mutation === 'upgrade') headers.push('Connection: upgrade', 'Upgrade: foo');
  if (mutation === 'upgradeOnly') headers.push('Upgrade: foo');
  if (mutation === 'noColon') headers.push('NoColon');
  if (mutation === 'connectionClose') headers.push('Connection: close');
  const version = mutation === 'http10' ? 'HTTP/1.0' : 'HTTP/1.1';
  let head = `${r.method} ${r.target} ${version}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`;
  if (mutation === 'bareLF' || mutation === 'bareCR') {
    const at = [...head.matchAll(/\r\n/g)].map((m) => m.index);
    const i = pick(rng, at);
    head = `${head.slice(0, i)}${mutation === 'bareLF' ? '\n' : '\r'}${head.slice(i + 2)}`;
  }
  const payload = framing === 'chunked' ? chunkedBody(rng, r.body, mutation) : framing === 'cl' ? r.body : mutation === 'clShort' ? r.body : '';
  return head + payload;
}

export interface FuzzCase {
  stream: Buffer;
  mutation: Mutation | null;
}

/** A random case; never contains "LOCK" or "LINX" (the oracle's substitutes). */
export function randomCase(rng: Rng): FuzzCase {
  for (;;) {
    const reqs = Array.from({ length: 1 + int(rng, 4) }, () => randomRequest(rng));
    const mutation = rng() < 0.4 ? pick(rng, MUTATIONS) : null;
    const target = int(rng, reqs.length - 1);
    const text = reqs.map((r, i) => `${rng() < 0.15 ? '\r\n' : ''}${serialize(rng, r, i === target ? mutation : null)}`).join('');
    if (!text.includes('LOCK') && !text.includes('LINX')) return { stream: Buffer.from(text, 'latin1'), mutation };
  }
}

/** Splits a stream into random pieces (sometimes single bytes). */
export function randomSplits(rng: Rng, length: number): number[] {
  const cuts = new Set<number>();
  const n = rng() < 0.2 ? length : int(rng, 6);
  for (let i = 0; i < n; i++) cuts.add(1 + int(rng, Math.max(0, length - 2)));
  return [...cuts].filter((c) => c > 0 && c < length).sort((a, b) => a - b);
}

export function chunksAt(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, stream.length]) {
    if (c > from) out.push(stream.subarray(from, c));
    from = c;
  }
  return out;
}

export interface RunResult {
  records: string[];
  output: string;
  stopReason?: string;
}

/** An in-memory connection: what the server writes is collected, and the test pushes what the client sends. */
class FakeSocket extends Duplex {
  output: Buffer[] = [];
  remoteAddress = '127.0.0.1';
  /** How many times the reader has asked for more (stream.Readable calls _read once what it had is taken). */
  reads = 0;
  private wanted: (() => void)[] = [];
  constructor() {
    super({ allowHalfOpen: true });
    this.once('close', () => this._read());
  }
  override _read(): void {
    this.reads++;
    for (const w of this.wanted.splice(0)) w();
  }
  /** Resolves once the reader has asked for more since `reads` was `since` (it took what was pushed), or the socket is gone. */
  takenSince(since: number): Promise<void> {
    if (this.destroyed || this.reads > since) return Promise.resolve();
    return new Promise((resolve) => this.wanted.push(resolve));
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.output.push(Buffer.from(chunk));
    cb();
  }
  override _final(cb: () => void): void {
    cb();
  }
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
}

function recordingServer(records: string[], open: Set<Promise<void>>): Server {
  const server = createServer((req: IncomingMessage, res) => {
    const method = isListRequest(req) ? 'LIST' : req.method;
    records.push(`REQ ${method} ${req.url} ${JSON.stringify(req.headers['x-1'] ?? null)}`);
    const body: Buffer[] = [];
    open.add(
      new Promise<void>((resolve) => {
        req.on('data', (c: Buffer) => body.push(c));
        req.on('end', () => records.push(`BODY ${method} ${req.url} ${JSON.stringify(Buffer.concat(body).toString('latin1'))}`));
        req.on('close', () => resolve());
      }),
    );
    req.on('end', () => {
      res.sendDate = false;
      res.end('ok');
    });
  });
  return server;
}

/** Runs one stream (pushed in `chunks`, each once the reader has taken the one before) through a real http.Server. */
export async function runStream(chunks: readonly Buffer[], wrap: boolean): Promise<RunResult> {
  const records: string[] = [];
  const open = new Set<Promise<void>>();
  const server = recordingServer(records, open);
  const socket = new FakeSocket();
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  // What acceptListMethod does for every connection of a listening server.
  const wrapped = wrap ? new ListMethodSocket(socket) : undefined;
  server.emit('connection', wrapped ?? socket);
  for (const c of chunks) {
    if (socket.destroyed) break;
    const reads = socket.reads;
    socket.push(Buffer.from(c));
    // One chunk at a time: the next is pushed once the reader has taken this one (not merged with it in the buffer).
    await socket.takenSince(reads);
  }
  if (!socket.destroyed) socket.push(null);
  await closed;
  await Promise.all(open);
  server.close();
  return { records, output: Buffer.concat(socket.output).toString('latin1'), stopReason: wrapped?.stopReason };
}

/** The oracle's input: same length, LIST and LINK replaced by methods Node accepts and refuses. */
export function oracleStream(stream: Buffer): Buffer {
  return Buffer.from(stream.toString('latin1').replaceAll('LIST', 'LOCK').replaceAll('LINK', 'LINX'), 'latin1');
}

/**
 * Equal up to the oracle's substitution: where they differ, the actual byte is a letter of LIST or LINK and the
 * expected one its substitute (a body that Node cut inside such a word keeps part of it, so whole words cannot be mapped back).
 */
const SUBSTITUTE: Record<string, string> = { I: 'O', S: 'C', T: 'K', K: 'X' };
function sameModuloOracle(actual: string, expected: string): boolean {
  if (actual.length !== expected.length) return false;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as string;
    if (a !== expected[i] && SUBSTITUTE[a] !== expected[i]) return false;
  }
  return true;
}

/**
 * The error response that closed the connection, if any. Which earlier responses were flushed before Node gave up on a
 * bad request depends on timing (the rewrite holds one byte back for a moment), so only this part is compared.
 */
function closing(output: string): string {
  const last = output.lastIndexOf('HTTP/1.1 ');
  const line = last < 0 ? '' : output.slice(last, output.indexOf('\r\n', last));
  return line.startsWith('HTTP/1.1 200') || line.startsWith('HTTP/1.1 100') ? '' : line;
}

export interface Verdict {
  ok: boolean;
  /** The wrapper stopped earlier than Node (allowed: a prefix). */
  stricter: boolean;
  actual: RunResult;
  expected: RunResult;
}

/** Runs a case with the given cut points through both and compares. */
export async function checkCase(stream: Buffer, cuts: readonly number[]): Promise<Verdict> {
  const actual = await runStream(chunksAt(stream, cuts), true);
  const expected = await runStream(chunksAt(oracleStream(stream), cuts), false);
  // Requests and bodies each in Node's order (how the two interleave depends on timing).
  const kinds = (r: RunResult) => [r.records.filter((x) => x.startsWith('REQ')), r.records.filter((x) => x.startsWith('BODY'))];
  const [aReq, aBody] = kinds(actual) as [string[], string[]];
  const [eReq, eBody] = kinds(expected) as [string[], string[]];
  const isPrefix = (a: string[], e: string[]) => a.length <= e.length && a.every((r, i) => sameModuloOracle(r, e[i] as string));
  const extends_ = (a: string[], e: string[]) => e.length <= a.length && e.every((r, i) => sameModuloOracle(a[i] as string, r));
  // Which finished bodies were reported before Node destroyed a connection over a bad request is a matter of timing:
  // there, one list of bodies may be shorter, but never different.
  const errored = closing(actual.output) !== '' || actual.stopReason !== undefined;
  const bodiesAgree = aBody.length === eBody.length ? isPrefix(aBody, eBody) : errored && (isPrefix(aBody, eBody) || extends_(aBody, eBody));
  const same = closing(actual.output) === closing(expected.output) && aReq.length === eReq.length && isPrefix(aReq, eReq) && bodiesAgree;
  if (same) return { ok: true, stricter: false, actual, expected };
  // Stricter than Node: the wrapper stopped, and everything delivered is what Node delivered too.
  const prefix = actual.stopReason !== undefined && isPrefix(aReq, eReq) && bodiesAgree;
  return { ok: prefix, stricter: prefix, actual, expected };
}
