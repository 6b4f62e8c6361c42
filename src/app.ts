import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type Koa from 'koa';
import { Registry } from 'prom-client';
import type { Config } from './config.ts';
import { createBarrier } from './core/barrier.ts';
import { createAuditAppender } from './core/audit/appender.ts';
import { createFileSink } from './core/audit/file-sink.ts';
import { AUDIT_HMAC, auditHmac, createAuditRecorder } from './core/audit/recorder.ts';
import { createAuditEntryMac } from './core/audit/entry-mac.ts';
import { createAuditSigner } from './core/audit/signer.ts';
import { sysAuditHashPaths } from './core/builtins/sys-audit-hash.ts';
import { sysAuditPaths } from './core/builtins/sys-audit.ts';
import { sysAuditTreePaths } from './core/builtins/sys-audit-log-tree.ts';
import { sysInternalPaths } from './core/builtins/sys-internal.ts';
import { sysEventsPaths } from './core/builtins/sys-events.ts';
import { sysSchedulerPaths } from './core/builtins/sys-scheduler.ts';
import { sysRotationsPaths } from './core/builtins/sys-rotations.ts';
import { createRotationManager, failpointsFrom } from './core/rotations.ts';
import { createRotationsStore } from './storage/rotations-store.ts';
import { createScheduler, type Scheduler } from './core/scheduler.ts';
import { registerBackgroundJobs } from './core/jobs/background-jobs.ts';
import { createSchedulerStore } from './storage/scheduler-store.ts';
import { sysKeyringPaths } from './core/builtins/sys-keyring.ts';
import { createKeyringRewrap, keyringRotationTarget } from './core/keyring-rewrap.ts';
import { createKeyringStore } from './storage/keyring-store.ts';
import { createEventBus } from './core/events.ts';
import { sysLeaseQuotasPaths } from './core/builtins/sys-lease-quotas.ts';
import { sysLeasesPaths } from './core/builtins/sys-leases.ts';
import { sysMetricsPaths } from './core/builtins/sys-metrics.ts';
import { sysPasswordPoliciesPaths } from './core/builtins/sys-password-policies.ts';
import { createExpiryWorker } from './core/lease-expiry.ts';
import { createLeaseManager } from './core/leases.ts';
import { createLeaseIntents } from './core/lease-intents.ts';
import { createPasswordGenerator } from './core/passwords.ts';
import { sysQuotasPaths } from './core/builtins/sys-quotas.ts';
import { sysMountsPaths } from './core/builtins/sys-mounts.ts';
import { sysSealPaths } from './core/builtins/sys-seal.ts';
import { tokenPaths } from './core/builtins/token.ts';
import { sysWrappingPaths } from './core/builtins/sys-wrapping.ts';
import { sysAuditDevicesPaths } from './core/builtins/sys-audit-devices.ts';
import { sysRemountPaths } from './core/builtins/sys-remount.ts';
import { createCoreStorage } from './core/core-storage.ts';
import { createResponseWrapping } from './core/wrapping.ts';
import { createCoreEntriesStore } from './storage/core-entries-store.ts';
import { bootDevSeal } from './core/dev-seal.ts';
import type { MountInfo, RotationTarget } from './core/engine.ts';
import { createEngineStorage } from './core/entry-storage.ts';
import { createLoginLockout } from './core/lockout.ts';
import { createMetrics, NO_MOUNT } from './core/metrics.ts';
import { createMountTable, mountAccessor } from './core/mounts.ts';
import { createAclAuthorizer, createPolicies } from './core/policies.ts';
import { sysPoliciesPaths } from './core/builtins/sys-policies.ts';
import { createQuotaLimiter } from './core/quotas.ts';
import { createPipeline, type Pipeline } from './core/request.ts';
import { createSealManager } from './core/seal-manager.ts';
import { bootStaticSeal, loadStaticKey } from './core/static-seal.ts';
import { createTokens } from './core/tokens.ts';
import { adoptUnsignedRows } from './core/integrity/adopt.ts';
import { checkedPasswordPolicies } from './core/integrity/password-policies.ts';
import { createRowMac, rowMacEnabled } from './core/integrity/row-mac.ts';
import { ENGINE_FACTORIES } from './engine-registry.ts';
import { createHttpApp } from './http/server.ts';
import type { AppState } from './http/state.ts';
import type { Clock } from './lib/clock.ts';
import type { Logger } from './lib/log.ts';
import { randomBase62, type Random } from './lib/random.ts';
import { createTracing } from './lib/tracing.ts';
import { AppError } from './lib/errors.ts';
import type { Db } from './storage/db.ts';
import { createAuditReadStore } from './storage/audit-read-store.ts';
import { createAuditStore } from './storage/audit-store.ts';
import { createAuditTreeStore } from './storage/audit-tree-store.ts';
import { createEntriesStore } from './storage/entries-store.ts';
import { createLeaseMetricsStore } from './storage/lease-metrics-store.ts';
import { createLeaseQuotasStore } from './storage/lease-quotas-store.ts';
import { createLeasesStore } from './storage/leases-store.ts';
import { createLeaseIntentsStore } from './storage/lease-intents-store.ts';
import { createLockoutStore } from './storage/lockout-store.ts';
import { createPasswordPoliciesStore } from './storage/password-policies-store.ts';
import { migrate } from './storage/migrate.ts';
import { createMountsStore } from './storage/mounts-store.ts';
import { createQuotasStore } from './storage/quotas-store.ts';
import { createPoliciesStore } from './storage/policies-store.ts';
import { createPgDb } from './storage/pg-db.ts';
import { createPgliteDb } from './storage/pglite-db.ts';
import { createSealStore } from './storage/seal-store.ts';
import { createTokensStore } from './storage/tokens-store.ts';
import { tracedDb } from './storage/traced-db.ts';

