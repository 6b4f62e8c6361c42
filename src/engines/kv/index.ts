/** KV secrets engine (DESIGN §5), wire-compatible with Vault's kv-v2, and kv v1 on mounts with options.version "1". */
import { badRequest } from '../../lib/errors.ts';
import type { Engine, EngineDeps, EngineFactory } from '../../core/engine.ts';
import { createConfigPaths } from './paths/config.ts';
import { createDataPaths } from './paths/data.ts';
import { createMetadataPaths } from './paths/metadata.ts';
import { createVersionsPaths } from './paths/versions.ts';
import { createRotateConfigPaths } from './paths/rotate-config.ts';
import { createKvV1Paths } from './v1.ts';
import { dataVersion, kvRotationTarget, ROTATION_KIND } from './rotation.ts';

/**
 * `version` "1" or 1: KV v1. "2", 2 or nothing: KV v2 (Vault mounts v1 when `kv` has no version; sealbox keeps v2, its
 * behaviour since the start, so that existing `type: kv` mounts and scripts do not change).
 */
export function kvMountOptions(options: Record<string, unknown>): Record<string, unknown> {
  const version = options.version;
  if (version === '1' || version === 1) return { version: '1' };
  if (version === undefined || version === null || version === '' || version === '2' || version === 2) return { version: '2' };
  throw badRequest('options.version: must be "1" or "2"');
}

export function createKvEngine(deps: EngineDeps): Engine {
  const kvDeps = { storage: deps.storage, clock: deps.clock };
  if (deps.mount.options.version === '1') return { paths: createKvV1Paths(kvDeps) };
  return {
    paths: [
      ...createDataPaths(kvDeps),
      ...createMetadataPaths(kvDeps),
      ...createVersionsPaths(kvDeps),
      ...createConfigPaths(kvDeps),
      ...createRotateConfigPaths(deps),
    ],
    rotations: { [ROTATION_KIND]: kvRotationTarget(deps) },
    currentVersion: (path) => dataVersion(deps.storage, path),
  };
}

export const kvEngine: EngineFactory = {
  type: 'kv',
  class: 'secret',
  mountOptions: kvMountOptions,
  create: createKvEngine,
};
