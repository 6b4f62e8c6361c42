/**
 * The PKI secrets engine (DESIGN §5 pki), wire-compatible with Vault's single-issuer API: a root or intermediate
 * CA per mount, roles, issue and sign, revocation with a CRL, tidy. CA private keys live only in the mount's
 * barrier-encrypted storage; leaf private keys are returned once and never stored.
 *
 * For the scheduler (CRL rebuild job): `engine.rebuildCrlIfDue()` on the engine this factory creates (type
 * `PkiEngine`) rebuilds the mount's CRL when it is past its refresh point (nextUpdate − auto_rebuild_grace_period).
 */
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { rebuildCrlIfDue } from './crl.ts';
import { createIssuerCache } from './issuer.ts';
import type { PkiDeps } from './model.ts';
import { createConfigPaths } from './paths/config.ts';
import { createFetchPaths } from './paths/fetch.ts';
import { createIntermediatePaths } from './paths/intermediate.ts';
import { createIssuerRotationPaths } from './paths/issuer-rotation.ts';
import { createIssuePaths } from './paths/issue.ts';
import { createRevokePaths } from './paths/revoke.ts';
import { createRolesPaths } from './paths/roles.ts';
import { createIssuersPaths } from './paths/issuers.ts';
import { createRootPaths } from './paths/root.ts';
import { createSignVerbatimPaths } from './paths/sign-verbatim.ts';
import { createTidyPaths } from './paths/tidy.ts';
import { chainVersion } from './issuer-retire.ts';
import { ISSUER_ROTATION_KIND, ISSUER_ROTATION_TARGET, issuerRotationTarget } from './rotation.ts';
import { createCertSecret } from './secret.ts';

export interface PkiEngine extends Engine {
  /** The scheduled CRL job: rebuilds the CRL if it is past its refresh point. Safe on every replica at once. */
  rebuildCrlIfDue(): Promise<'rebuilt' | 'fresh' | 'no-ca'>;
}

export function createPkiEngine(deps: EngineDeps): PkiEngine {
  const pki: PkiDeps = {
    storage: deps.storage,
    clock: deps.clock,
    random: deps.random,
    log: deps.log,
    ttl: deps.ttl,
  };
  const cache = createIssuerCache();
  return {
    paths: [
      ...createFetchPaths(pki, cache),
      ...createRootPaths(pki, cache),
      ...createIntermediatePaths(pki),
      ...createConfigPaths(pki),
      ...createRolesPaths(pki),
      ...createIssuePaths(pki, cache, { rotations: deps.rotations, kind: ISSUER_ROTATION_KIND, target: ISSUER_ROTATION_TARGET }),
      ...createSignVerbatimPaths(pki, cache),
      ...createIssuersPaths(pki),
      ...createRevokePaths(pki, cache),
      ...createTidyPaths(pki, cache),
      ...createIssuerRotationPaths(pki, cache, deps.rotations),
    ],
    rotations: { [ISSUER_ROTATION_KIND]: issuerRotationTarget(pki) },
    // Issue 20: consumers acknowledge the issuer generation they applied at cert/ca_chain.
    currentVersion: (path) => chainVersion(deps.storage, path),
    secrets: { cert: createCertSecret(pki, cache) },
    rebuildCrlIfDue: () => rebuildCrlIfDue(pki, cache),
    // The scheduler's engine-maintenance job: keeps the CRL fresh even when nobody fetches it.
    maintain: async () => {
      await rebuildCrlIfDue(pki, cache);
    },
  };
}

export const pkiEngine: EngineFactory = {
  type: 'pki',
  class: 'secret',
  create: createPkiEngine,
};
