/**
 * Shared dynamic credentials (issue 20 item 3): a role with `credential_sharing: "identity"` gives callers of one
 * identity (the login's alias: a Kubernetes service account, an AppRole role, a JWT subject) the same database user,
 * each through a lease of its own, so that renewing and revoking stay per caller.
 *
 *   shared/<role>/<sha256(identity)> → { current, users }   (sealed by the barrier like every engine entry)
 *     current: the user handed to callers now (and its password), or null
 *     users:   every shared user of this identity still on the target → the tickets (one per lease) that hold it
 *
 * Every change happens under the record's lock (a PostgreSQL advisory lock: one at a time across replicas), so two
 * callers at once on two replicas get one user. A user is dropped when its last ticket goes (the last lease ends:
 * revoked, expired, or never stored) and never outlives its VALID UNTIL; a caller arriving in the second half of the
 * current user's life gets a new user, so nobody receives a credential about to expire.
 */
import { createHash } from 'node:crypto';
import type { EngineResponse } from '../../core/engine.ts';
import { AppError, badRequest } from '../../lib/errors.ts';
import type { DbDeps } from './deps.ts';
import { encode, loadConfig, type CredsInternal, type DbConfig, type DbRole } from './model.ts';
import { createUser } from './create-user.ts';
import { revokeUser, roleExists } from './target-sql.ts';

interface SharedUser {
  username: string;
  password: string;
  createdAt: string;
  expiresAt: string;
}
interface SharedRecord {
  current: SharedUser | null;
  users: Record<string, string[]>;
}

const SECRET = 'creds';
export const sharedKey = (role: string, identity: string): string => `shared/${role}/${createHash('sha256').update(identity).digest('hex')}`;

const parse = (raw: Buffer | null): SharedRecord => (raw ? (JSON.parse(raw.toString('utf8')) as SharedRecord) : { current: null, users: {} });

/** The current user still has at least half its life ahead: hand it out. */
function fresh(u: SharedUser | null, now: number): u is SharedUser {
  if (!u) return false;
  const created = Date.parse(u.createdAt);
  const expires = Date.parse(u.expiresAt);
  return expires - now >= (expires - created) / 2;
}

/** One mint at a time per identity in this process; across replicas, a lost race drops its extra user at once. */
const flights = new Map<string, Promise<unknown>>();
function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (flights.get(key) ?? Promise.resolve()).then(fn, fn);
  const tail = run.catch(() => undefined);
  flights.set(key, tail);
  void tail.then(() => {
    if (flights.get(key) === tail) flights.delete(key);
  });
  return run;
}

/**
 * Hands out the identity's current user, or mints one. Nothing but the record is touched while its lock is held (the
 * lock's transaction holds a connection; the intent, the limits and the target are reached outside it).
 */
