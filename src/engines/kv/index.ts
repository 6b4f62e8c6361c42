/** KV version 2 secrets engine (DESIGN §5), wire-compatible with Vault's kv-v2. */
import { badRequest } from '../../lib/errors.ts';
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createConfigPaths } from './paths/config.ts';
import { createDataPaths } from './paths/data.ts';
import { createMetadataPaths } from './paths/metadata.ts';
import { createVersionsPaths } from './paths/versions.ts';
import { createRotateConfigPaths } from './paths/rotate-config.ts';
import { kvRotationTarget, ROTATION_KIND } from './rotation.ts';

/** Accepts `version` "2", 2 or nothing; KV version 1 is not implemented. */
export function kvMountOptions(options: Record<string, unknown>): Record<string, unknown> {
  const version = options.version;
  if (version === undefined || version === null || version === '' || version === '2' || version === 2) return { version: '2' };
  throw badRequest('only KV version 2 is supported: set options.version=2');
}

export function createKvEngine(deps: EngineDeps): Engine {
  const kvDeps = { storage: deps.storage, clock: deps.clock };
  return {
    paths: [
      ...createDataPaths(kvDeps),
      ...createMetadataPaths(kvDeps),
      ...createVersionsPaths(kvDeps),
      ...createConfigPaths(kvDeps),
      ...createRotateConfigPaths(deps),
    ],
    rotations: { [ROTATION_KIND]: kvRotationTarget(deps) },
  };
}

export const kvEngine: EngineFactory = {
  type: 'kv',
  class: 'secret',
  mountOptions: kvMountOptions,
  create: createKvEngine,
};
