import type Koa from 'koa';
import type { Operation } from '../core/engine.ts';
import type { Pipeline } from '../core/request.ts';
import { AppError } from '../lib/errors.ts';
import { parseJsonObject, readBody } from './body.ts';
import { renderResponse } from './envelope.ts';
import { parseApiPath } from './request-path.ts';
import type { AppState } from './state.ts';

function operationFor(method: string, query: URLSearchParams): Operation {
  switch (method) {
    case 'GET': {
      const list = query.get('list');
      return list === 'true' || list === '1' ? 'list' : 'read';
    }
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

function queryInput(query: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of query) if (k !== 'list' && !(k in out)) out[k] = v;
  return out;
}

/** Vault wire format ↔ pipeline: method and ?list → operation, body/query → input, result → envelope. */
export function createVaultAdapter(deps: { pipeline: Pipeline; maxBodyBytes: number }): Koa.Middleware<AppState> {
  return async (ctx) => {
    const path = parseApiPath(ctx.req.url ?? '/');
    const query = new URLSearchParams(ctx.querystring);
    const operation = operationFor(ctx.method, query);
    let rawInput: Record<string, unknown>;
    if (operation === 'update' || operation === 'patch') {
      if (operation === 'patch' && !(ctx.get('content-type') ?? '').startsWith('application/merge-patch+json')) {
        throw new AppError('unsupported_media_type', 'PATCH requires Content-Type: application/merge-patch+json');
      }
      rawInput = parseJsonObject(await readBody(ctx.req, deps.maxBodyBytes));
    } else {
      rawInput = queryInput(query);
    }
    const { response, mount } = await deps.pipeline.handle({
      operation,
      path,
      rawInput,
      token: tokenFrom(ctx.headers),
      requestId: ctx.state.requestId,
      remoteAddress: ctx.request.ip,
    });
    const out = renderResponse(ctx.state.requestId, response, mount);
    ctx.status = out.status;
    if (out.body !== undefined) ctx.body = out.body;
  };
}
