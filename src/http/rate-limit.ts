import type Koa from 'koa';
import type { ActiveQuota, QuotaLimiter } from '../core/quotas/quotas.ts';
import { AppError, isAppError } from '../lib/errors.ts';
import { parseApiPath } from './request-path.ts';
import type { AppState } from './state.ts';

const SLASH = 47;

/**
 * The quota for a request. A plain "/v1/…" path (no percent-encoding, no leading empty segment) is matched in the
 * raw URL without copying it; anything else is decoded the way the vault adapter decodes it, so that encoding a
 * path cannot dodge its quota. Paths the adapter would refuse anyway are not counted.
 */
function quotaFor(limiter: QuotaLimiter, ctx: Koa.Context): ActiveQuota | null {
  const raw = ctx.path;
  if (raw.startsWith('/v1/') && raw.charCodeAt(4) !== SLASH && !raw.includes('%')) {
    return limiter.quotaFor(raw, 4);
  }
  try {
    return limiter.quotaFor(parseApiPath(ctx.req.url ?? '/'), 0);
  } catch (err) {
    if (isAppError(err)) return null;
    throw err;
  }
}

/**
 * Rate-limit quotas, checked before anything else looks at the request (authentication included, so that a flood
 * of bad tokens is limited too). A request on a path without a quota costs a length check.
 */
export function createRateLimitMiddleware(limiter: QuotaLimiter): Koa.Middleware<AppState> {
  return async (ctx, next) => {
    if (!limiter.hasQuotas()) return next();
    const quota = quotaFor(limiter, ctx);
    if (!quota) return next();
    const d = await limiter.take(quota, ctx.request.ip);
    if (limiter.headersEnabled()) {
      ctx.set('X-Ratelimit-Limit', String(d.limit));
      ctx.set('X-Ratelimit-Remaining', String(d.remaining));
      ctx.set('X-Ratelimit-Reset', String(d.resetSeconds));
    }
    if (!d.allowed) throw new AppError('rate_limited', 'rate limit quota exceeded', [], { retryAfterSeconds: d.retryAfterSeconds });
    return next();
  };
}
