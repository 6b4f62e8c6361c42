/** Database secrets engine for PostgreSQL targets (DESIGN §5), wire-compatible with Vault's `database`. */
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createCredsSecret } from './creds-secret.ts';
import type { DbDeps } from './deps.ts';
import { createConfigPaths } from './paths/config.ts';
import { CREDS_SECRET, createCredsPaths } from './paths/creds.ts';
import { createRolePaths } from './paths/roles.ts';
import { createRotatePaths } from './paths/rotate.ts';
import { createCreationGuard } from './limits.ts';
import { createTargetPools } from './pools.ts';
import { createReadCache } from './read-cache.ts';
import { createSharedMemory } from './shared-record.ts';
import { createRootRotation } from './root-rotation.ts';
import { createStaticRolePaths } from './paths/static-roles.ts';
import { ROOT_KIND, STATIC_KIND } from './static-model.ts';
import { staticCredsVersion } from './static-consumers.ts';
import { createStaticRotation } from './static-rotation.ts';

export function createDatabaseEngine(deps: EngineDeps): Engine {
  const pools = createTargetPools({ log: deps.log, clock: deps.clock });
  const cache = createReadCache(deps.storage, 1000);
  const guard = createCreationGuard({ storage: cache.storage, clock: deps.clock });
  const dbDeps: DbDeps = {
    mount: deps.mount,
    ttl: deps.ttl,
    storage: cache.storage,
    cachedReads: cache.cached,
    passwords: deps.passwords,
    rotations: deps.rotations,
    intents: deps.intents,
    publish: deps.publish,
    pools,
    guard,
    sharedMemory: createSharedMemory(1000, () => deps.clock.now().getTime()),
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
    currentVersion: (path) => staticCredsVersion(dbDeps, path),
    close: () => pools.closeAll(),
    metrics: () => {
      const limits = new Map(guard.stats().map((l) => [l.config, l]));
      const open = pools.stats().map((p) => ({ ...p, liveUsers: limits.get(p.config)?.live ?? 0, creationsRefused: limits.get(p.config)?.refused ?? 0 }));
      // A config's limit figures outlive its pool (a config write closes it; a refused caller never opens one).
      const withPool = new Set(open.map((p) => p.config));
      const limitsOnly = [...limits.values()]
        .filter((l) => !withPool.has(l.config))
        .map((l) => ({ config: l.config, total: 0, idle: 0, waiting: 0, max: 0, liveUsers: l.live, creationsRefused: l.refused, noPool: true }));
      return { pools: [...open, ...limitsOnly] };
    },
  };
}

export const databaseEngine: EngineFactory = {
  type: 'database',
  class: 'secret',
  create: createDatabaseEngine,
};
