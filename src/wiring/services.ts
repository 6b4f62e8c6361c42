/**
 * Phase 3 of buildApp: what runs beside requests: audit and metrics, the event bus, leases (and their intents),
 * rotations (with the core keyring target), and the scheduler that runs the background jobs.
 */
import { hostname } from 'node:os';
import { Registry } from 'prom-client';
import type { AppDeps } from '../app.ts';
import { createAuditAppender } from '../core/audit/appender.ts';
import { createAuditEntryMac } from '../core/audit/entry-mac.ts';
import { createFileSink } from '../core/audit/file-sink.ts';
import { createAuditRecorder } from '../core/audit/recorder.ts';
import { rotationAuditor } from '../core/audit/rotation-audit.ts';
import { createAuditSigner } from '../core/audit/signer.ts';
import { createKeyringRewrap, keyringRotationTarget } from '../core/barrier/keyring-rewrap.ts';
import type { RotationTarget } from '../core/engine.ts';
import { createEventBus } from '../core/events.ts';
import { createScheduler } from '../core/jobs/scheduler.ts';
import { createLeaseIntents } from '../core/leases/lease-intents.ts';
import { createLeaseManager } from '../core/leases/leases.ts';
import { createMetrics } from '../core/metrics.ts';
import { wireConsumers } from '../core/consumers/wiring.ts';
import { createRotationManager, failpointsFrom } from '../core/rotations/rotations.ts';
import type { CoreBundle } from './core.ts';
import type { StorageBundle } from './storage.ts';
import { VERSION } from './version.ts';

export function buildServices({ config, log, clock, random }: AppDeps, { db, stores }: StorageBundle, core: CoreBundle) {
  const { barrier, rowMac, tokens, mounts } = core;
  const secretType = (mountId: string, type: string) => mounts.byId(mountId)?.engine.secrets?.[type] ?? null;
  const auditSigner = createAuditSigner(barrier);
  const auditEntryMac = createAuditEntryMac(barrier);
  const auditSink = config.audit_enabled && config.audit_file ? createFileSink({ path: config.audit_file, log }) : undefined;
  const metrics = createMetrics({
    registry: new Registry(),
    log: log.child({ component: 'metrics' }),
    version: VERSION,
    sources: {
      leaseCounts: (horizon) => stores.leaseMetrics.countsByMount(db, horizon),
      mountPath: (id) => mounts.byId(id)?.info.path ?? null,
      sealed: () => barrier.isSealed(),
      keyringTerm: () => (barrier.isSealed() ? null : barrier.keyStatus().term),
      auditSinkDropped: auditSink ? () => auditSink.dropped() : undefined,
      pools: () => mounts.engines().flatMap((m) => {
        const pools = m.engine.metrics?.().pools;
        return pools && pools.length > 0 ? [{ mount: m.info.path, pools }] : [];
      }),
      entryCache: () => core.entryCache.stats(),
      now: () => clock.now(),
    },
  });
  const audit = config.audit_enabled
    ? createAuditAppender({
        db,
        store: stores.audit,
        signer: auditSigner,
        log,
        clock,
        checkpointEvery: config.audit_checkpoint_every,
        checkpointSeconds: config.audit_checkpoint_seconds,
        sink: auditSink,
        entryMac: auditEntryMac.mac,
        onBatch: (entries, seconds, committed) => metrics.observeAuditBatch(entries, seconds, committed),
      })
    : null;
  if (!audit) log.warn('audit log is switched off (SEALBOX_AUDIT=false): for tests and benchmarks only');
  const auditRecorder = audit ? createAuditRecorder({ appender: audit, barrier }) : undefined;
  const leaseIntents = createLeaseIntents({
    db,
    store: stores.leaseIntents,
    barrier,
    clock,
    random,
    log: log.child({ component: 'lease-intents' }),
    graceSeconds: config.lease_intent_grace,
    secretType,
  });
  const leases = createLeaseManager({
    db,
    store: stores.leases,
    barrier,
    clock,
    random,
    log: log.child({ component: 'leases' }),
    limits: {
      maxAttempts: config.lease_revoke_max_attempts,
      backoffMs: config.lease_revoke_backoff_ms,
      irrevocableRetrySeconds: config.lease_irrevocable_retry,
    },
    ttl: core.ttl,
    secretType,
    rowMac,
    tokenAlive: async (accessor) => (await tokens.lookupAccessor(accessor)) !== null,
    forgetIntent: leaseIntents.forget,
    failpoints: failpointsFrom(process.env),
  });
  const bus = createEventBus({ db, clock, random, log: log.child({ component: 'events' }) });
  /** Rotations that belong to no mount (the barrier keyring), by kind. */
  const coreRotationTargets = new Map<string, RotationTarget>([['keyring', keyringRotationTarget({ barrier })]]);
  // Consumers of rotated secrets and their acknowledgements (issue 20): they gate a rotation's retire step.
  const consumersWired = wireConsumers({
    db,
    clock,
    windowSeconds: config.consumer_live_window,
    lookupAccessor: (a) => tokens.lookupAccessor(a),
    capabilities: (t, p) => core.authorizer.capabilities(t, p),
    route: (p) => {
      const r = mounts.route(p);
      return r ? { engine: r.mounted.engine, rest: r.rest } : null;
    },
    wake: (p) => rotations.wakeRetire(p),
  });
  const rotations = createRotationManager({
    consumers: consumersWired.consumers,
    defaultGraceSeconds: config.rotation_retire_grace,
    db,
    store: stores.rotations,
    barrier,
    clock,
    random,
    log: log.child({ component: 'rotations' }),
    replicaId: `${hostname()}/${process.pid}`,
    targetFor: (mountId, kind) => (mountId ? (mounts.byId(mountId)?.engine.rotations?.[kind] ?? null) : (coreRotationTargets.get(kind) ?? null)),
    publish: (e) => bus.publish(e),
    failpoints: failpointsFrom(process.env),
    minIntervalSeconds: config.rotation_min_interval,
    observe: (kind, result) => metrics.observeRotation(kind, result),
    rowMac,
    audit: auditRecorder ? rotationAuditor({ recorder: auditRecorder, clock, random }) : undefined,
  });
  const keyringRewrap = createKeyringRewrap({
    db,
    store: stores.keyring,
    barrier,
    clock,
    log: log.child({ component: 'keyring' }),
    entriesMoved: () => core.entryCache.flush(),
  });
  const scheduler = createScheduler({
    db,
    store: stores.scheduler,
    clock,
    log: log.child({ component: 'scheduler' }),
    replicaId: `${hostname()}/${process.pid}/${random.uuid().slice(0, 8)}`,
    ready: () => !barrier.isSealed(),
    rowMac,
  });
  return { auditSigner, auditEntryMac, audit, auditRecorder, metrics, leaseIntents, leases, bus, rotations, consumerPaths: consumersWired.paths, keyringRewrap, scheduler };
}

export type ServicesBundle = ReturnType<typeof buildServices>;
