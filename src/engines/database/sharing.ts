/**
 * Shared dynamic credentials (issue 20 item 3): a role with `credential_sharing: "identity"` gives callers of one
 * identity (the login's alias: a Kubernetes service account, an AppRole role, a JWT subject) the same database user,
 * each through a lease of its own, so that renewing and revoking stay per caller. Each lease holds a ticket on the
 * user (shared-record.ts); a user is dropped when its last ticket goes (the last lease ends: revoked, expired, or
 * never stored) and never outlives its VALID UNTIL; a caller arriving in the second half of the current user's life
 * gets a new user, so nobody receives a credential about to expire.
 *
 * Taking a ticket on the current user (almost every call) takes no lock: the caller stores its ticket, then reads
 * the record. A release of the last ticket (shared-release.ts) takes the user out of the record, then looks for
 * tickets again. Each writes before it reads, so at least one sees the other: either the caller finds the user gone
 * and backs out, or the release finds the caller's ticket and keeps the user. Minting a user and installing it in
 * the record happens under the record's lock (a PostgreSQL advisory lock: one at a time across replicas), so two
 * callers at once on two replicas get one user.
 */
import type { EngineResponse } from '../../core/engine.ts';
import { AppError } from '../../lib/errors.ts';
import type { DbDeps } from './deps.ts';
import { encode, type CredsInternal, type DbConfig, type DbRole } from './model.ts';
import { createUser } from './create-user.ts';
import { dropUser, releaseShared } from './shared-release.ts';
import { renderStatements } from './statements.ts';
import { fresh, parseShared, sharedKey, ticketKey, type SharedRecord, type SharedUser } from './shared-record.ts';

const SECRET = 'creds';

/**
 * Hands out the identity's current user, or mints one. Nothing but the record is touched while its lock is held (the
 * lock's transaction holds a connection; the intent, the limits and the target are reached outside it).
 */
export async function mintShared(deps: DbDeps, a: { role: DbRole; config: DbConfig; identity: string; displayName: string }): Promise<EngineResponse> {
  const key = sharedKey(a.role.name, a.identity);
  const ticket = deps.random.uuid();
  const internalFor = (username: string): CredsInternal => ({ config: a.config.name, role: a.role.name, username, shared: { key, ticket } });
  const memory = deps.sharedMemory;
  const now = (): number => deps.clock.now().getTime();

  /** Takes a ticket on the current user if it is still fresh; null if there is none. */
  const attach = async (hint: SharedRecord | null): Promise<{ user: SharedUser; intentId: string } | null> => {
    const peek = hint ?? parseShared(await deps.storage.get(key));
    if (!fresh(peek.current, now())) return null;
    const username = peek.current.username;
    // The intent first: a broker that dies after storing the ticket leaves the intent, whose sweep takes the ticket back.
    const intentId = await deps.intents.record(SECRET, { ...internalFor(username) });
    const mine = ticketKey(key, username, ticket);
    await deps.storage.put(mine, encode({ at: deps.clock.now().toISOString() }));
    // Read after the ticket is stored (see the top of this file).
    const rec = parseShared(await deps.storage.get(key));
    memory.remember(key, rec);
    if (fresh(rec.current, now()) && rec.current.username === username && rec.users[username]) return { user: rec.current, intentId };
    // The user changed or is being dropped: give the ticket back as a release does (it may have kept the user).
    memory.forget(key);
    const custom = a.role.revocationStatements.length > 0 ? renderStatements(a.role.revocationStatements, { name: username, username }) : null;
    await releaseShared(deps, { ...internalFor(username), shared: { key, ticket } }, custom);
    await deps.intents.forget(intentId);
    return null;
  };

  const given =
    (await attach(memory.hint(key))) ??
    (await memory.oneAtATime(key, async () => {
      const again = await attach(null);
      if (again) return again;
      const made = await createUser(deps, { role: a.role, config: a.config, displayName: a.displayName, lifetimeSeconds: a.role.maxTtl || deps.ttl.maxTtl(), extra: { shared: { key, ticket } } });
      const mine: SharedUser = { username: made.username, password: made.password, createdAt: deps.clock.now().toISOString(), expiresAt: made.expiresAt.toISOString() };
      const installed = await deps.storage.locked(key, async (s) => {
        const rec = parseShared(await s.get(key));
        // Another replica installed a fresh user meanwhile: share that one.
        if (fresh(rec.current, now()) && rec.users[rec.current.username]) return null;
        rec.current = mine;
        rec.users[mine.username] = [];
        await s.put(ticketKey(key, mine.username, ticket), encode({ at: deps.clock.now().toISOString() }));
        await s.put(key, encode(rec));
        return rec;
      });
      if (installed) {
        memory.remember(key, installed);
        deps.log.info({ role: a.role.name, username: mine.username }, 'shared database user created');
        return { user: mine, intentId: made.intentId };
      }
      await dropUser(deps, a.config, mine.username, null);
      await deps.intents.forget(made.intentId);
      const theirs = await attach(null);
      if (!theirs) throw new AppError('unavailable', `role "${a.role.name}": the shared user changed while it was minted; try again`);
      return theirs;
    }));
  const remaining = Math.max(1, Math.floor((Date.parse(given.user.expiresAt) - now()) / 1000));
  const internal = internalFor(given.user.username);
  return {
    data: { username: given.user.username, password: given.user.password },
    lease: { type: SECRET, internal: { ...internal }, ttl: Math.min(a.role.defaultTtl || remaining, remaining), maxTtl: remaining, renewable: true, intentId: given.intentId },
  };
}
