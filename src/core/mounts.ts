import { AppError, badRequest } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Random } from '../lib/random.ts';
import type { Db, Queryable } from '../storage/db.ts';
import type { MountRow, MountsStore } from '../storage/mounts-store.ts';
import type { Engine, EngineFactory, MountInfo } from './engine.ts';
import { rowIntegrityError, type RowMac } from './integrity/row-mac.ts';
import { mountFields } from './integrity/rows.ts';
import { createPathMatcher, type PathMatch } from './path-match.ts';

export interface MountedEngine {
  info: MountInfo;
  engine: Engine;
  match: (path: string) => PathMatch | null;
}

export interface RouteMatch {
  mounted: MountedEngine;
  /** The path relative to the mount. */
  rest: string;
}

const CHANNEL = 'sealbox_mounts';

/** The mount's accessor as sys/mounts and sys/auth list it, and as templated policies name it. */
export const mountAccessor = (m: Pick<MountInfo, 'type' | 'id'>): string => `${m.type}_${m.id.slice(0, 8)}`;
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const RESERVED = ['sys/', 'auth/token/', 'cubbyhole/', 'identity/'];

/** Normalises "foo/bar" to "foo/bar/" and rejects anything that is not plain segments. */
export function normalizeMountPath(path: string): string {
  const trimmed = path.replace(/^\/+|\/+$/g, '');
  const segs = trimmed.split('/');
  if (trimmed === '' || segs.length > 8 || !segs.every((s) => SEGMENT.test(s))) {
    throw badRequest(`invalid mount path "${trimmed.slice(0, 80)}": use letters, digits, '_', '-' and '.' in up to 8 segments`);
  }
  return `${trimmed}/`;
}

export interface MountTableDeps {
  db: Db;
  store: MountsStore;
  random: Random;
  log: Logger;
  factories: readonly EngineFactory[];
  builtins: readonly { info: MountInfo; engine: Engine }[];
  /** Builds the engine for a stored mount (app.ts supplies storage, clock and the rest). */
  instantiate: (factory: EngineFactory, info: MountInfo) => Engine;
  /** Runs before a mount is removed (the lease manager revokes the mount's leases); throwing keeps the mount. */
  beforeUnmount?: (info: MountInfo) => Promise<void>;
  rowMac: RowMac;
  /** Stored mounts are loaded only while unsealed: their MACs need the root key (the unseal hook reloads). */
  sealed: () => boolean;
  /** Runs before a mount is moved (sys/remount); throwing keeps it where it is. */
  beforeRemount?: (info: MountInfo) => Promise<void>;
}

