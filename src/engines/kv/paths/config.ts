/** config: the mount-wide defaults (max_versions, cas_required, delete_version_after). */
import { z } from 'zod';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { boolField, durationField, maxVersionsField } from '../input.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { CONFIG_KEY, DELETE_AFTER_DISABLED, configWire, encode, loadConfig, type KvConfig, type KvDeps } from '../model.ts';

const configInput = z.object({
  max_versions: maxVersionsField.optional(),
  cas_required: boolField.optional(),
  delete_version_after: durationField.optional(),
});
type ConfigInput = z.output<typeof configInput>;

/**
 * Vault's config delete_version_after: a negative duration disables deletion on all keys (stored as -1 and read back
 * as "-1s", as Vault does), zero clears it, a positive one applies.
 */
function deleteAfterOf(v: string | number): number {
  const negative = typeof v === 'number' ? v < 0 : v.trim().startsWith('-');
  if (!negative) return parseDuration(v, 'delete_version_after');
  parseDuration(typeof v === 'number' ? -v : v.trim().slice(1), 'delete_version_after');
  return DELETE_AFTER_DISABLED;
}

function applyConfig(config: KvConfig, input: ConfigInput): KvConfig {
  return {
    maxVersions: input.max_versions ?? config.maxVersions,
    casRequired: input.cas_required ?? config.casRequired,
    deleteVersionAfter:
      input.delete_version_after === undefined ? config.deleteVersionAfter : deleteAfterOf(input.delete_version_after),
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
