/** metadata/*path: read, write (creates metadata before any data), JSON merge patch, delete everything, list keys. */
import { z } from 'zod';
import { notFound } from '../../../lib/errors.ts';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { boolField, customMetadataField, durationField, maxVersionsField, normaliseCustomMetadata } from '../input.ts';
import { parseDuration } from '../../../lib/durations.ts';
import {
  decodeMeta,
  loadMetaAndConfig,
  metaKey,
  metadataWire,
  newMeta,
  saveMeta,
  secretExists,
  secretPath,
  versionKey,
  versionNumbers,
  type KvConfig,
  type KvDeps,
  type SecretMeta,
} from '../model.ts';

const metadataInput = z.object({
  max_versions: maxVersionsField.optional(),
  cas_required: boolField.optional(),
  delete_version_after: durationField.optional(),
  custom_metadata: customMetadataField.optional(),
});
type MetadataInput = z.output<typeof metadataInput>;

const CAS_IGNORED_WARNING = '"cas_required" set to false, but is mandated by backend config. This value will be ignored.';

const hasAnyField = (input: MetadataInput): boolean =>
  input.max_versions !== undefined ||
  input.cas_required !== undefined ||
  input.delete_version_after !== undefined ||
  input.custom_metadata !== undefined;

/** Applies the given settings; custom_metadata replaces the whole map on write and merges (null removes) on patch. */
function applySettings(meta: SecretMeta, input: MetadataInput, mode: 'replace' | 'merge'): SecretMeta {
  const next = { ...meta };
  if (input.max_versions !== undefined) next.maxVersions = input.max_versions;
  if (input.cas_required !== undefined) next.casRequired = input.cas_required;
  if (input.delete_version_after !== undefined) next.deleteVersionAfter = parseDuration(input.delete_version_after, 'delete_version_after');
  if (input.custom_metadata !== undefined) {
    const incoming = input.custom_metadata;
    next.customMetadata =
      mode === 'replace'
        ? normaliseCustomMetadata(incoming)
        : normaliseCustomMetadata({ ...meta.customMetadata, ...incoming });
  }
  return next;
}

function warnings(config: KvConfig, input: MetadataInput): EngineResponse {
  return input.cas_required === false && config.casRequired ? { warnings: [CAS_IGNORED_WARNING] } : {};
}

async function readMetadata(deps: KvDeps, path: string): Promise<EngineResponse> {
  const meta = decodeMeta(await deps.storage.get(metaKey(path)));
  if (!meta) throw notFound();
  return { data: metadataWire(meta) };
}

async function writeMetadata(deps: KvDeps, path: string, input: MetadataInput): Promise<EngineResponse> {
  if (!hasAnyField(input)) return {};
  return deps.storage.locked(metaKey(path), async (s) => {
    const { meta, config } = await loadMetaAndConfig(s, path);
    await saveMeta(s, path, applySettings(meta ?? newMeta(deps.clock.now()), input, 'replace'));
    return warnings(config, input);
  });
}

async function patchMetadata(deps: KvDeps, path: string, input: MetadataInput): Promise<EngineResponse> {
  return deps.storage.locked(metaKey(path), async (s) => {
    const { meta, config } = await loadMetaAndConfig(s, path);
    if (!meta) throw notFound();
    await saveMeta(s, path, applySettings(meta, input, 'merge'));
    return warnings(config, input);
  });
}

/**
 * Removes the metadata and every version. Version keys are deleted one by one (not by prefix): `ver/a/` is
 * also a prefix of the versions of the secret `a/b`.
 */
async function deleteMetadata(deps: KvDeps, path: string): Promise<EngineResponse> {
  await deps.storage.locked(metaKey(path), async (s) => {
    const meta = decodeMeta(await s.get(metaKey(path)));
    if (!meta) return;
    await s.delete([...versionNumbers(meta).map((n) => versionKey(path, n)), metaKey(path)]);
  });
  return { events: [{ type: 'kv-v2/metadata-delete', path: `data/${path}` }] };
}

async function listKeys(deps: KvDeps, folder: string): Promise<EngineResponse> {
  const keys = await deps.storage.list(metaKey(folder === '' ? '' : `${folder}/`));
  if (keys.length === 0) throw notFound();
  return { data: { keys } };
}

export function createMetadataPaths(deps: KvDeps): PathDef[] {
  const empty = z.object({});
  return [
    {
      pattern: 'metadata',
      operations: { list: op(empty, async () => listKeys(deps, '')) },
    },
    {
      pattern: 'metadata/*path',
      exists: secretExists(deps),
      operations: {
        read: op(empty, async ({ params }) => readMetadata(deps, secretPath(params))),
        list: op(empty, async ({ params }) => listKeys(deps, secretPath(params))),
        update: op(metadataInput, async ({ params, input }) => writeMetadata(deps, secretPath(params), input)),
        patch: op(metadataInput, async ({ params, input }) => patchMetadata(deps, secretPath(params), input)),
        delete: op(empty, async ({ params }) => deleteMetadata(deps, secretPath(params))),
      },
    },
  ];
}
