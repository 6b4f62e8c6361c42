/**
 * The composition root (DESIGN §10): the only place that wires storage, core, engines and HTTP together. It reads as
 * a diagram: each phase returns a typed bundle built from the ones before it; then one list says what starts, in order,
 * and `close()` undoes exactly that list in reverse.
 */
import type Koa from 'koa';
import type { Config } from './config.ts';
import { shareKeyringTerms } from './core/barrier/keyring-sync.ts';
import type { Pipeline } from './core/request.ts';
import type { Scheduler } from './core/jobs/scheduler.ts';
import type { AppState } from './http/state.ts';
import type { Clock } from './lib/clock.ts';
import type { Logger } from './lib/log.ts';
import type { Random } from './lib/random.ts';
import type { Db } from './storage/db.ts';
import { startupMark } from './lib/startup-trace.ts';
import { buildCore } from './wiring/core.ts';
import { buildEngines } from './wiring/engines.ts';
import { buildHttp } from './wiring/http.ts';
import { buildJobs } from './wiring/jobs.ts';
import { createLifecycle } from './wiring/lifecycle.ts';
import { bootSeal } from './wiring/seal-boot.ts';
import { buildServices } from './wiring/services.ts';
import { openStorage } from './wiring/storage.ts';
import { unsealSteps } from './wiring/unseal.ts';

export { REPORTED_VERSION, VERSION } from './wiring/version.ts';

export interface App {
  http: Koa<AppState>;
  /** For the broker's own internal requests (its TLS certificate from a PKI mount). */
  pipeline: Pipeline;
  /** Ends long-lived responses (event streams) when the broker starts to drain. */
  drain(): void;
  /** Printed once in dev mode. */
  dev?: { rootToken: string; unsealKey: string };
  /** The background jobs: tests advance their FakeClock, then run a job now instead of waiting for its schedule. */
  jobs: Pick<Scheduler, 'runNow' | 'tick' | 'names'>;
  close(): Promise<void>;
}

export interface AppDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  random: Random;
  /** false: background jobs start no timer and run only when kicked (App.jobs; in-process tests). Default true. */
  timers?: boolean;
  /**
   * The embedded database, already opening (`sealbox server` starts it in a worker thread before it loads the rest of
   * the broker). Used when no database_url is set; without it buildApp opens PGlite in this thread.
   */
  embeddedDb?: Promise<Db>;
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const life = createLifecycle();
  try {
    startupMark('app modules loaded');
    // The database opens (and migrates) while the broker wires itself: the wiring issues no statement.
    const storage = await openStorage(deps, life);
    const core = await buildCore(deps, storage);
    const services = buildServices(deps, storage, core);
    const { events } = buildEngines(deps, storage, core, services);
    const { expiry } = buildJobs(deps, storage, core, services);
    const { pipeline, http } = buildHttp(deps, storage, core, services);
    const { barrier, seal, tokens, policies, mounts, quotas } = core;
    const { audit, bus, scheduler } = services;
    // The timers need no statement: armed while the database opens (stopped by close() if the start fails).
    await scheduler.arm({ timers: deps.timers });
    life.own('scheduler timers', () => scheduler.stop());
    startupMark('wired');
    const applied = await storage.migrated;
    startupMark('storage open and migrated');
    barrier.onUnseal = unsealSteps(deps, storage, applied, core, services);

    let dev: App['dev'];
    await life.start([
      { name: 'policy cache', start: () => policies.listenForChanges() },
      { name: 'event bus', start: () => bus.start(), stop: () => bus.stop() },
      { name: 'mount table', start: async () => (await mounts.reload(), await mounts.listenForChanges()), stop: () => mounts.close() },
      { name: 'quotas', start: async () => (await quotas.reload(), await quotas.listenForChanges()), stop: () => quotas.close() },
      { name: 'token cache', start: () => tokens.listenForInvalidations() },
      { name: 'entry cache', start: () => core.entryCache.listen() },
      { name: 'keyring terms', start: () => shareKeyringTerms({ db: storage.db, barrier, log: deps.log }) },
      { name: 'seal', start: async () => void (dev = await bootSeal(deps, core)), stop: () => seal.seal() },
      { name: 'audit appender', stop: () => audit?.close() },
      { name: 'lease expiry', stop: () => expiry.stop() },
      { name: 'scheduler', start: () => scheduler.start({ timers: deps.timers }), stop: () => scheduler.stop() },
      { name: 'event streams', stop: () => events.closeAll() },
    ]);
    return { http, pipeline, dev, jobs: { runNow: (name) => scheduler.runNow(name), tick: (name) => scheduler.tick(name), names: () => scheduler.names() }, drain: () => events.closeAll(), close: () => life.close() };
  } catch (err) {
    await life.close().catch((closeErr: Error) => deps.log.warn({ err: closeErr.message }, 'closing after a failed start failed'));
    throw err;
  }
}
