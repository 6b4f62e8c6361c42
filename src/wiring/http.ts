/** Phase 6 of buildApp: the request pipeline and the Koa app in front of it. */
import type { AppDeps } from '../app.ts';
import { NO_MOUNT } from '../core/metrics.ts';
import { createPipeline } from '../core/request.ts';
import { createHttpApp } from '../http/server.ts';
import type { CoreBundle } from './core.ts';
import type { ServicesBundle } from './services.ts';
import type { StorageBundle } from './storage.ts';

export function buildHttp({ config, log, clock, random }: AppDeps, { tracing }: StorageBundle, core: CoreBundle, services: ServicesBundle) {
  const { mounts, tokens, authorizer, barrier, wrapping, quotas } = core;
  const { bus, leases, auditRecorder, metrics } = services;
  const mountOf = (apiPath: string): string | null => mounts.route(apiPath)?.mounted.info.path ?? null;
  const pipeline = createPipeline({ publish: (e) => bus.publish(e), leases, mounts, tokens, authorizer, barrier, clock, audit: auditRecorder, wrapping });
  const http = createHttpApp({
    pipeline,
    log,
    random,
    maxBodyBytes: config.max_request_bytes,
    maxUnauthenticatedBodyBytes: config.max_unauthenticated_body_bytes,
    accessLog: config.access_log,
    rateLimiter: quotas,
    tracer: tracing.tracer,
    mountOf,
    // Labelled by mount path ("secret/"), never by the request path.
    onRequest: (r) => metrics.observeRequest((r.path === undefined ? null : mountOf(r.path)) ?? NO_MOUNT, r.operation ?? NO_MOUNT, r.status, r.seconds),
  });
  return { pipeline, http };
}
