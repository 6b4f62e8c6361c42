/**
 * Phase 4 of buildApp: what the mount table serves: the builtin mounts (sys/, auth/token/) and, for each stored mount,
 * its engine built from the services it may use (storage under the barrier, rotations, lease intents, lockout, events).
 */
import type { AppDeps } from '../app.ts';
import { createEngineStorage } from '../core/barrier/entry-storage.ts';
import { sysAuditDevicesPaths } from '../core/builtins/sys-audit-devices.ts';
import { sysAuditHashPaths } from '../core/builtins/sys-audit-hash.ts';
import { sysAuditTreePaths } from '../core/builtins/sys-audit-log-tree.ts';
import { sysAuditPaths } from '../core/builtins/sys-audit.ts';
import { sysEventsPaths } from '../core/builtins/sys-events.ts';
import { sysInternalPaths } from '../core/builtins/sys-internal.ts';
import { sysKeyringPaths } from '../core/builtins/sys-keyring.ts';
import { sysLeaseQuotasPaths } from '../core/builtins/sys-lease-quotas.ts';
import { sysLeasesPaths } from '../core/builtins/sys-leases.ts';
import { sysMetricsPaths } from '../core/builtins/sys-metrics.ts';
import { sysMountsPaths } from '../core/builtins/sys-mounts.ts';
import { sysPasswordPoliciesPaths } from '../core/builtins/sys-password-policies.ts';
import { sysPoliciesPaths } from '../core/builtins/sys-policies.ts';
import { sysQuotasPaths } from '../core/builtins/sys-quotas.ts';
import { sysRemountPaths } from '../core/builtins/sys-remount.ts';
import { sysRotationsPaths } from '../core/builtins/sys-rotations.ts';
import { sysSchedulerPaths } from '../core/builtins/sys-scheduler.ts';
import { sysSealPaths } from '../core/builtins/sys-seal.ts';
import { sysWrappingPaths } from '../core/builtins/sys-wrapping.ts';
import { tokenPaths } from '../core/builtins/token.ts';
import { AUDIT_HMAC, auditHmac } from '../core/audit/recorder.ts';
import { createLineage } from '../core/audit/lineage.ts';
import { createLineageIndex } from '../core/audit/lineage-index.ts';
import { sysAuditLineagePaths } from '../core/builtins/sys-audit-lineage.ts';
import type { EngineFactory, MountInfo } from '../core/engine.ts';
import { createMountGuards } from '../core/mounts/mount-guards.ts';
import { builtinMountInfo, mountAccessor } from '../core/mounts/mounts.ts';
import { createLoginLockout } from '../core/tokens/lockout.ts';
import type { CoreBundle } from './core.ts';
import type { ServicesBundle } from './services.ts';
import type { StorageBundle } from './storage.ts';
import { REPORTED_VERSION } from './version.ts';