export const VERSION = '0.1.0';
/**
 * What sys/seal-status and sys/health report (CONTRACT §3): the Vault API version sealbox speaks, with its own after a
 * "+" (semver build metadata), so that tools gating features on Vault's version (Terraform's provider) accept it.
 */
export const REPORTED_VERSION = `1.15.0+sealbox.${VERSION}`;
const MIGRATIONS = fileURLToPath(new URL('../migrations/', import.meta.url));

export interface App {
  http: Koa<AppState>;
  /** For the broker's own internal requests (its TLS certificate from a PKI mount). */
  pipeline: Pipeline;
  /** Ends long-lived responses (event streams) when the broker starts to drain. */
  drain(): void;
  /** Printed once in dev mode. */
  dev?: { rootToken: string; unsealKey: string };
  /** The background jobs: tests advance their FakeClock, then run a job now instead of waiting for its schedule. */
  jobs: Pick<Scheduler, 'runNow' | 'names'>;
  close(): Promise<void>;
}

export interface AppDeps {
  config: Config;
  log: Logger;
  clock: Clock;
  random: Random;
  /** false: background jobs start no timer and run only when kicked (App.jobs; in-process tests). Default true. */
  timers?: boolean;
}

async function openDb(config: Config, log: Logger): Promise<Db> {
  if (config.database_url) return createPgDb({ url: config.database_url, maxConnections: config.database_max_connections, log });
  // A fresh checkout has no ./.sealbox yet: `npm start` must create it (owner-only: it holds the data).
  await mkdir(join(config.data_dir, 'pglite'), { recursive: true, mode: 0o700 });
  return createPgliteDb(join(config.data_dir, 'pglite'), config.data_dir);
}

const builtinInfo = (id: string, path: string, cls: 'secret' | 'auth', type: string): MountInfo => ({
  id,
  path,
  class: cls,
  type,
  description: '',
  config: {},
  options: {},
});