/** The mount table: which engine serves which path prefix, shared by all replicas through PostgreSQL. */
export function createMountTable(deps: MountTableDeps) {
  let mounted: MountedEngine[] = [];
  const factoryFor = (cls: 'secret' | 'auth', type: string): EngineFactory | undefined =>
    deps.factories.find((f) => f.class === cls && f.type === type);

  const toMounted = (info: MountInfo, engine: Engine): MountedEngine => ({ info, engine, match: createPathMatcher(engine.paths) });

  // Engines hold resources (target connection pools): an unchanged mount keeps its instance across reloads.
  let instances = new Map<string, { key: string; mounted: MountedEngine }>();
  const closeEngine = (m: MountedEngine): void => {
    void m.engine.close?.().catch((err: Error) => deps.log.warn({ path: m.info.path, err: err.message }, 'closing an engine failed'));
  };

  const reload = async (): Promise<void> => {
    const rows: MountRow[] = deps.sealed() ? [] : await deps.store.list();
    const next: MountedEngine[] = deps.builtins.map((b) => toMounted(b.info, b.engine));
    const kept = new Map<string, { key: string; mounted: MountedEngine }>();
    for (const row of rows) {
      if (!deps.rowMac.ok('mounts', mountFields(row), row.mac, row.path)) {
        // Fail closed: the stored path answers 500 (never another mount's engine); a reserved path is left to its builtin.
        if (!RESERVED.some((r) => row.path.startsWith(r) || r.startsWith(row.path))) next.push(brokenMount(row));
        continue;
      }
      const factory = factoryFor(row.class, row.type);
      if (!factory) {
        deps.log.error({ path: row.path, type: row.type }, 'mount has an unknown engine type; skipped');
        continue;
      }
      const info: MountInfo = { id: row.id, path: row.path, class: row.class, type: row.type, description: row.description, config: row.config, options: row.options };
      const key = JSON.stringify(info);
      const old = instances.get(row.id);
      const m = old && old.key === key ? old.mounted : toMounted(info, deps.instantiate(factory, info));
      kept.set(row.id, { key, mounted: m });
      next.push(m);
    }
    for (const [id, old] of instances) if (kept.get(id)?.mounted !== old.mounted) closeEngine(old.mounted);
    instances = kept;
    // Longest prefix first, so that "auth/token/" wins over a hypothetical "auth/".
    mounted = next.sort((a, b) => b.info.path.length - a.info.path.length);
  };

  const brokenMount = (row: MountRow): MountedEngine => ({
    info: { id: row.id, path: row.path, class: row.class, type: row.type, description: '', config: {}, options: {} },
    engine: { paths: [] },
    match: () => {
      throw rowIntegrityError();
    },
  });

  const conflict = (path: string): string | undefined =>
    mounted.map((m) => m.info.path).find((p) => p.startsWith(path) || path.startsWith(p));

  return {
    reload,
    async listenForChanges(): Promise<void> {
      await deps.db.listen(CHANNEL, () => reload().catch((err: Error) => deps.log.error({ err: err.message }, 'mount reload failed')));
    },

    route(path: string): RouteMatch | null {
      for (const m of mounted) {
        const base = m.info.path.slice(0, -1);
        if (path === base || path.startsWith(m.info.path)) return { mounted: m, rest: path.slice(m.info.path.length) };
      }
      return null;
    },

    /** The engine of a stored mount by id (the lease manager's revoke and renew), or null once it is gone. */
    byId(id: string): MountedEngine | null {
      return instances.get(id)?.mounted ?? null;
    },

    /** Closes every engine (broker shutdown). */
    close(): void {
      for (const { mounted: m } of instances.values()) closeEngine(m);
      instances = new Map();
    },

    /** Every mounted engine, builtins included (for sys/internal/specs/openapi). */
    engines(): readonly MountedEngine[] {
      return [...mounted].sort((a, b) => a.info.path.localeCompare(b.info.path));
    },

    /** The engine types that can be mounted, by class (for sys/plugins/catalog). */
    types(cls: 'secret' | 'auth'): string[] {
      return deps.factories.filter((f) => f.class === cls).map((f) => f.type).sort();
    },

    list(cls: 'secret' | 'auth'): MountInfo[] {
      return mounted.filter((m) => m.info.class === cls).map((m) => m.info).sort((a, b) => a.path.localeCompare(b.path));
    },

    async mount(
      req: { path: string; class: 'secret' | 'auth'; type: string; description: string; config: Record<string, unknown>; options: Record<string, unknown> },
      q?: Queryable,
      /** The new root key, inside the initialising transaction (dev mounts), when the barrier is still sealed. */
      rootKey?: Uint8Array,
    ): Promise<MountInfo> {
      const path = req.class === 'auth' ? `auth/${normalizeMountPath(req.path)}` : normalizeMountPath(req.path);
      if (RESERVED.some((r) => path.startsWith(r) || r.startsWith(path)) || (req.class === 'secret' && path.startsWith('auth/'))) {
        throw badRequest(`cannot mount at "${path}": the path is reserved`);
      }
      const factory = factoryFor(req.class, req.type);
      if (!factory) throw badRequest(`unknown ${req.class === 'auth' ? 'auth method' : 'secrets engine'} type "${req.type.slice(0, 40)}"`);
      const options = factory.mountOptions ? factory.mountOptions(req.options) : req.options;
      const existing = conflict(path);
      if (existing) throw new AppError('bad_request', `path is already in use at ${existing}`);
      const info: MountInfo = { id: deps.random.uuid(), path, class: req.class, type: req.type, description: req.description, config: req.config, options };
      const ok = await deps.store.insert(q ?? deps.db, { ...info, mac: deps.rowMac.sign('mounts', mountFields(info), rootKey) });
      if (!ok) throw new AppError('bad_request', `path is already in use at ${path}`);
      if (!q) {
        await reload();
        await deps.db.notify(CHANNEL, path);
      }
      return info;
    },

    /**
     * sys/mounts/:path/tune: changes a stored mount's description, config or options in one locked read-modify-write,
     * then reloads every replica. Builtin mounts (sys/, auth/token/) are not stored and cannot be tuned.
     */
    async tune(
      rawPath: string,
      cls: 'secret' | 'auth',
      apply: (current: Pick<MountInfo, 'description' | 'config' | 'options'>) => Pick<MountInfo, 'description' | 'config' | 'options'>,
    ): Promise<void> {
      const path = cls === 'auth' ? `auth/${normalizeMountPath(rawPath)}` : normalizeMountPath(rawPath);
      const found = await deps.db.tx(async (q) => {
        const row = await deps.store.getForUpdate(q, path);
        if (!row) return false;
        deps.rowMac.verify('mounts', mountFields(row), row.mac, row.path);
        const next = apply(row);
        const factory = factoryFor(cls, row.type);
        const options = factory?.mountOptions ? factory.mountOptions(next.options) : next.options;
        const tuned = { ...row, ...next, options };
        await deps.store.update(q, path, { ...tuned, mac: deps.rowMac.sign('mounts', mountFields(tuned)) });
        return true;
      });
      if (!found) throw badRequest(`cannot tune "${path}": no such mount`);
      await reload();
      await deps.db.notify(CHANNEL, path);
    },

    /**
     * sys/remount: moves a mount to a new path within its class. It keeps its id, so its stored data, its leases
     * (revoked through the mount id) and its rotations stay attached.
     */
    async remount(rawFrom: string, rawTo: string): Promise<{ from: string; to: string }> {
      const cls = (p: string): 'secret' | 'auth' => (p.replace(/^\/+/, '').startsWith('auth/') ? 'auth' : 'secret');
      if (cls(rawFrom) !== cls(rawTo)) throw badRequest('cannot remount between secrets engines and auth methods');
      const from = normalizeMountPath(rawFrom);
      const to = normalizeMountPath(rawTo);
      for (const p of [from, to]) if (RESERVED.some((r) => p.startsWith(r) || r.startsWith(p))) throw badRequest(`cannot remount "${p}": the path is reserved`);
      if (cls(from) === 'auth' && (from === 'auth/' || to === 'auth/')) throw badRequest('invalid auth method path');
      const current = mounted.find((m) => m.info.path === from);
      if (!current) throw badRequest(`no mount at "${from}"`);
      const existing = mounted.map((m) => m.info.path).find((p) => p !== from && (p.startsWith(to) || to.startsWith(p)));
      if (existing || to === from) throw new AppError('bad_request', `path already in use at ${existing ?? to}`);
      if (deps.beforeRemount) await deps.beforeRemount(current.info);
      // The path is part of the row's MAC: check the stored row, then sign it again at its new path, under the row lock.
      const moved = await deps.db.tx(async (q) => {
        const row = await deps.store.getForUpdate(q, from);
        if (!row) return false;
        deps.rowMac.verify('mounts', mountFields(row), row.mac, row.path);
        return deps.store.rename(q, from, to, deps.rowMac.sign('mounts', mountFields({ ...row, path: to })));
      });
      if (!moved) throw new AppError('bad_request', `path already in use at ${to}`);
      await reload();
      await deps.db.notify(CHANNEL, to);
      return { from, to };
    },

    async unmount(rawPath: string, cls: 'secret' | 'auth'): Promise<void> {
      const path = cls === 'auth' ? `auth/${normalizeMountPath(rawPath)}` : normalizeMountPath(rawPath);
      if (RESERVED.includes(path)) throw badRequest(`cannot unmount "${path}"`);
      const current = mounted.find((m) => m.info.path === path);
      if (current && deps.beforeUnmount) await deps.beforeUnmount(current.info);
      await deps.store.delete(path);
      await reload();
      await deps.db.notify(CHANNEL, path);
    },
  };
}

export type MountTable = ReturnType<typeof createMountTable>;