export function buildEngines({ config, log, clock, random }: AppDeps, storage: StorageBundle, core: CoreBundle, services: ServicesBundle) {
  const { db, stores } = storage;
  const { barrier, seal, tokens, mounts, authorizer, coreStorage, staticKey } = core;
  const { audit, auditSigner, auditEntryMac, leases, rotations, leaseIntents, bus, scheduler } = services;
  const events = sysEventsPaths({ bus, tokens, authorizer });
  const mountPathFor = (p: string) => mounts.route(p)?.mounted.info.path ?? null;
  // Credential lineage (sys/audit-log/lineage): an index over the audit log, keyed by HMACs under a derived key.
  const lineageHmac = () => auditHmac(barrier.deriveKey(AUDIT_HMAC));
  const lineageIndex = createLineageIndex({ store: stores.lineage, hmac: lineageHmac, lineageKey: () => barrier.deriveKey('audit-lineage') });
  const lineage = createLineage({ store: stores.lineage, index: lineageIndex, hmac: lineageHmac, clock });
  const sysPaths = [
    ...sysSealPaths({
      seal,
      clock,
      version: REPORTED_VERSION,
      clusterName: config.cluster_name,
      staticRootKey: staticKey,
      createRootToken: (q, rootKey) => tokens.createRoot(q, rootKey),
      afterSeal: () => events.closeAll(),
      storageAvailable: storage.storageAvailable,
      afterInitialize: async (rootKey) => {
        if (staticKey) await seal.unsealWithRootKey(rootKey);
      },
    }),
    ...sysMountsPaths({ mounts }),
    ...sysWrappingPaths({ wrapping: core.wrapping }),
    ...sysRemountPaths({ mounts, storage: coreStorage('sys'), clock, random }),
    ...sysAuditDevicesPaths({ storage: coreStorage('sys'), auditFile: config.audit_enabled ? config.audit_file : undefined }),
    ...sysKeyringPaths({ barrier, rewrap: services.keyringRewrap }),
    ...sysAuditHashPaths({ hmac: () => auditHmac(barrier.deriveKey(AUDIT_HMAC)) }),
    ...sysAuditPaths({
      store: stores.auditRead,
      signer: auditSigner,
      cadence: { every: config.audit_checkpoint_every, seconds: config.audit_checkpoint_seconds },
      committedSize: () => audit?.committedSize() ?? 0,
      entryMac: auditEntryMac.mac,
      clock,
      retentionSeconds: config.audit_retention > 0 ? config.audit_retention : undefined,
    }),
    ...sysAuditTreePaths({ store: stores.auditRead, perfect: stores.auditTree.perfect, clock }),
    ...sysAuditLineagePaths({ lineage: () => lineage }),
    ...sysQuotasPaths({ quotas: core.quotas, mountPathFor }),
    ...sysLeaseQuotasPaths({ store: stores.leaseQuotas, mountPathFor, rowMac: core.rowMac }),
    ...sysLeasesPaths({ leases, now: () => clock.now() }),
    ...sysMetricsPaths({ metrics: services.metrics }),
    ...sysPasswordPoliciesPaths({ store: core.passwordPolicies, random }),
    ...events.paths,
    ...sysSchedulerPaths({ scheduler }),
    ...services.consumerPaths,
    ...sysRotationsPaths({ rotations }),
    ...sysInternalPaths({
      mounts,
      mountAccess: async (caller, mountPath) => {
        const entry = await tokens.lookupAccessor(caller.accessor);
        return entry !== null && (await authorizer.mountAccess(entry, mountPath));
      },
    }),
    ...sysPoliciesPaths({ policies: core.policies, tokens, capabilities: (t, p) => authorizer.capabilities(t, p) }),
  ];
  const lockoutPolicy = { threshold: config.lockout_threshold, windowSeconds: config.lockout_counter_reset, lockSeconds: config.lockout_duration };
  const { entryCache } = core;
  const instantiate = (factory: EngineFactory, info: MountInfo) => {
    // A new engine for this mount (a new mount, a move, a tune): nothing cached for the mount before it is kept.
    entryCache.forgetMount(info.id);
    const engine = factory.create({
      mount: info,
      ttl: core.ttl.forMount(info),
      passwords: core.passwords,
      rotations: rotations.registryFor(info),
      intents: leaseIntents.forMount(info),
      publish: (e) => bus.publish({ ...e, path: `${info.path}${e.path}` }),
      mountAccessor: mountAccessor(info),
      lockout: createLoginLockout({ db, store: stores.lockout, barrier, mountId: info.id, log: log.child({ mount: info.path }), clock, policy: lockoutPolicy }),
      storage: createEngineStorage({ db, entries: stores.entries, barrier, mountId: info.id, cache: entryCache.forMount(info.id) }),
      clock,
      random,
      log: log.child({ mount: info.path }),
    });
    return {
      ...engine,
      close: async () => {
        entryCache.forgetMount(info.id);
        await engine.close?.();
      },
    };
  };
  const canSudo = (t: Parameters<typeof authorizer.allowed>[0]) => authorizer.allowed(t, 'auth/token/create', 'update', true);
  mounts.serve({
    builtins: [
      { info: builtinMountInfo('sys', 'sys/', 'secret', 'system'), engine: { paths: sysPaths } },
      { info: builtinMountInfo('token', 'auth/token/', 'auth', 'token'), engine: { paths: tokenPaths({ tokens, storage: coreStorage('token'), canSudo }) } },
    ],
    instantiate,
    ...createMountGuards({ leases, rotations }),
  });
  return { events };
}

export type EnginesBundle = ReturnType<typeof buildEngines>;