/** The composition root: the only place that wires storage, core, engines and HTTP together. */
export async function buildApp(deps: AppDeps): Promise<App> {
  const { config, log, clock, random } = deps;
  const tracing = await createTracing({ exporter: config.tracing_exporter, endpoint: config.tracing_endpoint, serviceName: 'sealbox', version: VERSION, log });
  const untracedDb = await openDb(config, log);
  const db = tracing.tracer ? tracedDb(untracedDb, tracing.tracer) : untracedDb;
  const applied = await migrate(db, MIGRATIONS);
  if (applied.length > 0) log.info({ applied }, 'migrations applied');

  const sealStore = createSealStore(db);
  const entries = createEntriesStore();
  const lockoutStore = createLockoutStore(db);
  const barrier = createBarrier({ db, sealStore, random, clock });
  // Row integrity (issue 13): the key is the barrier's, so every check needs the broker unsealed.
  const rowMac = createRowMac({ deriveKey: (p) => barrier.deriveKey(p), log: log.child({ component: 'integrity' }), enabled: rowMacEnabled(process.env) });
  const seal = createSealManager({ db, sealStore, barrier, random, sealType: config.seal.type, rowMac });
  const tokens = createTokens({
    db,
    store: createTokensStore(db),
    barrier,
    random,
    clock,
    limits: { defaultTtl: config.token_default_ttl, maxTtl: config.token_max_ttl },
    rowMac,
  });
  const quotas = createQuotaLimiter({ db, store: createQuotasStore(db), clock, log: log.child({ component: 'quotas' }), rowMac, sealed: () => barrier.isSealed() });
  const coreEntries = createCoreEntriesStore();
  const coreStorage = (scope: string) => createCoreStorage({ db, store: coreEntries, barrier, scope });
  const wrapping = createResponseWrapping({ tokens, storage: coreStorage('sys'), clock });
  tokens.onRevoked((accessors) => wrapping.forget(accessors));
  const auditSigner = createAuditSigner(barrier);
  const auditEntryMac = createAuditEntryMac(barrier);
  const auditSink = config.audit_enabled && config.audit_file ? createFileSink({ path: config.audit_file, log }) : undefined;
  const leaseMetrics = createLeaseMetricsStore(db);
  const metrics = createMetrics({
    registry: new Registry(),
    log: log.child({ component: 'metrics' }),
    version: VERSION,
    sources: {
      leaseCounts: (horizon) => leaseMetrics.countsByMount(horizon),
      mountPath: (id) => mustMounts().byId(id)?.info.path ?? null,
      sealed: () => barrier.isSealed(),
      keyringTerm: () => (barrier.isSealed() ? null : barrier.keyStatus().term),
      auditSinkDropped: auditSink ? () => auditSink.dropped() : undefined,
      pools: () =>
        mustMounts()
          .engines()
          .flatMap((m) => {
            const pools = m.engine.metrics?.().pools;
            return pools && pools.length > 0 ? [{ mount: m.info.path, pools }] : [];
          }),
      now: () => clock.now(),
    },
  });
  const audit = config.audit_enabled
    ? createAuditAppender({
        db,
        store: createAuditStore(db),
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
  const policies = createPolicies({ db, store: createPoliciesStore(db), log, rowMac });
  await policies.listenForChanges();
  const authorizer = createAclAuthorizer(policies);
  const passwordPolicies = checkedPasswordPolicies(createPasswordPoliciesStore(db), rowMac);
  const passwords = createPasswordGenerator({ store: passwordPolicies, random });
  const leasesStore = createLeasesStore();
  const leaseIntents = createLeaseIntents({
    db,
    store: createLeaseIntentsStore(),
    barrier,
    clock,
    random,
    log: log.child({ component: 'lease-intents' }),
    graceSeconds: config.lease_intent_grace,
    secretType: (mountId, type) => mustMounts().byId(mountId)?.engine.secrets?.[type] ?? null,
  });
  const leases = createLeaseManager({
    db,
    store: leasesStore,
    barrier,
    clock,
    random,
    log: log.child({ component: 'leases' }),
    limits: {
      defaultTtl: config.lease_default_ttl,
      maxTtl: config.lease_max_ttl,
      maxAttempts: config.lease_revoke_max_attempts,
      backoffMs: config.lease_revoke_backoff_ms,
      irrevocableRetrySeconds: config.lease_irrevocable_retry,
    },
    secretType: (mountId, type) => mustMounts().byId(mountId)?.engine.secrets?.[type] ?? null,
    rowMac,
    tokenAlive: async (accessor) => (await tokens.lookupAccessor(accessor)) !== null,
    forgetIntent: leaseIntents.forget,
    failpoints: failpointsFrom(process.env),
  });
  const bus = createEventBus({ db, clock, random, log: log.child({ component: 'events' }) });
  await bus.start();
  const events = sysEventsPaths({ bus, tokens, authorizer });
  const rotationsStore = createRotationsStore();
  const rotations = createRotationManager({
    db,
    store: rotationsStore,
    barrier,
    clock,
    random,
    log: log.child({ component: 'rotations' }),
    replicaId: `${hostname()}/${process.pid}`,
    targetFor: (mountId, kind) => (mountId ? (mustMounts().byId(mountId)?.engine.rotations?.[kind] ?? null) : (coreRotationTargets.get(kind) ?? null)),
    publish: (e) => bus.publish(e),
    failpoints: failpointsFrom(process.env),
    minIntervalSeconds: config.rotation_min_interval,
    observe: (kind, result) => metrics.observeRotation(kind, result),
    rowMac,
    // Scheduled runs are not requests: each run is an audit entry of its own, as if POST sys/rotations/<id>/run.
    audit: auditRecorder
      ? async (e) => {
          const path = `sys/rotations/${e.id}/run`;
          const hmac = auditRecorder.begin(path);
          if (!hmac) return;
          await auditRecorder.record(
            {
              time: clock.now(),
              requestId: random.uuid(),
              operation: 'update',
              path,
              remoteAddress: `rotation:${e.kind}`,
              rawInput: {},
              mount: null,
              token: null,
              response: e.status === 'ok' ? { data: { status: 'ok', run_id: e.runId } } : null,
              error: e.status === 'ok' ? null : new AppError('unavailable', `rotation failed at step ${e.step ?? '?'}: ${e.error ?? ''}`),
            },
            hmac,
          );
        }
      : undefined,
  });
  /** Rotations that belong to no mount (the barrier keyring), by kind. */
  const coreRotationTargets = new Map<string, RotationTarget>();
  const keyringRewrap = createKeyringRewrap({ db, store: createKeyringStore(), barrier, clock, log: log.child({ component: 'keyring' }) });
  coreRotationTargets.set('keyring', keyringRotationTarget({ barrier }));
  const schedulerStore = createSchedulerStore();
  const scheduler = createScheduler({
    db,
    store: schedulerStore,
    clock,
    log: log.child({ component: 'scheduler' }),
    replicaId: `${hostname()}/${process.pid}/${random.uuid().slice(0, 8)}`,
    ready: () => !barrier.isSealed(),
    rowMac,
  });
  const staticKey = config.seal.type === 'static' && !config.dev ? await loadStaticKey({ keyFile: config.seal.key_file, key: config.seal.key }) : undefined;

  let mountsRef: ReturnType<typeof createMountTable> | null = null;
  const sysPaths = [
    ...sysSealPaths({
      seal,
      clock,
      version: REPORTED_VERSION,
      clusterName: config.cluster_name,
      staticRootKey: staticKey,
      createRootToken: async (q, rootKey) => {
        const token = `sbx.${randomBase62(random, 40)}`;
        await tokens.ensureRoot(token, q, rootKey);
        return token;
      },
      afterSeal: () => events.closeAll(),
      afterInitialize: async (rootKey) => {
        if (staticKey) await seal.unsealWithRootKey(rootKey);
      },
    }),
    ...sysMountsPaths({ mounts: () => mustMounts() }),
    ...sysWrappingPaths({ wrapping }),
    ...sysRemountPaths({ mounts: () => mustMounts(), storage: coreStorage('sys'), clock, random }),
    ...sysAuditDevicesPaths({ storage: coreStorage('sys'), auditFile: config.audit_enabled ? config.audit_file : undefined }),
    ...sysKeyringPaths({ barrier, rewrap: keyringRewrap }),
    ...sysAuditHashPaths({ hmac: () => auditHmac(barrier.deriveKey(AUDIT_HMAC)) }),
    ...sysAuditPaths({
      store: createAuditReadStore(db),
      signer: auditSigner,
      cadence: { every: config.audit_checkpoint_every, seconds: config.audit_checkpoint_seconds },
      committedSize: () => audit?.committedSize() ?? 0,
      entryMac: auditEntryMac.mac,
      clock,
      retentionSeconds: config.audit_retention > 0 ? config.audit_retention : undefined,
    }),
    ...sysAuditTreePaths({ store: createAuditReadStore(db), perfect: createAuditTreeStore(db).perfect, clock }),
    ...sysQuotasPaths({ quotas, mountPathFor: (p) => mustMounts().route(p)?.mounted.info.path ?? null }),
    ...sysLeaseQuotasPaths({ store: createLeaseQuotasStore(db), mountPathFor: (p) => mustMounts().route(p)?.mounted.info.path ?? null, rowMac }),
    ...sysLeasesPaths({ leases, now: () => clock.now() }),
    ...sysMetricsPaths({ metrics }),
    ...sysPasswordPoliciesPaths({ store: passwordPolicies, random }),
    ...events.paths,
    ...sysSchedulerPaths({ scheduler }),
    ...sysRotationsPaths({ rotations }),
    ...sysInternalPaths({
      mounts: () => mustMounts(),
      mountAccess: async (caller, mountPath) => {
        const entry = await tokens.lookupAccessor(caller.accessor);
        return entry !== null && (await authorizer.mountAccess(entry, mountPath));
      },
    }),
    ...sysPoliciesPaths({ policies, tokens, capabilities: (t, p) => authorizer.capabilities(t, p) }),
  ];
  // The sys/mounts paths are part of the table they manage, so they reach it lazily.
  const mustMounts = () => {
    if (!mountsRef) throw new Error('mount table not ready');
    return mountsRef;
  };
  const mounts = createMountTable({
    db,
    store: createMountsStore(db),
    random,
    log,
    factories: ENGINE_FACTORIES,
    rowMac,
    sealed: () => barrier.isSealed(),
    beforeUnmount: async (info) => {
      const r = await leases.revokePrefix(info.path, { mountId: info.id });
      if (r.failed > 0) throw new AppError('bad_request', `failed to revoke ${r.failed} leases under "${info.path}"; fix the target or use sys/leases/revoke-force, then unmount`);
      await rotationsStore.removeMount(db, info.id);
    },
    // Rotation ids (and their sealed pending values) are bound to the mount path: moving them is not supported yet.
    beforeRemount: async (info) => {
      if ((await rotationsStore.countForMount(db, info.id)) > 0) throw new AppError('bad_request', `cannot remount "${info.path}": it has scheduled rotations (sys/rotations); remove them first`);
    },
    builtins: [
      { info: builtinInfo('sys', 'sys/', 'secret', 'system'), engine: { paths: sysPaths } },
      { info: builtinInfo('token', 'auth/token/', 'auth', 'token'), engine: { paths: tokenPaths({ tokens, storage: coreStorage('token'), canSudo: (t) => authorizer.allowed(t, 'auth/token/create', 'update', true) }) } },
    ],
    instantiate: (factory, info) =>
      factory.create({
        mount: info,
        passwords,
        rotations: rotations.registryFor(info),
        intents: leaseIntents.forMount(info),
        publish: (e) => bus.publish({ ...e, path: `${info.path}${e.path}` }),
        mountAccessor: mountAccessor(info),
        lockout: createLoginLockout({
          store: lockoutStore,
          barrier,
          mountId: info.id,
          log: log.child({ mount: info.path }),
          clock,
          policy: { threshold: config.lockout_threshold, windowSeconds: config.lockout_counter_reset, lockSeconds: config.lockout_duration },
        }),
        storage: createEngineStorage({ db, entries, barrier, mountId: info.id }),
        clock,
        random,
        log: log.child({ mount: info.path }),
      }),
  });
  mountsRef = mounts;
  await mounts.reload();
  await mounts.listenForChanges();
  await quotas.reload();
  await quotas.listenForChanges();
  await tokens.listenForInvalidations();
  // What needs the root key runs at every unseal: the seal configuration is checked, rows from before migration 0008
  // are adopted (only by the process that applied it, or with SEALBOX_ADOPT_UNSIGNED_ROWS=1), the built-in rows are
  // written signed, and the mount table and quotas are loaded (and checked) again.
  let adoptRows = applied.some((f) => f.startsWith('0008_')) || process.env.SEALBOX_ADOPT_UNSIGNED_ROWS === '1';
  barrier.onUnseal = async () => {
    // The audit keys are kept from here: the request that seals the barrier is still appended, MAC'd and signed.
    auditEntryMac.keep();
    auditSigner.publicKey();
    if (adoptRows) {
      await adoptUnsignedRows({ db, rowMac, log });
      adoptRows = false;
    }
    await seal.checkConfig();
    await policies.ensureDefault();
    await rotations.ensureCore('sys/keyring', 'keyring', config.keyring_rotation_schedule ?? null);
    await mounts.reload();
    await quotas.reload();
  };
  const KEYRING_CHANNEL = 'sealbox_keyring';
  barrier.onRotate = () => db.notify(KEYRING_CHANNEL, 'rotated');
  await db.listen(KEYRING_CHANNEL, () => barrier.refresh().catch((err: Error) => log.warn({ err: err.message }, 'keyring refresh failed')));

  let dev: App['dev'];
  if (config.dev) {
    const creds = await bootDevSeal(
      {
        dataDir: config.data_dir,
        seal,
        tokens,
        random,
        onInitialize: async (q, rootKey) => {
          await mounts.mount({ path: 'secret', class: 'secret', type: 'kv', description: 'key/value secret storage', config: {}, options: { version: '2' } }, q, rootKey);
        },
      },
      config.dev_root_token,
    );
    await mounts.reload();
    dev = { rootToken: creds.root_token, unsealKey: creds.unseal_key };
  } else if (staticKey) {
    await bootStaticSeal(seal, staticKey);
  }

  const expiry = createExpiryWorker({
    db,
    store: leasesStore,
    leases,
    clock,
    log: log.child({ component: 'lease-expiry' }),
    batch: config.lease_expiry_batch,
    concurrency: config.lease_revoke_concurrency,
    ready: () => !barrier.isSealed(),
  });
  registerBackgroundJobs({ scheduler, config, db, clock, log, expiry, tokens, leases, audit, rotations, keyringRewrap, leaseIntents, mounts, lockoutStore, schedulerStore, quotas });
  await scheduler.start({ timers: deps.timers });

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
  return {
    http,
    pipeline,
    dev,
    jobs: { runNow: (name) => scheduler.runNow(name), names: () => scheduler.names() },
    drain: () => events.closeAll(),
    async close() {
      events.closeAll();
      await scheduler.stop();
      await expiry.stop();
      mounts.close();
      await audit?.close();
      seal.seal();
      quotas.close();
      await db.close();
      await tracing.shutdown();
    },
  };
}

