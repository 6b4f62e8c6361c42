/** config: the mount-wide defaults (max_versions, cas_required, delete_version_after). */
import { z } from 'zod';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { boolField, durationField, maxVersionsField } from '../input.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { CONFIG_KEY, configWire, encode, loadConfig, type KvConfig, type KvDeps } from '../model.ts';

const configInput = z.object({
  max_versions: maxVersionsField.optional(),
  cas_required: boolField.optional(),
  delete_version_after: durationField.optional(),
});
type ConfigInput = z.output<typeof configInput>;

function applyConfig(config: KvConfig, input: ConfigInput): KvConfig {
  return {
    maxVersions: input.max_versions ?? config.maxVersions,
    casRequired: input.cas_required ?? config.casRequired,
    deleteVersionAfter:
      input.delete_version_after === undefined ? config.deleteVersionAfter : parseDuration(input.delete_version_after, 'delete_version_after'),
  };
}

async function writeConfig(deps: KvDeps, input: ConfigInput): Promise<EngineResponse> {
  await deps.storage.locked(CONFIG_KEY, async (s) => {
    await s.put(CONFIG_KEY, encode(applyConfig(await loadConfig(s), input)));
  });
  return {};
}

export function createConfigPaths(deps: KvDeps): PathDef[] {
  return [
    {
      pattern: 'config',
      operations: {
        read: op(z.object({}), async () => ({ data: configWire(await loadConfig(deps.storage)) })),
        update: op(configInput, async ({ input }) => writeConfig(deps, input)),
      },
    },
  ];
}
