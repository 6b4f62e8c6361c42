// One engine's paths, alone: in-memory storage, a fake clock and seeded randomness, no barrier, no database, no HTTP.
//
//   const e = createEngineHarness(kvEngine);                      // mounted at "secret/", options from the factory
//   await e.request('update', 'data/app', { data: { a: 1 } });    // parsed and normalised as the pipeline does
//   e.clock.advance(60_000);
//   const r = await e.request('read', 'data/app');                // r.data is the wire-ready data
//
// Errors are the AppError the engine (or the input schema) throws; `e.storage.keys()` shows what the engine stored.
// What the engine asks of the broker (rotations, lease intents, lockout, events) is recorded in memory for the test
// to read; a rotation's `runNow` runs the engine's own rotation target against this storage.
import type { z } from 'zod';
import type {
  Engine,
  EngineDeps,
  EngineFactory,
  EngineRequest,
  EngineResponse,
  EngineStorage,
  LoginLockout,
  MountInfo,
  Operation,
  StorageView,
} from '../../src/core/engine.ts';
import { createPathMatcher } from '../../src/core/mounts/path-match.ts';
import { AppError } from '../../src/lib/errors.ts';
import { createLogger } from '../../src/lib/log.ts';
import { createTtlPolicy } from '../../src/core/leases/ttl-policy.ts';
import { randomBase62 } from '../../src/lib/random.ts';
import { normalizeVaultInput } from '../../src/lib/vault-input.ts';
import { createFakeClock, type FakeClock } from '../../src/lib/fake-clock.ts';
import type { Random } from '../../src/lib/random.ts';
import { createSeededRandom } from '../../src/lib/seeded-random.ts';

export interface MemoryStorage extends EngineStorage {
  /** Every key stored, sorted. */
  keys(): string[];
}

/** EngineStorage on a Map: `locked` runs one function at a time per lock key, as the row lock does. */
export function createMemoryStorage(): MemoryStorage {
  const data = new Map<string, Buffer>();
  const locks = new Map<string, Promise<unknown>>();
  const view: StorageView = {
    get: (key) => Promise.resolve(data.has(key) ? Buffer.from(data.get(key) as Buffer) : null),
    async getMany(keys) {
      const out = new Map<string, Buffer>();
      for (const k of keys) {
        const v = data.get(k);
        if (v) out.set(k, Buffer.from(v));
      }
      return out;
    },
    async put(key, value) {
      data.set(key, Buffer.from(value));
    },
    async delete(keys) {
      for (const k of keys) data.delete(k);
    },
    async deletePrefix(prefix) {
      for (const k of [...data.keys()]) if (k.startsWith(prefix)) data.delete(k);
    },
    async list(prefix) {
      const out = new Set<string>();
      for (const k of data.keys()) {
        if (!k.startsWith(prefix)) continue;
        const rest = k.slice(prefix.length);
        const slash = rest.indexOf('/');
        out.add(slash < 0 ? rest : rest.slice(0, slash + 1));
      }
      return [...out].sort();
    },
  };
  return {
    ...view,
    keys: () => [...data.keys()].sort(),
    locked<T>(lockKey: string, fn: (s: StorageView) => Promise<T>): Promise<T> {
      const before = locks.get(lockKey) ?? Promise.resolve();
      const run = before.then(
        () => fn(view),
        () => fn(view),
      );
      locks.set(lockKey, run);
      return run;
    },
  };
}

export interface EngineHarnessOptions {
  /** Mount path with a trailing slash. Default `<type>/` ("secret/" for kv). */
  path?: string;
  /** Mount options (passed through the factory's mountOptions). */
  options?: Record<string, unknown>;
  config?: Record<string, unknown>;
  seed?: string;
  startAt?: Date | number;
  /** Failed logins before the lockout refuses an identity. Default 5. */
  lockoutThreshold?: number;
}

export interface RecordedRotation {
  kind: string;
  target: string;
  when: { schedule?: string; periodSeconds?: number };
  lastRotated: Date | null;
}

export interface EngineHarness {
  engine: Engine;
  mount: MountInfo;
  storage: MemoryStorage;
  clock: FakeClock;
  random: Random;
  /** Events the engine published (deps.publish). */
  published: { type: string; path: string; version?: number }[];
  /** Rotations the engine registered, by "kind/target". */
  rotations: Map<string, RecordedRotation>;
  /** Lease intents recorded and not forgotten, by id. */
  intents: Map<string, { type: string; internal: Record<string, unknown> }>;
  /** Runs a registered rotation now through the engine's rotation target (create, set, test, finish), as core does. */
  rotate(kind: string, target: string): Promise<void>;
  /** Runs one operation on `path` (relative to the mount) as the pipeline would: match, normalise, parse, handle. */
  request(operation: Operation, path: string, input?: Record<string, unknown>, extra?: Partial<EngineRequest>): Promise<EngineResponse>;
  close(): Promise<void>;
}

