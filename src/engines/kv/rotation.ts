/**
 * Generated KV secrets (issue 7): a rotation policy on a KV v2 path. Core's rotation state machine drives it:
 *   create: generate the new value (and note the version it follows);   set: write it as a new version, merged into
 *   the current data (other fields such as "username" stay);  test: read it back;  finish: publish the new version;
 *   retire (issue 20): once the consumers of data/<path> acknowledged the new version (or the grace ran out), destroy
 *   the version it replaced when the policy says `destroy_previous`.
 * A resumed set finds its value among the versions written since and writes nothing twice.
 */
import type { EngineDeps, RotationTarget, StorageView } from '../../core/engine.ts';
import { badRequest } from '../../lib/errors.ts';
import { z } from 'zod';
import { getJson } from '../../lib/stored-json.ts';
import { generate, matches, storedGenerator, type Generator } from './generator.ts';
import { decodeData, decodeMeta, encode, isLive, liveCurrentData, loadMetaAndConfig, metaKey, newMeta, saveMeta, versionKey } from './model.ts';
import { addVersion } from './versioning.ts';
import { changeVersions, destroyChange } from './change-versions.ts';

/** Stored at `rotate/<path>` in the mount's storage. */
export interface RotationPolicy {
  key: string;
  generator: Generator;
  schedule: string | null;
  periodSeconds: number | null;
  /** The retire step destroys the version the rotation replaced (default false: it stays readable). */
  destroyPrevious: boolean;
}

export const ROTATION_KIND = 'rotate';
export const policyKey = (path: string): string => `rotate/${path}`;

/** The stored form of a RotationPolicy (fields added later get defaults here). */
const policySchema: z.ZodType<RotationPolicy, unknown> = z.object({
  key: z.string(),
  generator: storedGenerator,
  schedule: z.string().nullable().default(null),
  periodSeconds: z.number().nullable().default(null),
  destroyPrevious: z.boolean().default(false),
});

export const loadPolicy = (s: StorageView, path: string): Promise<RotationPolicy | null> => getJson(s, policyKey(path), policySchema);

type RotationDeps = Pick<EngineDeps, 'storage' | 'clock' | 'random' | 'log' | 'publish'>;

interface Pending {
  value: string;
  /** The secret's current version when the value was generated: the rotation writes the next one. */
  after: number;
  /** The version consumers acknowledge (the one the rotation writes unless a write races it). */
  version: number;
}

const pendingOf = (p: Readonly<Record<string, unknown>>): Pending => {
  if (typeof p.value !== 'string' || typeof p.after !== 'number') throw new Error('pending rotation value is malformed');
  return { value: p.value, after: p.after, version: typeof p.version === 'number' ? p.version : p.after + 1 };
};

/** Consumers of a generated secret acknowledge the version they read at data/<path>. */
export const consumerPathOf = (path: string): string => `data/${path}`;

/** data/<path> → the secret's current version, for acknowledgements (null: not a KV v2 secret here). */
export async function dataVersion(s: StorageView, path: string): Promise<number | null> {
  const m = /^data\/(.+)$/.exec(path);
  if (!m?.[1]) return null;
  const meta = decodeMeta(await s.get(metaKey(m[1])));
  return meta && meta.currentVersion > 0 ? meta.currentVersion : null;
}

/** The first version after `after` whose data holds `value` under `key`, or 0. */
async function findWritten(s: StorageView, path: string, key: string, p: Pending, current: number): Promise<number> {
  if (current <= p.after) return 0;
  const versions = Array.from({ length: Math.min(current - p.after, 100) }, (_, i) => p.after + 1 + i);
  const found = await s.getMany(versions.map((v) => versionKey(path, v)));
  for (const v of versions) {
    const raw = found.get(versionKey(path, v));
    if (raw && decodeData(raw)[key] === p.value) return v;
  }
  return 0;
}

export function kvRotationTarget(deps: RotationDeps): RotationTarget {
  const mustPolicy = async (path: string): Promise<RotationPolicy> => {
    const policy = await loadPolicy(deps.storage, path);
    if (!policy) throw badRequest(`no rotation policy at rotate-config/${path}`);
    return policy;
  };
  return {
    async check(path) {
      await mustPolicy(path);
    },
    async create(ctx) {
      const policy = await mustPolicy(ctx.target);
      const meta = decodeMeta(await deps.storage.get(metaKey(ctx.target)));
      const after = meta?.currentVersion ?? 0;
      return { value: generate(policy.generator, deps.random), after, version: after + 1 };
    },
    async set(ctx, pending) {
      const path = ctx.target;
      const p = pendingOf(pending);
      const policy = await mustPolicy(path);
      await deps.storage.locked(metaKey(path), async (s) => {
        const now = deps.clock.now();
        const { meta: existing, config } = await loadMetaAndConfig(s, path);
        const meta = existing ?? newMeta(now);
        if ((await findWritten(s, path, policy.key, p, meta.currentVersion)) > 0) return; // a resumed set: already written
        if (meta.currentVersion > p.after) {
          deps.log.warn({ rotation: ctx.id, run_id: ctx.runId }, 'a write raced the rotation of a generated KV secret; the rotation adds its version on top');
        }
        const current = (await liveCurrentData(s, path, meta, now)) ?? {};
        const data = { ...current, [policy.key]: p.value };
        const added = addVersion(config, meta, data, now);
        await s.put(versionKey(path, added.version), encode(data));
        await saveMeta(s, path, added.meta);
        if (added.pruned.length > 0) await s.delete(added.pruned.map((n) => versionKey(path, n)));
      });
    },
    async test(ctx, pending) {
      const path = ctx.target;
      const p = pendingOf(pending);
      const policy = await mustPolicy(path);
      const meta = decodeMeta(await deps.storage.get(metaKey(path)));
      const version = meta ? await findWritten(deps.storage, path, policy.key, p, meta.currentVersion) : 0;
      const vm = meta?.versions[String(version)];
      if (!meta || version === 0 || !vm || !isLive(vm, deps.clock.now())) throw new Error('the rotated value was not found in a live version');
      if (!matches(policy.generator, p.value)) throw new Error('the generated value does not match the generator');
    },
    async finish(ctx, pending) {
      const path = ctx.target;
      const p = pendingOf(pending);
      const policy = await loadPolicy(deps.storage, path);
      const meta = decodeMeta(await deps.storage.get(metaKey(path)));
      const version = meta && policy ? await findWritten(deps.storage, path, policy.key, p, meta.currentVersion) : 0;
      await deps.publish({ type: 'kv-v2/data-write', path: `data/${path}`, ...(version > 0 ? { version } : {}) });
    },
    consumerPath: consumerPathOf,
    /** Without destroy_previous nothing is retired: the run ends at finish. */
    async retires(ctx) {
      return (await loadPolicy(deps.storage, ctx.target))?.destroyPrevious === true;
    },
    async retire(ctx, pending) {
      const path = ctx.target;
      const p = pendingOf(pending);
      const policy = await loadPolicy(deps.storage, path);
      if (!policy?.destroyPrevious || p.after < 1) return;
      // Idempotent: a retire resumed after a crash destroys the same (already destroyed) version again.
      await changeVersions(deps, path, [p.after], destroyChange);
      await deps.publish({ type: 'kv-v2/data-destroy', path: `data/${path}` });
    },
  };
}
