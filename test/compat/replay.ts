// Replays what a Vault-speaking tool sends, byte for byte where it matters: raw node:http requests with the headers
// HashiCorp's Go client (github.com/hashicorp/vault/api) puts on the wire, so the broker sees what the tool would send.
//
//   const go = goClient(b.address, { token });
//   const r = await go.write('auth/approle/login', { role_id, secret_id });   // PUT, JSON body + "\n" (json.Encoder)
//   await go.read('secret/data/app', { version: '2' });                        // GET ?version=2, no body
//   await go.list('secret/metadata/');                                          // GET ?list=true (the Go client's List)
//   test('…', (t) => sequence(t, async (c) => { c.status(r, 200); … }));          // soft checks: every failing call is listed
//
// What the Go client sends (api/client.go, api/request.go):
// - `X-Vault-Request: true` on every request (SSRF protection header, set in NewClient);
// - `X-Vault-Token` when a token is set; `X-Vault-Namespace` when a namespace is set; `X-Vault-Wrap-TTL` when wrapping;
// - `X-Vault-Index` (every replication state seen so far) when ReadYourWrites is on (Terraform turns it on);
// - no Content-Type: SetJSONBody only encodes with json.Encoder, which appends a newline;
// - Go's transport adds `User-Agent: Go-http-client/1.1` and `Accept-Encoding: gzip`, and no `Connection` header.
import http from 'node:http';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isDeepStrictEqual } from 'node:util';
import type { ExecutionContext } from 'ava';

export interface ReplayResponse {
  method: string;
  target: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  /** Parsed JSON body, or undefined if the body is empty or not JSON. */
  json: unknown;
}

export interface RequestOptions {
  /** A value the Go client would JSON-encode (SetJSONBody). `null` is sent as `null\n`, as a nil map is. */
  body?: unknown;
  /** Raw body bytes (for bodies the tool builds itself). Wins over `body`. */
  rawBody?: string;
  /** Query parameters (Request.Params), encoded in Go's url.Values order (sorted by key). */
  params?: Record<string, string | string[]>;
  /** Overrides the client's token for this call; `null` sends no X-Vault-Token (e.g. `req.ClientToken = ""`). */
  token?: string | null;
  /** X-Vault-Wrap-TTL for this call (the wrapping lookup function's answer). */
  wrapTTL?: string;
  /** Extra headers, added like Client.AddHeader (canonical names, e.g. `X-Vault-Namespace`). */
  headers?: Record<string, string>;
  /** Send a `Content-Type` (tools that build their own requests do; the Go client does not). */
  contentType?: string;
}

export interface GoClientOptions {
  token?: string;
  /** Client.SetNamespace: adds `X-Vault-Namespace` to every request. */
  namespace?: string;
  /** Config.ReadYourWrites: record `X-Vault-Index` from responses and send all recorded states back. */
  readYourWrites?: boolean;
  /** Extra headers on every request (Client.SetHeaders / the provider's `headers` blocks). */
  headers?: Record<string, string>;
}

export interface GoClient {
  /** Every call made so far, in order (for a test's log). */
  readonly calls: ReplayResponse[];
  /** The replication states recorded so far (ReadYourWrites). */
  readonly indexStates: string[];
  token: string | undefined;
  namespace: string | undefined;
  request(method: string, apiPath: string, opts?: RequestOptions): Promise<ReplayResponse>;
  /** Logical().Read / ReadWithData: GET, no body. */
  read(apiPath: string, params?: Record<string, string>): Promise<ReplayResponse>;
  /** Logical().Write: PUT with the JSON body. */
  write(apiPath: string, data: Record<string, unknown> | null, opts?: RequestOptions): Promise<ReplayResponse>;
  /** Logical().List: GET ?list=true. */
  list(apiPath: string): Promise<ReplayResponse>;
  /** Logical().Delete: DELETE, no body. */
  delete(apiPath: string): Promise<ReplayResponse>;
}

/** Go's url.Values.Encode: keys sorted, values in order, QueryEscape (space as '+'). */
export function goQuery(params: Record<string, string | string[]>): string {
  const esc = (s: string): string => encodeURIComponent(s).replace(/%20/g, '+').replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return Object.keys(params)
    .sort()
    .flatMap((k) => {
      const v = params[k];
      return (Array.isArray(v) ? v : [v ?? '']).map((x) => `${esc(k)}=${esc(x)}`);
    })
    .join('&');
}

/** Go's path.Join: joined and Cleaned, so no trailing slash (node's path.posix.join keeps one). */
export function goPathJoin(...parts: string[]): string {
  const joined = path.posix.normalize(parts.filter((p) => p !== '').join('/'));
  return joined.length > 1 ? joined.replace(/\/+$/, '') : joined;
}

