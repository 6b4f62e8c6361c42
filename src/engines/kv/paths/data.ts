/** data/*path: read (latest or ?version=N), write with check-and-set, JSON merge patch, soft delete of the latest version. */
import { z } from 'zod';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { op, type EngineResponse, type PathDef, type StorageView } from '../../../core/engine.ts';
import { casOptions, dataField, nonNegativeInt } from '../input.ts';
import {
  decodeData,
  decodeMeta,
  encode,
  isLive,
  isPlainObject,
  liveCurrentData,
  loadMetaAndConfig,
  metaKey,
  newMeta,
  saveMeta,
  secretExists,
  secretPath,
  versionKey,
  versionWire,
  type KvConfig,
  type KvDeps,
  type SecretData,
  type SecretMeta,
} from '../model.ts';
import { addVersion, checkCas, softDelete } from '../versioning.ts';

const readInput = z.object({ version: nonNegativeInt.optional() });
const writeInput = z.object({ data: dataField, options: casOptions });

const MAX_PATCH_DEPTH = 256;

/** RFC 7396 JSON merge patch. Builds fresh objects with own properties only, so "__proto__" stays plain data. */
export function mergePatch(target: unknown, patch: unknown, depth = 0): unknown {
  if (!isPlainObject(patch)) return patch;
  if (depth > MAX_PATCH_DEPTH) throw badRequest('data: nested too deeply');
  const merged = new Map(Object.entries(isPlainObject(target) ? target : {}));
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) merged.delete(key);
    else merged.set(key, mergePatch(merged.get(key), value, depth + 1));
  }
  return Object.fromEntries(merged);
}

function dataResponse(path: string, meta: SecretMeta, version: number, data: SecretData): EngineResponse {
  const vm = meta.versions[String(version)];
  if (!vm) throw notFound();
  // Data and metadata of a version change only with the metadata's update time (delete, undelete, custom metadata).
  return { data: { data, metadata: versionWire(meta, version, vm) }, dataVersion: `${path}\u0000${version}\u0000${meta.updatedTime}\u0000${vm.deletionTime}` };
}

/**
 * A deleted or destroyed version: Vault answers 404 with the version's metadata (`data.data` null), so that clients
 * can tell a deleted secret from a missing one (RespondWithStatusCode: the whole envelope as a raw body).
 */
function deletedResponse(requestId: string, meta: SecretMeta, version: number): EngineResponse {
  const vm = meta.versions[String(version)];
  if (!vm) throw notFound();
  const envelope = { request_id: requestId, lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null };
  return { raw: { status: 404 }, data: { ...envelope, data: { data: null, metadata: versionWire(meta, version, vm) } } };
}

/** Latest version: one round trip (the metadata carries a copy of the live current version). */
async function readLatest(deps: KvDeps, path: string, requestId: string): Promise<EngineResponse> {
  const meta = decodeMeta(await deps.storage.get(metaKey(path)));
  if (!meta) throw notFound();
  const data = await liveCurrentData(deps.storage, path, meta, deps.clock.now());
  if (!data) return deletedResponse(requestId, meta, meta.currentVersion);
  return dataResponse(path, meta, meta.currentVersion, data);
}

/** A given version: metadata and version data in one round trip. */
async function readVersion(deps: KvDeps, path: string, version: number, requestId: string): Promise<EngineResponse> {
  const found = await deps.storage.getMany([metaKey(path), versionKey(path, version)]);
  const meta = decodeMeta(found.get(metaKey(path)));
  const vm = meta?.versions[String(version)];
  const raw = found.get(versionKey(path, version));
  if (!meta || !vm) throw notFound();
  if (!raw || !isLive(vm, deps.clock.now())) return deletedResponse(requestId, meta, version);
  return dataResponse(path, meta, version, decodeData(raw));
}

/** Stores a new version (and prunes old ones) inside the caller's lock; answers with the version's metadata. */
async function commitVersion(
  s: StorageView,
  path: string,
  state: { config: KvConfig; meta: SecretMeta; now: Date },
  data: SecretData,
  eventType = 'kv-v2/data-write',
): Promise<EngineResponse> {
  const added = addVersion(state.config, state.meta, data, state.now);
  await s.put(versionKey(path, added.version), encode(data));
  await saveMeta(s, path, added.meta);
  if (added.pruned.length > 0) await s.delete(added.pruned.map((n) => versionKey(path, n)));
  return { data: versionWire(added.meta, added.version, added.versionMeta), events: [{ type: eventType, path: `data/${path}`, version: added.version }] };
}

async function writeData(deps: KvDeps, path: string, data: SecretData, cas: number | undefined): Promise<EngineResponse> {
  return deps.storage.locked(metaKey(path), async (s) => {
    const now = deps.clock.now();
    const { meta: existing, config } = await loadMetaAndConfig(s, path);
    const meta = existing ?? newMeta(now);
    checkCas(config, meta, cas);
    return commitVersion(s, path, { config, meta, now }, data);
  });
}

async function patchData(deps: KvDeps, path: string, patch: SecretData, cas: number | undefined): Promise<EngineResponse> {
  return deps.storage.locked(metaKey(path), async (s) => {
    const now = deps.clock.now();
    const { meta, config } = await loadMetaAndConfig(s, path);
    if (!meta) throw notFound();
    checkCas(config, meta, cas);
    const current = await liveCurrentData(s, path, meta, now);
    if (!current) throw notFound();
    const patched = mergePatch(current, patch);
    return commitVersion(s, path, { config, meta, now }, isPlainObject(patched) ? patched : {}, 'kv-v2/data-patch');
  });
}

/** Soft-deletes the latest version; a no-op when there is none or it is already deleted or destroyed. */
async function deleteLatest(deps: KvDeps, path: string): Promise<EngineResponse> {
  await deps.storage.locked(metaKey(path), async (s) => {
    const now = deps.clock.now();
    const meta = decodeMeta(await s.get(metaKey(path)));
    const current = meta?.versions[String(meta.currentVersion)];
    if (!meta || !current || (!isLive(current, now) && !meta.latest)) return;
    const { latest: _dropped, ...rest } = softDelete(meta, [meta.currentVersion], now);
    await saveMeta(s, path, rest);
  });
  return { events: [{ type: 'kv-v2/data-delete', path: `data/${path}` }] };
}

export function createDataPaths(deps: KvDeps): PathDef[] {
  return [
    {
      pattern: 'data/*path',
      exists: secretExists(deps),
      operations: {
        read: op(readInput, async ({ params, input, requestId }) => {
          const path = secretPath(params);
          const version = input.version ?? 0;
          return version === 0 ? readLatest(deps, path, requestId) : readVersion(deps, path, version, requestId);
        }),
        update: op(writeInput, async ({ params, input }) => writeData(deps, secretPath(params), input.data, input.options?.cas)),
        patch: op(writeInput, async ({ params, input }) => patchData(deps, secretPath(params), input.data, input.options?.cas)),
        delete: op(z.object({}), async ({ params }) => deleteLatest(deps, secretPath(params))),
      },
    },
  ];
}
