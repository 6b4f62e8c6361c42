/** AppRole auth method (DESIGN §5), wire-compatible with Vault's `approle`. */
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createRoleIdIndex, type AppRoleDeps } from './model.ts';
import { createLoginPaths } from './paths/login.ts';
import { createRolePaths } from './paths/role.ts';
import { createSecretIdPaths } from './paths/secret-id.ts';

export function createAppRoleEngine(deps: EngineDeps): Engine {
  const appDeps: AppRoleDeps = { storage: deps.storage, lockout: deps.lockout, clock: deps.clock, random: deps.random, log: deps.log };
  const index = createRoleIdIndex(appDeps);
  return {
    paths: [...createLoginPaths(appDeps, index), ...createRolePaths(appDeps, index), ...createSecretIdPaths(appDeps)],
  };
}

export const approleEngine: EngineFactory = {
  type: 'approle',
  class: 'auth',
  create: createAppRoleEngine,
};
