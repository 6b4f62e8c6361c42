/**
 * Phase 2 of buildApp: the security core (barrier, row integrity, seal, tokens, policies, quotas, response wrapping)
 * and the mount table, which exists from here on (engines are given to it in the engines phase).
 */
import type { AppDeps } from '../app.ts';
import { createBarrier } from '../core/barrier/barrier.ts';
import { createCoreStorage } from '../core/barrier/core-storage.ts';
import { createEntryCache } from '../core/barrier/entry-cache.ts';
import { checkedPasswordPolicies } from '../core/integrity/password-policies.ts';
import { createRowMac, rowMacEnabled } from '../core/integrity/row-mac.ts';
import { createTtlPolicy } from '../core/leases/ttl-policy.ts';
import { createMountTable } from '../core/mounts/mounts.ts';
import { createPasswordGenerator } from '../core/policy/passwords.ts';
import { createAclAuthorizer, createPolicies } from '../core/policy/policies.ts';
import { createQuotaLimiter } from '../core/quotas/quotas.ts';
import { createSealManager } from '../core/seal/seal-manager.ts';
import { loadStaticKey } from '../core/seal/static-seal.ts';
import { createTokens } from '../core/tokens/tokens.ts';
import { createResponseWrapping } from '../core/tokens/wrapping.ts';
import { ENGINE_FACTORIES } from '../engine-registry.ts';
import { systemClock } from '../lib/clock.ts';
import type { StorageBundle } from './storage.ts';

export async function buildCore({ config, log, clock, random }: AppDeps, { db, stores }: StorageBundle) {
  const barrier = createBarrier({ db, sealStore: stores.seal, random, clock });
  const sealed = () => barrier.isSealed();
  // Row integrity (issue 13): the key is the barrier's, so every check needs the broker unsealed.
  const rowMac = createRowMac({ deriveKey: (p) => barrier.deriveKey(p), log: log.child({ component: 'integrity' }), enabled: rowMacEnabled(process.env) });
  const seal = createSealManager({ db, sealStore: stores.seal, barrier, random, sealType: config.seal.type, rowMac });
  const tokens = createTokens({
    db,
    store: stores.tokens,
    barrier,
    random,
    clock,
    limits: { defaultTtl: config.token_default_ttl, maxTtl: config.token_max_ttl },
    rowMac,
  });
  // Rate-limit windows are cut on the database clock, where replicas on real time agree; a broker on any other clock
  // (a test's FakeClock) cuts them on that clock, which the database's real time cannot follow (core/quotas/quotas.ts).
  const windows = clock === systemClock ? 'database' : 'clock';
  const quotas = createQuotaLimiter({ db, store: stores.quotas, clock, windows, log: log.child({ component: 'quotas' }), rowMac, sealed });
  const coreStorage = (scope: string) => createCoreStorage({ db, store: stores.coreEntries, barrier, scope });
  const wrapping = createResponseWrapping({ tokens, storage: coreStorage('sys'), clock });
  tokens.onRevoked((accessors) => wrapping.forget(accessors));
  const policies = createPolicies({ db, store: stores.policies, log, rowMac });
  const authorizer = createAclAuthorizer(policies);
  const passwordPolicies = checkedPasswordPolicies(db, stores.passwordPolicies, rowMac);
  const passwords = createPasswordGenerator({ store: passwordPolicies, random });
  const ttl = createTtlPolicy({ defaultTtl: config.lease_default_ttl, maxTtl: config.lease_max_ttl });
  const mounts = createMountTable({ db, store: stores.mounts, random, log, factories: ENGINE_FACTORIES, rowMac, sealed });
  const staticKey = config.seal.type === 'static' && !config.dev ? await loadStaticKey({ keyFile: config.seal.key_file, key: config.seal.key }) : undefined;
  // Sealed entry records of every mount (issue 18), kept current by NOTIFY; engines read through it (wiring/engines.ts).
  const entryCache = createEntryCache({
    db,
    log: log.child({ component: 'entry-cache' }),
    maxEntries: config.entry_cache_entries,
    maxBytes: config.entry_cache_bytes,
  });
  return { entryCache, barrier, rowMac, seal, tokens, quotas, coreStorage, wrapping, policies, authorizer, passwordPolicies, passwords, ttl, mounts, staticKey };
}

export type CoreBundle = Awaited<ReturnType<typeof buildCore>>;
