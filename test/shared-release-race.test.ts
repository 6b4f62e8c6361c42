// Issue 20: a caller takes a ticket on the current shared user without a lock (src/engines/database/sharing.ts),
// while the release of the user's last ticket drops it (shared-release.ts). The engine alone, on in-memory storage
// and a fake target, with the release held at the worst moment: it has found no ticket left, and has not yet taken
// the user out of the record, when the caller stores its ticket and reads the record.
import test from 'ava';
import type pg from 'pg';
import type { EngineStorage, StorageView } from '../src/core/engine.ts';
import type { DbDeps } from '../src/engines/database/deps.ts';
import { createCreationGuard } from '../src/engines/database/limits.ts';
import { configKey, encode, type DbConfig, type DbRole } from '../src/engines/database/model.ts';
import { createSharedMemory, sharedKey, ticketKey, type SharedRecord } from '../src/engines/database/shared-record.ts';
import { releaseShared } from '../src/engines/database/shared-release.ts';
import { mintShared } from '../src/engines/database/sharing.ts';
import { createFakeClock } from '../src/lib/fake-clock.ts';
import { createLogger } from '../src/lib/log.ts';
import { createSeededRandom } from '../src/lib/seeded-random.ts';

/** Map storage (locked: one at a time per key); `pauseList` holds the next list of a prefix after it has read. */
function storageWithPause() {
  const data = new Map<string, Buffer>();
  const locks = new Map<string, Promise<unknown>>();
  let pause: { prefix: string; reached: () => void; until: Promise<void> } | null = null;
  const view: StorageView = {
    get: async (key) => (data.has(key) ? Buffer.from(data.get(key) as Buffer) : null),
    getMany: async (keys) => new Map(keys.flatMap((k) => (data.has(k) ? [[k, Buffer.from(data.get(k) as Buffer)] as const] : []))),
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
      const out = [...new Set([...data.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length).replace(/\/.*$/, '/')))].sort();
      const p = pause;
      if (p && prefix === p.prefix) {
        pause = null;
        p.reached();
        await p.until;
      }
      return out;
    },
  };
  const storage: EngineStorage = {
    ...view,
    locked<T>(key: string, fn: (s: StorageView) => Promise<T>): Promise<T> {
      const run = (locks.get(key) ?? Promise.resolve()).then(() => fn(view), () => fn(view));
      locks.set(key, run.catch(() => undefined));
      return run;
    },
  };
  return {
    storage,
    data,
    /** The next list of `prefix` reads, then waits: resolves `reached` and returns a function that lets it go on. */
    pauseList(prefix: string): { reached: Promise<void>; go: () => void } {
      let go = (): void => undefined;
      let reached = (): void => undefined;
      const until = new Promise<void>((r) => (go = r));
      const atPause = new Promise<void>((r) => (reached = r));
      pause = { prefix, reached, until };
      return { reached: atPause, go };
    },
  };
}

/** A target that knows which roles exist: enough SQL for revokeUser. */
function fakeTarget(roles: Set<string>) {
  const oids = new Map<string, number>();
  const client = {
    async query(text: string, params: unknown[] = []) {
      if (text.startsWith('SELECT oid')) {
        const name = String(params[0]);
        if (!roles.has(name)) return { rows: [] };
        if (!oids.has(name)) oids.set(name, oids.size + 100);
        return { rows: [{ oid: oids.get(name) }] };
      }
      if (text.includes('pg_shdepend')) return { rows: [{ owns: false }] };
      const create = /^CREATE ROLE "([^"]+)"/.exec(text);
      if (create?.[1]) roles.add(create[1]);
      const drop = /^DROP ROLE IF EXISTS "([^"]+)"/.exec(text);
      if (drop?.[1]) roles.delete(drop[1]);
      return { rows: [] };
    },
  };
  return {
    withClient: <T>(_cfg: DbConfig, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => fn(client as unknown as pg.PoolClient),
  };
}

/** The engine's pieces on in-memory storage, with one shared user `v-shared-u1` held by one ticket (`t0`). */
async function setup() {
  const clock = createFakeClock();
  const s = storageWithPause();
  const roles = new Set(['v-shared-u1']);
  const intents = new Set<string>();
  const forgotten: string[] = [];
  let n = 0;
  // Only what taking a ticket, minting a user and releasing one use.
  const deps = {
    storage: s.storage,
    intents: {
      record: async () => {
        const id = `intent-${n++}`;
        intents.add(id);
        return id;
      },
      async forget(id: string) {
        intents.delete(id);
        forgotten.push(id);
      },
    },
    pools: fakeTarget(roles),
    guard: createCreationGuard({ storage: s.storage, clock }),
    passwords: { generate: async () => `pw-${n++}` },
    sharedMemory: createSharedMemory(1000, () => clock.now().getTime()),
    clock,
    random: createSeededRandom('race'),
    log: createLogger({ level: 'silent' }),
  } as unknown as DbDeps;

  const config = { name: 'main', allowedRoles: ['*'], usernameTemplate: '', passwordPolicy: '' } as unknown as DbConfig;
  const role = { name: 'shared', dbName: 'main', defaultTtl: 3600, maxTtl: 7200, defaultGroup: 'readers', creationStatements: [], revocationStatements: [] } as unknown as DbRole;
  await s.storage.put(configKey('main'), encode(config));
  const key = sharedKey('shared', 'approle:app');
  const now = clock.now();
  const current = { username: 'v-shared-u1', password: 'pw', createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + 7200_000).toISOString() };
  await s.storage.put(key, encode({ current, users: { 'v-shared-u1': [] } } satisfies SharedRecord));
  await s.storage.put(ticketKey(key, 'v-shared-u1', 't0'), encode({}));
  const record = (): SharedRecord | null => (s.data.has(key) ? (JSON.parse((s.data.get(key) as Buffer).toString('utf8')) as SharedRecord) : null);
  // Another replica on the same storage: its own memory of the record.
  const replica = { ...deps, sharedMemory: createSharedMemory(1000, () => clock.now().getTime()) };
  const releaseT0 = (on: DbDeps = deps) => releaseShared(on, { config: 'main', role: 'shared', username: 'v-shared-u1', shared: { key, ticket: 't0' } }, null);
  const mint = () => mintShared(deps, { role, config, identity: 'approle:app', displayName: 'app' });
  return { s, deps, replica, roles, intents, forgotten, key, record, releaseT0, mint };
}

