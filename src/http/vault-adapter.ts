import type { Duplex } from 'node:stream';
import { TLSSocket, type DetailedPeerCertificate } from 'node:tls';
import type Koa from 'koa';
import type { Operation } from '../core/engine.ts';
import type { Pipeline } from '../core/request.ts';
import { parseDuration } from '../lib/durations.ts';
import { AppError } from '../lib/errors.ts';
import { hasBody, parseJsonObject, readBody, type BodyBudget, type BodyHold } from './body.ts';
import { renderResponse } from './vault-response.ts';
import { streamEvents } from './event-stream.ts';
import { isListRequest, transportOf } from './list-method.ts';
import { parseApiPath } from './request-path.ts';
import type { AppState } from './state.ts';
import { injectsDataAtTopLevel, withTopLevelData } from './sys-injection.ts';

function operationFor(method: string, query: URLSearchParams): Operation {
  switch (method) {
    case 'GET': {
      const list = query.get('list');
      return list === 'true' || list === '1' ? 'list' : 'read';
    }
    case 'HEAD':
      // Load balancers probe with HEAD sys/health; Koa sends the status and headers without the body.
      return 'read';
    case 'LIST':
      return 'list';
    case 'POST':
    case 'PUT':
      return 'update';
    case 'DELETE':
      return 'delete';
    case 'PATCH':
      return 'patch';
    default:
      throw new AppError('unsupported_operation', `unsupported HTTP method ${method.slice(0, 16)}`);
  }
}

function tokenFrom(headers: Koa.Request['headers']): string | null {
  const vault = headers['x-vault-token'];
  if (typeof vault === 'string' && vault.length > 0) return vault;
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim() || null;
  return null;
}

/**
 * X-Vault-Namespace (Vault Enterprise, OpenBao): sealbox has only the root namespace. Empty or "root" is that one and
 * is ignored, as Go clients send it; any other is refused, so a client that believes it is inside a namespace never
 * reads or writes the root namespace's data instead.
 */
function checkNamespace(headers: Koa.Request['headers']): void {
  const raw = headers['x-vault-namespace'];
  const value = (Array.isArray(raw) ? raw.join(',') : (raw ?? '')).trim().replace(/^\/+|\/+$/g, '');
  if (value !== '' && value !== 'root') throw new AppError('bad_request', `namespaces are not supported: X-Vault-Namespace "${value.slice(0, 100)}" (sealbox has only the root namespace)`);
}

/** X-Vault-Wrap-TTL: seconds or a Go duration ("5m", "1h30m0s"); absent or 0: no wrapping. */
function wrapTtlFrom(headers: Koa.Request['headers']): number | undefined {
  const raw = headers['x-vault-wrap-ttl'];
  if (raw === undefined || raw === '') return undefined;
  const value = Array.isArray(raw) ? raw[0] : raw;
  const format = headers['x-vault-wrap-format'];
  if (format !== undefined && format !== '' && format !== 'uuid') throw new AppError('bad_request', 'X-Vault-Wrap-Format: only "uuid" wrapping tokens are supported');
  const seconds = parseDuration(value ?? '', 'X-Vault-Wrap-TTL');
  return seconds > 0 ? seconds : undefined;
}

function queryInput(query: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of query) if (k !== 'list' && !(k in out)) out[k] = v;
  return out;
}

/** Peer chains per TLS connection: a keep-alive connection presents its certificate once. */
const peerChains = new WeakMap<TLSSocket, readonly Buffer[] | undefined>();

/** The client certificate chain of a TLS connection (leaf first, DER), or undefined when none was presented. */
function peerCertificatesOf(socket: Duplex): readonly Buffer[] | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  if (peerChains.has(socket)) return peerChains.get(socket);
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let cert: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cert?.raw && cert.raw.length > 0 && !seen.has(cert.fingerprint256) && chain.length < 16) {
    seen.add(cert.fingerprint256);
    chain.push(cert.raw);
    // Node links a self-signed certificate to itself; `seen` stops that and any other loop.
    cert = cert.issuerCertificate;
  }
  const result = chain.length > 0 ? chain : undefined;
  peerChains.set(socket, result);
  return result;
}

/**
 * Vault wire format ↔ pipeline: method and ?list → operation, body/query → input, result → envelope. A write's body is
 * read only when the pipeline asks for it: once the token is valid, or, for a path that needs none, within the shared
 * budget of unauthenticated body bytes. A body left unread (the request was refused first) closes the connection.
 */
export function createVaultAdapter(deps: { pipeline: Pipeline; maxBodyBytes: number; unauthenticatedBodies: BodyBudget }): Koa.Middleware<AppState> {
  return async (ctx) => {
    const path = parseApiPath(ctx.req.url ?? '/');
    const query = new URLSearchParams(ctx.querystring);
    // LIST arrives rewritten (list-method.ts): Node's parser refuses the method itself.
    const operation = isListRequest(ctx.req) ? 'list' : operationFor(ctx.method, query);
    ctx.state.apiPath = path;
    ctx.state.operation = operation;
    checkNamespace(ctx.headers);
    const writes = operation === 'update' || operation === 'patch';
    if (operation === 'patch' && !(ctx.get('content-type') ?? '').startsWith('application/merge-patch+json')) {
      throw new AppError('unsupported_media_type', 'PATCH requires Content-Type: application/merge-patch+json');
    }
    let read = false;
    const hold: BodyHold = { budget: deps.unauthenticatedBodies, held: 0 };
    const body = async (authenticated: boolean): Promise<Record<string, unknown>> => {
      read = true;
      try {
        return parseJsonObject(await readBody(ctx.req, deps.maxBodyBytes, authenticated ? undefined : hold));
      } catch (err) {
        if (err instanceof AppError && err.code === 'unavailable') ctx.set('Connection', 'close');
        throw err;
      }
    };
    let result;
    try {
      result = await deps.pipeline.handle({
        operation,
        path,
        rawInput: writes ? {} : queryInput(query),
        body: writes ? body : undefined,
        token: tokenFrom(ctx.headers),
        requestId: ctx.state.requestId,
        remoteAddress: ctx.request.ip,
        peerCertificates: peerCertificatesOf(transportOf(ctx.req.socket)),
        wrapTtl: wrapTtlFrom(ctx.headers),
      });
    } finally {
      hold.budget.give(hold.held);
      // Refused before its body was read: do not read it now for nothing, end the connection after the answer.
      if (!read && hasBody(ctx.req)) ctx.set('Connection', 'close');
    }
    const { response, mount } = result;
    if (response.stream) {
      streamEvents(ctx, response.stream);
      return;
    }
    const out = renderResponse(ctx.state.requestId, response, mount);
    ctx.status = out.status;
    if (out.body !== undefined) ctx.body = out.status === 200 && !out.contentType && injectsDataAtTopLevel(path) ? withTopLevelData(out.body) : out.body;
    if (out.contentType) ctx.type = out.contentType;
  };
}
