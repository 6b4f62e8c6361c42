/**
 * The end of a shared lease (issue 20): its ticket goes, and with the last ticket the user is dropped on the target.
 * A caller may be taking a ticket on that user at the same moment without a lock (sharing.ts), so the last ticket is
 * released in two steps, each under the record's lock: (1) the ticket goes and, when no other holds the user, the
 * user leaves the record; (2) after that commit, tickets are looked for again. A caller that read the record before
 * (1) committed had stored its ticket before that read, so (2) finds it and puts the user back; a caller reading
 * after (1) does not find the user and backs out.
 */
import { badRequest } from '../../lib/errors.ts';
import type { StorageView } from '../../core/engine.ts';
import type { DbDeps } from './deps.ts';
import { encode, loadConfig, type CredsInternal, type DbConfig } from './model.ts';
import { dropTickets, fresh, held, parseShared, ticketKey, type SharedRecord, type SharedUser } from './shared-record.ts';
import { revokeUser, roleExists } from './target-sql.ts';

async function save(s: StorageView, key: string, rec: SharedRecord): Promise<void> {
  if (rec.current === null && Object.keys(rec.users).length === 0) await s.delete([key]);
  else await s.put(key, encode(rec));
}

export async function dropUser(deps: DbDeps, config: DbConfig, username: string, custom: readonly string[] | null): Promise<void> {
  await deps.pools.withClient(config, (client) => revokeUser(client, username, custom, deps.log), () => loadConfig(deps.storage, config.name));
  await deps.guard.release(config, username);
}

/** A shared lease ended (revoked, expired, never stored, or a caller backing out): its ticket goes; the user is dropped with its last ticket. */
export async function releaseShared(deps: DbDeps, internal: CredsInternal & { shared: { key: string; ticket: string } }, custom: readonly string[] | null): Promise<void> {
  const { key, ticket } = internal.shared;
  const { username } = internal;
  if (!key.startsWith('shared/')) throw badRequest('database lease: malformed shared key');

  // (1) The ticket goes; if it was the last, the user leaves the record (it is handed out no more).
  const last = await deps.storage.locked(key, async (s): Promise<{ was: SharedUser | null } | null> => {
    const rec = parseShared(await s.get(key));
    await s.delete([ticketKey(key, username, ticket)]);
    const legacy = rec.users[username];
    const inRecord = legacy?.includes(ticket) === true;
    if (legacy && inRecord) rec.users[username] = legacy.filter((t) => t !== ticket);
    if (await held(s, key, username, rec, deps.log)) {
      if (inRecord) await s.put(key, encode(rec));
      return null;
    }
    const was = rec.current?.username === username ? rec.current : null;
    if (was) rec.current = null;
    delete rec.users[username];
    await save(s, key, rec);
    return { was };
  });
  if (!last) return;
  deps.sharedMemory.forget(key);

  // (2) Tickets again, now that no caller can find the user: one that did before (1) committed keeps it.
  let released: DbConfig | null = null;
  await deps.storage.locked(key, async (s) => {
    const rec = parseShared(await s.get(key));
    if (await held(s, key, username, rec, deps.log)) {
      rec.users[username] ??= [];
      if (last.was && rec.current === null && fresh(last.was, deps.clock.now().getTime())) rec.current = last.was;
      await s.put(key, encode(rec));
      return;
    }
    // The last ticket (or a user the record never knew: its broker died before storing it): drop it on the target.
    const config = await loadConfig(s, internal.config);
    if (!config) throw badRequest(`database config "${internal.config}" no longer exists`);
    await deps.pools.withClient(config, (client) => revokeUser(client, username, custom, deps.log));
    released = config;
    delete rec.users[username];
    if (rec.current?.username === username) rec.current = null;
    await dropTickets(s, key, username);
    await save(s, key, rec);
    deps.log.info({ role: internal.role, username }, 'shared database user dropped with its last lease');
  });
  if (released) await deps.guard.release(released, username);
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