export async function mintShared(deps: DbDeps, a: { role: DbRole; config: DbConfig; identity: string; displayName: string }): Promise<EngineResponse> {
  const key = sharedKey(a.role.name, a.identity);
  const ticket = deps.random.uuid();
  const internalFor = (username: string): CredsInternal => ({ config: a.config.name, role: a.role.name, username, shared: { key, ticket } });

  /** Takes a ticket on the current user if it is still fresh; null if there is none. */
  const attach = async (): Promise<{ user: SharedUser; intentId: string } | null> => {
    const peek = parse(await deps.storage.get(key));
    if (!fresh(peek.current, deps.clock.now().getTime())) return null;
    const username = peek.current.username;
    const intentId = await deps.intents.record(SECRET, { ...internalFor(username) });
    const user = await deps.storage.locked(key, async (s) => {
      const rec = parse(await s.get(key));
      if (!fresh(rec.current, deps.clock.now().getTime()) || rec.current.username !== username || !rec.users[username]) return null;
      rec.users[username] = [...(rec.users[username] ?? []), ticket];
      await s.put(key, encode(rec));
      return rec.current;
    });
    if (user) return { user, intentId };
    await deps.intents.forget(intentId);
    return null;
  };

  const given =
    (await attach()) ??
    (await oneAtATime(key, async () => {
      const again = await attach();
      if (again) return again;
      const made = await createUser(deps, { role: a.role, config: a.config, displayName: a.displayName, lifetimeSeconds: a.role.maxTtl || deps.ttl.maxTtl(), extra: { shared: { key, ticket } } });
      const mine: SharedUser = { username: made.username, password: made.password, createdAt: deps.clock.now().toISOString(), expiresAt: made.expiresAt.toISOString() };
      const installed = await deps.storage.locked(key, async (s) => {
        const rec = parse(await s.get(key));
        // Another replica installed a fresh user meanwhile: share that one.
        if (fresh(rec.current, deps.clock.now().getTime()) && rec.users[rec.current.username]) return null;
        rec.current = mine;
        rec.users[mine.username] = [ticket];
        await s.put(key, encode(rec));
        return mine;
      });
      if (installed) {
        deps.log.info({ role: a.role.name, username: mine.username }, 'shared database user created');
        return { user: mine, intentId: made.intentId };
      }
      await dropUser(deps, a.config, mine.username, null);
      await deps.intents.forget(made.intentId);
      const theirs = await attach();
      if (!theirs) throw new AppError('unavailable', `role "${a.role.name}": the shared user changed while it was minted; try again`);
      return theirs;
    }));
  const remaining = Math.max(1, Math.floor((Date.parse(given.user.expiresAt) - deps.clock.now().getTime()) / 1000));
  const internal = internalFor(given.user.username);
  return {
    data: { username: given.user.username, password: given.user.password },
    lease: { type: SECRET, internal: { ...internal }, ttl: Math.min(a.role.defaultTtl || remaining, remaining), maxTtl: remaining, renewable: true, intentId: given.intentId },
  };
}

async function dropUser(deps: DbDeps, config: DbConfig, username: string, custom: readonly string[] | null): Promise<void> {
  await deps.pools.withClient(config, (client) => revokeUser(client, username, custom, deps.log), () => loadConfig(deps.storage, config.name));
  await deps.guard.release(config, username);
}

/** A shared lease ended (revoked, expired, or never stored): its ticket goes; the user is dropped with its last ticket. */
export async function releaseShared(deps: DbDeps, internal: CredsInternal & { shared: { key: string; ticket: string } }, custom: readonly string[] | null): Promise<void> {
  const { key, ticket } = internal.shared;
  if (!key.startsWith('shared/')) throw badRequest('database lease: malformed shared key');
  let released: DbConfig | null = null;
  await deps.storage.locked(key, async (s) => {
    const rec = parse(await s.get(key));
    const left = (rec.users[internal.username] ?? []).filter((t) => t !== ticket);
    if (left.length > 0) {
      rec.users[internal.username] = left;
      await s.put(key, encode(rec));
      return;
    }
    // The last ticket (or a user the record never knew: its broker died before storing it): drop it on the target.
    const config = await loadConfig(s, internal.config);
    if (!config) throw badRequest(`database config "${internal.config}" no longer exists`);
    await deps.pools.withClient(config, (client) => revokeUser(client, internal.username, custom, deps.log));
    released = config;
    delete rec.users[internal.username];
    if (rec.current?.username === internal.username) rec.current = null;
    if (rec.current === null && Object.keys(rec.users).length === 0) await s.delete([key]);
    else await s.put(key, encode(rec));
    deps.log.info({ role: internal.role, username: internal.username }, 'shared database user dropped with its last lease');
  });
  if (released) await deps.guard.release(released, internal.username);
}

/** Renewing a shared lease leaves the user's VALID UNTIL alone (other callers hold it): only check it still exists. */
export async function renewShared(deps: DbDeps, config: DbConfig, username: string): Promise<void> {
  await deps.pools.withClient(
    config,
    async (client) => {
      if (!(await roleExists(client, username))) throw badRequest(`database user "${username}" no longer exists`);
    },
    () => loadConfig(deps.storage, config.name),
  );
}
