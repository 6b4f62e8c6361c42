import { z } from 'zod';
import { parseDuration } from '../../lib/durations.ts';
import { badRequest, notFound } from '../../lib/errors.ts';
import { op, withParams, type PathDef } from '../engine.ts';
import type { QuotaLimiter, RateLimitQuota } from '../quotas/quotas.ts';
import { checkName } from '../../lib/names.ts';
import { normalizeApiPath } from '../quotas/paths.ts';

const byName = withParams(z.object({ name: z.string() }));

const MAX_RATE = 1_000_000_000;
const MAX_SECONDS = 30 * 86_400;

const duration = z.union([z.number(), z.string().max(32)], { error: 'must be a duration such as "1s" or a number of seconds' });
const boolish = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' });

const quotaInput = z.object({
  // Go's ParseFloat forms, exponents included ("1e2"); the sign and range are checked below.
  rate: z.union([z.number(), z.string().trim().regex(/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/).transform(Number)], {
    error: 'must be a number of requests per interval greater than 0',
  }),
  interval: duration.optional(),
  block_interval: duration.optional(),
  path: z.string({ error: 'must be a string' }).max(1024).optional(),
  role: z.string({ error: 'must be a string' }).max(256).optional(),
  // Vault: whether child namespaces inherit the quota. sealbox has no namespaces, so there is nothing to inherit.
  inheritable: boolish.optional(),
});

const configInput = z.object({
  enable_rate_limit_response_headers: boolish.optional(),
  // Requests refused by a quota are not audited (they are refused before authentication); the default is accepted.
  enable_rate_limit_audit_logging: boolish.refine((v) => !v, { error: 'auditing requests refused by a quota is not supported' }).optional(),
  rate_limit_exempt_paths: z
    .union([z.array(z.string().max(512)).max(256), z.string().max(64 * 1024)], { error: 'must be a list of paths' })
    .optional(),
});

const quotaWire = (q: RateLimitQuota) => ({
  name: q.name,
  type: 'rate-limit',
  path: q.path,
  role: '',
  rate: q.rate,
  interval: q.intervalSeconds,
  block_interval: q.blockIntervalSeconds,
  inheritable: false,
});

function seconds(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  const s = parseDuration(value, field);
  if (s > MAX_SECONDS) throw badRequest(`${field}: must be at most ${MAX_SECONDS / 86_400} days`);
  return s;
}

export interface SysQuotasDeps {
  quotas: QuotaLimiter;
  /** The mount ("secret/") that serves an API path, or null. */
  mountPathFor: (path: string) => string | null;
}

/** sys/quotas/rate-limit/:name and sys/quotas/config, as Vault has them. */
export function sysQuotasPaths(deps: SysQuotasDeps): PathDef[] {
  const { quotas } = deps;

  /** '' stays global; otherwise the path must lie in a mount, and a bare mount is named with its trailing slash. */
  const quotaPath = (raw: string): string => {
    const p = normalizeApiPath(raw, 'path');
    if (p === '') return '';
    const mount = deps.mountPathFor(p);
    if (!mount) throw badRequest(`path: invalid mount path "${p.slice(0, 120)}"`);
    return `${p}/` === mount ? mount : p;
  };

  const list = op(z.object({}), async () => {
    const keys = (await quotas.list()).map((q) => q.name);
    if (keys.length === 0) throw notFound();
    return { data: { keys } };
  });

  return [
    { pattern: 'quotas/rate-limit', operations: { list } },
    {
      pattern: 'quotas/rate-limit/:name',
      operations: {
        read: byName.op(z.object({}), async ({ params }) => {
          const q = await quotas.get(params.name);
          if (!q) throw notFound();
          return { data: quotaWire(q) };
        }),
        update: byName.op(quotaInput, async ({ params, input }) => {
          const name = params.name;
          checkName(name, 'quota name');
          if (input.rate <= 0 || input.rate > MAX_RATE) throw badRequest(`rate: must be greater than 0 and at most ${MAX_RATE}`);
          if (input.role !== undefined && input.role !== '') throw badRequest('role: role-based rate limit quotas are not supported');
          await quotas.put({
            name,
            path: quotaPath(input.path ?? ''),
            rate: input.rate,
            // Vault: an interval of 0 means the default of one second.
            intervalSeconds: seconds(input.interval, 'interval', 1) || 1,
            blockIntervalSeconds: seconds(input.block_interval, 'block_interval', 0),
          });
          return {};
        }),
        delete: byName.op(z.object({}), async ({ params }) => {
          await quotas.delete(params.name);
          return {};
        }),
      },
    },
    {
      pattern: 'quotas/config',
      operations: {
        read: op(z.object({}), async () => {
          const c = await quotas.getConfig();
          return {
            data: {
              enable_rate_limit_audit_logging: false,
              enable_rate_limit_response_headers: c.enableRateLimitResponseHeaders,
              rate_limit_exempt_paths: c.rateLimitExemptPaths,
            },
          };
        }),
        update: op(configInput, async ({ input }) => {
          const current = await quotas.getConfig();
          const exempt = input.rate_limit_exempt_paths;
          await quotas.putConfig({
            enableRateLimitResponseHeaders: input.enable_rate_limit_response_headers ?? current.enableRateLimitResponseHeaders,
            rateLimitExemptPaths:
              exempt === undefined
                ? current.rateLimitExemptPaths
                : typeof exempt === 'string'
                  ? exempt.split(',').map((p) => p.trim()).filter((p) => p !== '')
                  : exempt,
          });
          return {};
        }),
      },
    },
  ];
}