export function createEngineHarness(factory: EngineFactory, opts: EngineHarnessOptions = {}): EngineHarness {
  const clock = createFakeClock(opts.startAt ?? Date.now());
  const random = createSeededRandom(opts.seed ?? `engine-${factory.type}-${Math.random().toString(36).slice(2)}`);
  const storage = createMemoryStorage();
  const defaultPath = factory.type === 'kv' ? 'secret/' : factory.class === 'auth' ? `auth/${factory.type}/` : `${factory.type}/`;
  const mount: MountInfo = {
    id: random.uuid(),
    path: opts.path ?? defaultPath,
    class: factory.class,
    type: factory.type,
    description: '',
    config: opts.config ?? {},
    options: factory.mountOptions ? factory.mountOptions(opts.options ?? {}) : (opts.options ?? {}),
  };
  const published: EngineHarness['published'] = [];
  const rotations = new Map<string, RecordedRotation>();
  const intents: EngineHarness['intents'] = new Map();
  const failures = new Map<string, number>();
  const threshold = opts.lockoutThreshold ?? 5;
  const lockout: LoginLockout = {
    async assertNotLocked(identity) {
      if ((failures.get(identity) ?? 0) >= threshold) throw new AppError('permission_denied', 'permission denied');
    },
    async recordFailure(identity) {
      failures.set(identity, (failures.get(identity) ?? 0) + 1);
    },
    async reset(identity) {
      failures.delete(identity);
    },
  };
  const ref: { engine?: Engine } = {};
  async function rotate(kind: string, target: string): Promise<void> {
    const t = ref.engine?.rotations?.[kind];
    if (!t) throw new AppError('not_found', `no rotation target "${kind}"`);
    await t.check?.(target);
    const ctx = { id: `${mount.path}${kind}/${target}`, target, runId: random.uuid() };
    const pending = await t.create(ctx);
    await t.set(ctx, pending);
    await t.test(ctx, pending);
    await t.finish(ctx, pending);
    const r = rotations.get(`${kind}/${target}`);
    if (r) r.lastRotated = clock.now();
  }
  const deps: EngineDeps = {
    mount,
    // The broker's defaults (SEALBOX_LEASE_DEFAULT_TTL 768h, SEALBOX_LEASE_MAX_TTL 768h), through the one TTL service.
    ttl: createTtlPolicy({ defaultTtl: 768 * 3600, maxTtl: 768 * 3600 }).forMount(mount),
    passwords: { generate: () => Promise.resolve(randomBase62(random, 20)) },
    rotations: {
      async upsert(kind, target, when) {
        rotations.set(`${kind}/${target}`, { kind, target, when, lastRotated: rotations.get(`${kind}/${target}`)?.lastRotated ?? null });
      },
      check() {},
      async remove(kind, target) {
        rotations.delete(`${kind}/${target}`);
      },
      runNow: rotate,
      nextRun: () => Promise.resolve(null),
      lastRotated: (kind, target) => Promise.resolve(rotations.get(`${kind}/${target}`)?.lastRotated ?? null),
    },
    intents: {
      async record(type, internal) {
        const id = random.uuid();
        intents.set(id, { type, internal });
        return id;
      },
      async forget(id) {
        intents.delete(id);
      },
    },
    publish: async (e) => void published.push(e),
    mountAccessor: `${factory.type}_${mount.id.slice(0, 8)}`,
    lockout,
    storage,
    clock,
    random,
    log: createLogger({ level: 'silent', destination: { write: () => undefined } }),
  };
  const engine = factory.create(deps);
  ref.engine = engine;
  const match = createPathMatcher(engine.paths);

  return {
    engine,
    mount,
    storage,
    clock,
    random,
    published,
    rotations,
    intents,
    rotate,
    async request(operation, path, input = {}, extra = {}) {
      const m = match(path);
      if (!m) throw new AppError('not_found', `unsupported path "${path}"`);
      const handler = m.def.operations[operation];
      if (!handler) throw new AppError('unsupported_operation', `unsupported operation "${operation}" on "${path}"`);
      const normalised = normalizeVaultInput(handler.input, input);
      const parsed = (handler.input as z.ZodType).safeParse(normalised);
      if (!parsed.success) throw new AppError('bad_request', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
      return handler.handle({
        operation,
        path,
        params: m.params,
        input: parsed.data,
        requestId: random.uuid(),
        remoteAddress: '127.0.0.1',
        caller: { accessor: 'harness', policies: ['root'], displayName: 'harness' },
        mount,
        ...extra,
      });
    },
    async close() {
      await engine.close?.();
    },
  };
}
