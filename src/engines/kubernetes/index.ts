/** The `kubernetes` auth method: service-account JWTs verified locally (pem_keys) or by the cluster (TokenReview). */
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createLocalCredentials } from './local-credentials.ts';
import { createConfigPaths } from './paths/config.ts';
import { createLoginPaths } from './paths/login.ts';
import { createRolePaths } from './paths/role.ts';

export function createKubernetesEngine(deps: EngineDeps): Engine {
  const k8sDeps = { storage: deps.storage };
  return {
    paths: [
      ...createConfigPaths(k8sDeps),
      ...createRolePaths(k8sDeps),
      ...createLoginPaths({ ...k8sDeps, log: deps.log, now: () => deps.clock.now(), local: createLocalCredentials() }),
    ],
  };
}

export const kubernetesEngine: EngineFactory = { type: 'kubernetes', class: 'auth', create: createKubernetesEngine };
