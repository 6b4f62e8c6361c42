/** Database secrets engine for PostgreSQL targets (DESIGN §5), wire-compatible with Vault's `database`. */
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createCredsSecret } from './creds-secret.ts';
import type { DbDeps } from './deps.ts';
import { createConfigPaths } from './paths/config.ts';
import { CREDS_SECRET, createCredsPaths } from './paths/creds.ts';
import { createRolePaths } from './paths/roles.ts';
import { createRotatePaths } from './paths/rotate.ts';
import { createTargetPools } from './pools.ts';
import { createReadCache } from './read-cache.ts';
import { createRootRotation } from './root-rotation.ts';
import { createStaticRolePaths } from './paths/static-roles.ts';
import { ROOT_KIND, STATIC_KIND } from './static-model.ts';
import { createStaticRotation } from './static-rotation.ts';

export function createDatabaseEngine(deps: EngineDeps): Engine {
  const pools = createTargetPools({ log: deps.log, clock: deps.clock });
  const cache = createReadCache(deps.storage, 1000);
  const dbDeps: DbDeps = {
    mount: deps.mount,
    storage: cache.storage,
    cachedReads: cache.cached,
    passwords: deps.passwords,
    rotations: deps.rotations,
    intents: deps.intents,
    publish: deps.publish,
    pools,
    clock: deps.clock,
    random: deps.random,
    log: deps.log,
  };
  return {
    paths: [
      ...createConfigPaths(dbDeps),
      ...createRolePaths(dbDeps),
      ...createCredsPaths(dbDeps),
      ...createRotatePaths(dbDeps),
      ...createStaticRolePaths(dbDeps),
    ],
    secrets: { [CREDS_SECRET]: createCredsSecret(dbDeps) },
    rotations: { [STATIC_KIND]: createStaticRotation(dbDeps), [ROOT_KIND]: createRootRotation(dbDeps) },
    close: () => pools.closeAll(),
    metrics: () => ({ pools: pools.stats() }),
  };
}

export const databaseEngine: EngineFactory = {
  type: 'database',
  class: 'secret',
  create: createDatabaseEngine,
};
