/** TLS certificate auth method (DESIGN §5), wire-compatible with Vault's `cert` auth: certs/:name, LIST certs, login. */
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createCertsPaths } from './paths/certs.ts';
import { createLoginPaths } from './paths/login.ts';

export function createCertEngine(deps: EngineDeps): Engine {
  const certDeps = { storage: deps.storage, clock: deps.clock };
  return {
    paths: [...createCertsPaths(certDeps), ...createLoginPaths({ ...certDeps, log: deps.log })],
  };
}

export const certEngine: EngineFactory = {
  type: 'cert',
  class: 'auth',
  create: createCertEngine,
};
