import Router from '@koa/router';
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import Koa from 'koa';
import type { QuotaLimiter } from '../core/quotas/quotas.ts';
import type { Pipeline } from '../core/request.ts';
import { isAppError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Random } from '../lib/random.ts';
import { createBodyBudget } from './body.ts';
import { ERROR_STATUS } from './error-status.ts';
import { isListRequest } from './list-method.ts';
import { createRateLimitMiddleware } from './rate-limit.ts';
import type { AppState } from './state.ts';
import { incomingContext } from './trace-context.ts';
import { createVaultAdapter } from './vault-adapter.ts';
import { createUiStatic } from './ui-static.ts';

export interface HttpDeps {
  pipeline: Pipeline;
  log: Logger;
  random: Random;
  maxBodyBytes: number;
  /** Bytes of bodies that requests needing no token (logins, sys/unseal …) may hold at once, all together. */
  maxUnauthenticatedBodyBytes: number;
  /** One info line per request (method, path, status, ms); never bodies, queries or headers. */
  accessLog: boolean;
  /** Rate-limit quotas, checked before the vault adapter (and so before authentication). */
  rateLimiter?: QuotaLimiter;
  /** Called once per finished request (metrics): the API path and operation when the request got that far. */
  onRequest?: (r: { path: string | undefined; operation: string | undefined; status: number; seconds: number }) => void;
  /** Present only when tracing is on: one span per request, child of an incoming W3C traceparent. */
  tracer?: Tracer;
  /** The mount path ("secret/") serving an API path, for span names and attributes (never the request path itself). */
  mountOf?: (apiPath: string) => string | null;
}

/** Names the request's span by operation and mount only (`sealbox read secret/`): bounded cardinality, no secret names. */
function endRequestSpan(span: Span, deps: HttpDeps, state: AppState, status: number, errorCode: string | undefined): void {
  const mount = (state.apiPath === undefined ? null : deps.mountOf?.(state.apiPath)) ?? 'none';
  const operation = state.operation ?? 'request';
  span.updateName(`sealbox ${operation} ${mount}`);
  span.setAttributes({
    'sealbox.mount': mount,
    'sealbox.operation': operation,
    'sealbox.outcome': status < 400 ? 'success' : (errorCode ?? `http_${status}`),
    'http.response.status_code': status,
  });
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode ?? 'internal' });
  span.end();
}

/** Koa app: request id → access log → error render → no-store → rate-limit quotas → vault adapter. */
export function createHttpApp(deps: HttpDeps): Koa<AppState> {
  const app = new Koa<AppState>({ proxy: false });
  const router = new Router<AppState>();
  const adapter = createVaultAdapter({
    pipeline: deps.pipeline,
    maxBodyBytes: deps.maxBodyBytes,
    unauthenticatedBodies: createBodyBudget(deps.maxUnauthenticatedBodyBytes),
  });
  router.all('/v1', adapter);
  router.all('/v1/{*rest}', adapter);
  // The web console (GET /ui/): static files only; it talks to /v1 with the user's token like any client.
  const ui = createUiStatic();
  router.all('/ui', ui);
  router.all('/ui/{*rest}', ui);

  app.use(async (ctx, next) => {
    const requestId = deps.random.uuid();
    ctx.state.requestId = requestId;
    // A LIST arrives as LINK on the wire rewrite (list-method.ts): the logs and spans name the method the client sent.
    const method = isListRequest(ctx.req) ? 'LIST' : ctx.method;
    const span = deps.tracer?.startSpan(
      'sealbox request',
      { kind: SpanKind.SERVER, attributes: { 'sealbox.request_id': requestId, 'http.request.method': method } },
      incomingContext(ctx.headers),
    );
    // The trace id even when the caller's trace is not sampled (nothing exported): logs still correlate with it.
    const traceId = span?.spanContext().traceId;
    const bindings = traceId ? { request_id: requestId, trace_id: traceId } : { request_id: requestId };
    // A child logger only when something is logged beyond the access line (creating one per request costs).
    let child: Logger | undefined;
    Object.defineProperty(ctx.state, 'log', { get: () => (child ??= deps.log.child(bindings)), configurable: true });
    ctx.set('X-Request-Id', requestId);
    ctx.set('Cache-Control', 'no-store');
    const started = performance.now();
    let errorCode: string | undefined;
    try {
      await (span ? context.with(trace.setSpan(context.active(), span), next) : next());
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { errors: [] };
      }
    } catch (err) {
      errorCode = isAppError(err) ? err.code : 'internal';
      if (isAppError(err)) {
        ctx.status = ERROR_STATUS[err.code];
        ctx.body = { errors: err.message === '' ? [] : [err.message, ...err.details] };
        if (err.code === 'payload_too_large') ctx.set('Connection', 'close');
        if (err.retryAfterSeconds !== undefined) ctx.set('Retry-After', String(err.retryAfterSeconds));
        if (ctx.status >= 500) ctx.state.log.error({ code: err.code, msg2: err.message }, 'request failed');
      } else {
        ctx.status = 500;
        ctx.body = { errors: ['internal error'] };
        ctx.state.log.error({ err: err instanceof Error ? { name: err.name, message: err.message, stack: err.stack } : String(err) }, 'unhandled error');
      }
    } finally {
      const elapsed = performance.now() - started;
      deps.onRequest?.({ path: ctx.state.apiPath, operation: ctx.state.operation, status: ctx.status, seconds: elapsed / 1000 });
      if (span) endRequestSpan(span, deps, ctx.state, ctx.status, errorCode);
      if (deps.accessLog) {
        const ms = Math.round(elapsed * 10) / 10;
        deps.log.info({ ...bindings, method, path: ctx.path.slice(0, 256), status: ctx.status, ms }, 'request');
      }
    }
  });
  if (deps.rateLimiter) app.use(createRateLimitMiddleware(deps.rateLimiter));
  app.use(router.routes());
  return app;
}
