/** The `jwt` auth method (Vault's jwt plugin, JWT login only): config, roles and login. */
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createConfigPaths } from './paths/config.ts';
import { createLoginPaths } from './paths/login.ts';
import { createRolePaths } from './paths/role.ts';

export function createJwtEngine(deps: EngineDeps): Engine {
  const jwtDeps = { storage: deps.storage };
  return {
    paths: [
      ...createConfigPaths(jwtDeps),
      ...createRolePaths(jwtDeps),
      ...createLoginPaths({ ...jwtDeps, log: deps.log, now: () => deps.clock.now() }),
    ],
  };
}

export const jwtEngine: EngineFactory = { type: 'jwt', class: 'auth', create: createJwtEngine };
