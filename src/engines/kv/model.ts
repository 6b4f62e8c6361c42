/**
 * KV v2 stored model: types, storage keys, load/save helpers and the conversions to Vault's wire shape.
 *
 * Per secret path P:
 *   meta/P             → SecretMeta (JSON), including a copy of the current version's data while it is live,
 *                        so that reading the latest version costs one storage round trip.
 *   ver/P/<0000000042> → the data of version 42 (JSON).
 *   config             → KvConfig (JSON).
 */
import { badRequest } from '../../lib/errors.ts';
import { formatDuration } from '../../lib/durations.ts';
import type { Clock } from '../../lib/clock.ts';
import type { EngineStorage, StorageView } from '../../core/engine.ts';

export type SecretData = Record<string, unknown>;

export interface VersionMeta {
  createdTime: string;
  /** RFC 3339, or '' when the version is not (scheduled to be) deleted. */
  deletionTime: string;
  destroyed: boolean;
}

export interface SecretMeta {
  currentVersion: number;
  oldestVersion: number;
  /** 0: use the mount config. */
  maxVersions: number;
  casRequired: boolean;
  /** Seconds; 0: use the mount config. */
  deleteVersionAfter: number;
  customMetadata: Record<string, string>;
  createdTime: string;
  updatedTime: string;
  versions: Record<string, VersionMeta>;
  /** The current version's data, present only while that version is live. */
  latest?: { version: number; data: SecretData };
}

export interface KvConfig {
  maxVersions: number;
  casRequired: boolean;
  deleteVersionAfter: number;
}

export interface KvDeps {
  storage: EngineStorage;
  clock: Clock;
}

export const DEFAULT_MAX_VERSIONS = 10;
export const MAX_PATH_LENGTH = 512;
export const CONFIG_KEY = 'config';
export const DEFAULT_CONFIG: KvConfig = Object.freeze({ maxVersions: 0, casRequired: false, deleteVersionAfter: 0 });

export const metaKey = (path: string): string => `meta/${path}`;
export const versionKey = (path: string, version: number): string => `ver/${path}/${String(version).padStart(10, '0')}`;

export const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The secret path from a `*path` parameter: non-empty segments, at most 512 characters. */
export function secretPath(params: Readonly<Record<string, string>>): string {
  const path = params.path ?? '';
  if (path.length === 0) throw badRequest('missing path');
  if (path.length > MAX_PATH_LENGTH) throw badRequest(`path: must be at most ${MAX_PATH_LENGTH} characters`);
  if (path.split('/').some((segment) => segment.length === 0)) throw badRequest('path: segments must not be empty');
  return path;
}

export const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const decode = <T>(raw: Buffer): T => JSON.parse(raw.toString('utf8')) as T;

export const decodeMeta = (raw: Buffer | null | undefined): SecretMeta | null => (raw ? decode<SecretMeta>(raw) : null);
export const decodeConfig = (raw: Buffer | null | undefined): KvConfig =>
  raw ? { ...DEFAULT_CONFIG, ...decode<Partial<KvConfig>>(raw) } : { ...DEFAULT_CONFIG };
export const decodeData = (raw: Buffer): SecretData => decode<SecretData>(raw);

export function newMeta(now: Date): SecretMeta {
  const t = now.toISOString();
  return {
    currentVersion: 0,
    oldestVersion: 0,
    maxVersions: 0,
    casRequired: false,
    deleteVersionAfter: 0,
    customMetadata: {},
    createdTime: t,
    updatedTime: t,
    versions: {},
  };
}

/** Existence check for policies: a write to an existing secret needs `update`, to a new one `create`. */
export const secretExists = (deps: KvDeps) => async (req: { params: Readonly<Record<string, string>> }): Promise<boolean> =>
  (await deps.storage.get(metaKey(secretPath(req.params)))) !== null;

export async function loadConfig(s: StorageView): Promise<KvConfig> {
  return decodeConfig(await s.get(CONFIG_KEY));
}

/** Metadata and mount config in one round trip (inside a `locked` transaction for writers). */
export async function loadMetaAndConfig(s: StorageView, path: string): Promise<{ meta: SecretMeta | null; config: KvConfig }> {
  const m = await s.getMany([metaKey(path), CONFIG_KEY]);
  return { meta: decodeMeta(m.get(metaKey(path))), config: decodeConfig(m.get(CONFIG_KEY)) };
}

export async function saveMeta(s: StorageView, path: string, meta: SecretMeta): Promise<void> {
  await s.put(metaKey(path), encode(meta));
}

/** Deleted (deletion time reached) or destroyed versions are not live. */
export function isLive(vm: VersionMeta, now: Date): boolean {
  if (vm.destroyed) return false;
  return vm.deletionTime === '' || Date.parse(vm.deletionTime) > now.getTime();
}

export const versionNumbers = (meta: SecretMeta): number[] => Object.keys(meta.versions).map(Number);

/** The data of the current version if it is live, read from the `latest` copy or else from its version entry. */
export async function liveCurrentData(s: StorageView, path: string, meta: SecretMeta, now: Date): Promise<SecretData | null> {
  const vm = meta.versions[String(meta.currentVersion)];
  if (!vm || !isLive(vm, now)) return null;
  if (meta.latest?.version === meta.currentVersion) return meta.latest.data;
  const raw = await s.get(versionKey(path, meta.currentVersion));
  return raw ? decodeData(raw) : null;
}

/** Keeps the `latest` copy in step with the current version's liveness (after delete, undelete, destroy). */
export async function syncLatest(s: StorageView, path: string, meta: SecretMeta, now: Date): Promise<SecretMeta> {
  const { latest: _dropped, ...rest } = meta;
  const data = await liveCurrentData(s, path, meta, now);
  return data ? { ...rest, latest: { version: meta.currentVersion, data } } : rest;
}

// ---- wire conversion (Vault's snake_case) ----

const customMetadataWire = (meta: SecretMeta): Record<string, string> | null =>
  Object.keys(meta.customMetadata).length > 0 ? meta.customMetadata : null;

export function versionWire(meta: SecretMeta, version: number, vm: VersionMeta): Record<string, unknown> {
  return {
    created_time: vm.createdTime,
    custom_metadata: customMetadataWire(meta),
    deletion_time: vm.deletionTime,
    destroyed: vm.destroyed,
    version,
  };
}

export function metadataWire(meta: SecretMeta): Record<string, unknown> {
  const versions = Object.fromEntries(
    Object.entries(meta.versions).map(([n, vm]) => [
      n,
      { created_time: vm.createdTime, deletion_time: vm.deletionTime, destroyed: vm.destroyed },
    ]),
  );
  return {
    cas_required: meta.casRequired,
    created_time: meta.createdTime,
    current_version: meta.currentVersion,
    custom_metadata: customMetadataWire(meta),
    delete_version_after: formatDuration(meta.deleteVersionAfter),
    max_versions: meta.maxVersions,
    oldest_version: meta.oldestVersion,
    updated_time: meta.updatedTime,
    versions,
  };
}

/** A mount's delete_version_after when a negative one was written: deletion disabled on all keys (Vault's -1s). */
export const DELETE_AFTER_DISABLED = -1;

export function configWire(config: KvConfig): Record<string, unknown> {
  return {
    cas_required: config.casRequired,
    delete_version_after: config.deleteVersionAfter < 0 ? '-1s' : formatDuration(config.deleteVersionAfter),
    max_versions: config.maxVersions,
  };
}
