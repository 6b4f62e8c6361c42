/**
 * What a shared identity's users are stored as (issue 20), and this process's memory of it.
 *
 *   shared/<role>/<sha256(identity)>                     → { current, users }
 *     current: the user handed to callers now (and its password), or null
 *     users:   every shared user of this identity still on the target → tickets kept in the record by brokers
 *              before tickets had rows of their own (new users have [] here)
 *   shared/<role>/<sha256(identity)>/t/<username>/<ticket> → { at }   one per lease that holds the user
 *
 * Every value is sealed by the barrier and bound to its key like every engine entry, so a ticket row cannot be
 * forged, nor moved to another user. Tickets have rows of their own so that taking one is a single small insert (no
 * lock, no rewrite of a record that grows with every caller): see sharing.ts for why a caller and a release racing
 * on the last ticket still agree.
 */
import { createHash } from 'node:crypto';
import { isIntegrityError } from '../../core/barrier/envelope.ts';
import type { StorageView } from '../../core/engine.ts';
import type { Logger } from '../../lib/log.ts';

export interface SharedUser {
  username: string;
  password: string;
  createdAt: string;
  expiresAt: string;
}
export interface SharedRecord {
  current: SharedUser | null;
  users: Record<string, string[]>;
}

export const sharedKey = (role: string, identity: string): string => `shared/${role}/${createHash('sha256').update(identity).digest('hex')}`;
const ticketsOf = (key: string, username: string): string => `${key}/t/${username}/`;
export const ticketKey = (key: string, username: string, ticket: string): string => `${ticketsOf(key, username)}${ticket}`;

export const parseShared = (raw: Buffer | null): SharedRecord => (raw ? (JSON.parse(raw.toString('utf8')) as SharedRecord) : { current: null, users: {} });

/** The user still has at least half its life ahead: it may be handed out. */
export function fresh(u: SharedUser | null, now: number): u is SharedUser {
  if (!u) return false;
  const created = Date.parse(u.createdAt);
  const expires = Date.parse(u.expiresAt);
  return expires - now >= (expires - created) / 2;
}

/**
 * Whether any ticket still holds `username` (its ticket rows, or tickets an older broker kept in the record). A row
 * that does not open (written without the root key) holds nothing; any other error is thrown.
 */
export async function held(s: StorageView, key: string, username: string, rec: SharedRecord, log: Logger): Promise<boolean> {
  if ((rec.users[username] ?? []).length > 0) return true;
  const prefix = ticketsOf(key, username);
  for (const child of await s.list(prefix)) {
    if (child.endsWith('/')) continue;
    try {
      if (await s.get(`${prefix}${child}`)) return true;
    } catch (err) {
      // Only a ticket that does not open holds nothing; any other failure (an unknown key term, a lost connection)
      // is not evidence that the user is free, so the release fails and is retried.
      if (!isIntegrityError(err)) throw err;
      log.warn({ username }, 'a shared user ticket that does not open was ignored');
    }
  }
  return false;
}

/** Deletes every ticket row of `username` (the user is gone). */
export const dropTickets = (s: StorageView, key: string, username: string): Promise<void> => s.deletePrefix(ticketsOf(key, username));

/**
 * This process's memory of shared records (one per engine instance): the last record seen per identity, a hint of
 * which user to take a ticket on (the record is read again after the ticket is stored, so a stale hint costs a wasted
 * ticket, never a wrong answer), and one mint at a time per identity.
 */
export function createSharedMemory(ttlMs = 1000, now: () => number = Date.now) {
  const hints = new Map<string, { at: number; rec: SharedRecord }>();
  const flights = new Map<string, Promise<unknown>>();
  return {
    hint(key: string): SharedRecord | null {
      const h = hints.get(key);
      if (!h || now() - h.at >= ttlMs) return null;
      return h.rec;
    },
    remember(key: string, rec: SharedRecord): void {
      if (hints.size >= 1000 && !hints.has(key)) hints.clear();
      hints.set(key, { at: now(), rec });
    },
    forget(key: string): void {
      hints.delete(key);
    },
    /** One mint at a time per identity in this process; across replicas, a lost race drops its extra user at once. */
    oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
      const run = (flights.get(key) ?? Promise.resolve()).then(fn, fn);
      const tail = run.catch(() => undefined);
      flights.set(key, tail);
      void tail.then(() => {
        if (flights.get(key) === tail) flights.delete(key);
      });
      return run;
    },
  };
}

export type SharedMemory = ReturnType<typeof createSharedMemory>;