/** The body json.Encoder writes: the JSON text and a newline. */
export function goJson(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/** One raw HTTP/1.1 request with exactly the given headers (plus Host), over a fresh connection. */
export function sendRaw(
  address: string,
  method: string,
  target: string,
  headers: [string, string][],
  body?: string,
  timeoutMs = 30_000,
): Promise<ReplayResponse> {
  const url = new URL(address);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: target, agent: false, timeout: timeoutMs });
    // Go's transport sends no Connection header; Node adds one unless it is removed before the headers go out.
    req.removeHeader('connection');
    for (const [k, v] of headers) req.setHeader(k, v);
    if (body !== undefined && !req.hasHeader('content-length')) req.setHeader('Content-Length', String(Buffer.byteLength(body)));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let raw = Buffer.concat(chunks);
        if (res.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        const text = raw.toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ method, target, status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${target}`)));
    req.end(body);
  });
}

/** A replaying stand-in for HashiCorp's Go API client, pointed at `address` (http://host:port). */
export function goClient(address: string, opts: GoClientOptions = {}): GoClient {
  const calls: ReplayResponse[] = [];
  const indexStates: string[] = [];
  const client: GoClient = {
    calls,
    indexStates,
    token: opts.token,
    namespace: opts.namespace,
    async request(method, apiPath, o = {}) {
      const query = o.params ? goQuery(o.params) : '';
      // NewRequest: path.Join(addr.Path, requestPath), which drops a trailing slash and doubled slashes.
      const target = `${goPathJoin('/v1', apiPath.replace(/^\/?v1\//, ''))}${query ? `?${query}` : ''}`;
      let body: string | undefined;
      if (o.rawBody !== undefined) body = o.rawBody;
      else if (o.body !== undefined) body = goJson(o.body);
      const token = o.token === undefined ? client.token : (o.token ?? undefined);
      // Header order as Go writes them: Host, User-Agent, Content-Length, the rest sorted, Accept-Encoding last.
      const rest: [string, string][] = [];
      if (o.contentType) rest.push(['Content-Type', o.contentType]);
      for (const [k, v] of Object.entries({ ...(opts.headers ?? {}), ...(o.headers ?? {}) })) rest.push([k, v]);
      if (client.namespace !== undefined) rest.push(['X-Vault-Namespace', client.namespace]);
      rest.push(['X-Vault-Request', 'true']);
      if (token) rest.push(['X-Vault-Token', token]);
      if (o.wrapTTL) rest.push(['X-Vault-Wrap-TTL', o.wrapTTL]);
      if (opts.readYourWrites) for (const s of indexStates) rest.push(['X-Vault-Index', s]);
      rest.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      const headers: [string, string][] = [
        ['User-Agent', 'Go-http-client/1.1'],
        ...(body !== undefined ? [['Content-Length', String(Buffer.byteLength(body))] as [string, string]] : []),
        ...rest,
        ['Accept-Encoding', 'gzip'],
      ];
      const res = await sendRaw(address, method, target, headers, body);
      const idx = res.headers['x-vault-index'];
      if (opts.readYourWrites && typeof idx === 'string' && idx !== '' && !indexStates.includes(idx)) indexStates.push(idx);
      calls.push(res);
      return res;
    },
    read: (p, params) => client.request('GET', p, params ? { params } : {}),
    write: (p, data, o = {}) => client.request('PUT', p, { ...o, body: data }),
    list: (p) => client.request('GET', p, { params: { list: 'true' } }),
    delete: (p) => client.request('DELETE', p),
  };
  return client;
}

/**
 * Soft checks for one tool's ordered sequence. ava stops a test at its first failed assertion; a replay must go on to
 * the tool's next call, so that one run lists every call that fails. Each failed check is logged (`FAILED CALL …` for a
 * status, `FAILED CHECK …` for a field); `sequence` then asserts once that the list is empty.
 */
export interface Checks {
  /** The response's status is one of `statuses`; otherwise records method, path, status and body. */
  status(r: ReplayResponse, ...statuses: number[]): boolean;
  /** Deep equality (isDeepStrictEqual). */
  is(actual: unknown, expected: unknown, what?: string): boolean;
  true(cond: boolean, what?: string): boolean;
  false(cond: boolean, what?: string): boolean;
  regex(value: unknown, re: RegExp, what?: string): boolean;
  readonly failures: readonly string[];
}

/** Runs one tool's sequence with soft checks; a thrown error (a value the next call needs is missing) ends it. */
export async function sequence(t: ExecutionContext, fn: (c: Checks) => Promise<void>): Promise<void> {
  const failures: string[] = [];
  const record = (ok: boolean, msg: string): boolean => {
    if (!ok) {
      failures.push(msg);
      t.log(msg);
    }
    return ok;
  };
  const c: Checks = {
    failures,
    status: (r, ...statuses) =>
      record(statuses.includes(r.status), `FAILED CALL ${r.method} ${r.target} → ${r.status} ${r.text.slice(0, 300)} (expected ${statuses.join(' or ')})`),
    is: (actual, expected, what) => record(isDeepStrictEqual(actual, expected), `FAILED CHECK ${what ?? 'value'}: got ${show(actual)}, expected ${show(expected)}`),
    true: (cond, what) => record(cond, `FAILED CHECK ${what ?? 'expected true'}`),
    false: (cond, what) => record(!cond, `FAILED CHECK ${what ?? 'expected false'}`),
    regex: (value, re, what) => record(typeof value === 'string' && re.test(value), `FAILED CHECK ${what ?? 'value'}: ${show(value)} does not match ${String(re)}`),
  };
  try {
    await fn(c);
  } catch (err) {
    record(false, `SEQUENCE STOPPED ${err instanceof Error ? err.message : String(err)}`);
  }
  t.deepEqual(failures, [], `${failures.length} failed call(s)/check(s) in this sequence`);
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** `data` of a Vault response, or `{}`. */
export function dataOf(r: ReplayResponse): Record<string, unknown> {
  const d = (r.json as { data?: unknown } | undefined)?.data;
  return d !== null && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : {};
}

/** `auth` of a Vault response, or `{}`. */
export function authOf(r: ReplayResponse): Record<string, unknown> {
  const a = (r.json as { auth?: unknown } | undefined)?.auth;
  return a !== null && typeof a === 'object' && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
}

/** A string field the tool needs for its next call; throws (ending the sequence) with the call that did not give it. */
export function need(r: ReplayResponse, value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new Error(`${what} missing from ${r.method} ${r.target} → ${r.status} ${r.text.slice(0, 400)}`);
  return value;
}

/** Go's time.Duration.String() for whole seconds (what `duration.String()` sends, e.g. 2160h → "2160h0m0s"). */
export function goDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