test('a caller that reads the record while the last ticket is released keeps the user: the release finds its ticket', async (t) => {
  const { s, deps, roles, key, record, releaseT0, mint } = await setup();
  // The release of t0 (the only ticket) stops right after it found no other ticket.
  const hold = s.pauseList(`${key}/t/v-shared-u1/`);
  const release = releaseT0();
  await hold.reached;
  const got = await mint();
  hold.go();
  await release;

  t.is((got.data as { username: string }).username, 'v-shared-u1', 'the caller got the current user');
  t.true(roles.has('v-shared-u1'), 'the user its lease holds is still on the target');
  t.is(record()?.current?.username, 'v-shared-u1', 'and still handed out');
  t.deepEqual(Object.keys(record()?.users ?? {}), ['v-shared-u1']);

  // The caller's lease ends: now it was the last ticket, and the user goes.
  const internal = got.lease?.internal as { shared: { key: string; ticket: string } };
  await releaseShared(deps, { config: 'main', role: 'shared', username: 'v-shared-u1', shared: internal.shared }, null);
  t.false(roles.has('v-shared-u1'), 'dropped with its last ticket');
  t.is(record(), null, 'the record is gone');
  t.deepEqual([...s.data.keys()].filter((k) => k.startsWith('shared/')), []);
});

test('a caller that finds the user leaving backs out (its ticket and intent go) and gets a new user; the old one is dropped', async (t) => {
  const { s, replica, roles, intents, forgotten, key, record, releaseT0, mint } = await setup();
  // The caller remembers the record with v-shared-u1 (its hint); the release, on another replica, then takes the
  // user out and stops before looking for tickets again, and the caller stores a ticket on it and reads the record.
  const warm = await mint();
  const warmTicket = (warm.lease?.internal as { shared: { ticket: string } }).shared.ticket;
  await s.storage.delete([ticketKey(key, 'v-shared-u1', warmTicket)]);
  const hold = s.pauseList(`${key}/t/v-shared-u1/`);
  const release = releaseT0(replica);
  await hold.reached;
  hold.go();
  const second = s.pauseList(`${key}/t/v-shared-u1/`);
  await second.reached;
  const got = mint();
  second.go();
  await release;
  const given = await got;

  const username = (given.data as { username: string }).username;
  t.not(username, 'v-shared-u1', 'a new user');
  t.true(roles.has(username));
  t.false(roles.has('v-shared-u1'), 'the old user went with its last ticket');
  t.is(record()?.current?.username, username);
  t.deepEqual(Object.keys(record()?.users ?? {}), [username]);
  t.deepEqual([...s.data.keys()].filter((k) => k.includes('/t/v-shared-u1/')), [], 'no ticket left on the old user');
  t.is(forgotten.length, 1, 'the caller took a ticket on the old user and backed out');
  t.is(intents.size, 2, 'the warm-up intent and the new user\'s');
});

test('tickets an older broker kept in the record still hold the user, and go with their leases', async (t) => {
  const { s, deps, roles, key, record, mint } = await setup();
  // The record as brokers before ticket rows wrote it: the tickets in users[username], no ticket rows.
  const old = record() as SharedRecord;
  await s.storage.put(key, encode({ ...old, users: { 'v-shared-u1': ['t0', 't1'] } } satisfies SharedRecord));
  await s.storage.delete([ticketKey(key, 'v-shared-u1', 't0')]);
  const release = (ticket: string) => releaseShared(deps, { config: 'main', role: 'shared', username: 'v-shared-u1', shared: { key, ticket } }, null);

  await release('t0');
  t.true(roles.has('v-shared-u1'), 't1 still holds the user');
  t.deepEqual(record()?.users, { 'v-shared-u1': ['t1'] });
  const got = await mint();
  t.is((got.data as { username: string }).username, 'v-shared-u1', 'a new caller shares it (with a ticket row)');
  await release('t1');
  t.true(roles.has('v-shared-u1'), 'the new caller holds it');
  await releaseShared(deps, { config: 'main', role: 'shared', username: 'v-shared-u1', shared: (got.lease?.internal as { shared: { key: string; ticket: string } }).shared }, null);
  t.false(roles.has('v-shared-u1'), 'dropped with the last of both kinds');
  t.is(record(), null);
});
