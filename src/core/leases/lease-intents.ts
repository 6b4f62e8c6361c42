/**
 * Lease intents (migrations/0009): a secret is recorded, sealed, before an engine creates it on a target, and the
 * record ends in the transaction that stores the secret's lease. A broker that dies in between (after CREATE ROLE,
 * before the lease insert) leaves an intent without a lease; the sweep revokes that secret through the engine's
 * secret type (DROP ROLE for database credentials) once the intent is older than the grace, which must be longer
 * than any mint takes.
 */
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { randomBase62, type Random } from '../../lib/random.ts';
import type { Db, Queryable } from '../../storage/db.ts';
import type { LeaseIntentRow, LeaseIntentsStore } from '../../storage/lease-intents-store.ts';
import { createGroupCommit } from '../../lib/group-commit.ts';
import type { Barrier } from '../barrier/barrier.ts';
import type { LeaseIntents, MountInfo, SecretType } from '../engine.ts';
import { CONTEXTS } from '../barrier/contexts.ts';

export interface LeaseIntentsDeps {
  db: Db;
  store: LeaseIntentsStore;
  barrier: Barrier;
  clock: Clock;
  random: Random;
  log: Logger;
  /** Seconds after which an intent without a lease is a dead broker's, not a mint in progress. */
  graceSeconds: number;
  /** The engine's revoke for a mount and secret type; null when the mount or type is gone. */
  secretType(mountId: string, type: string): SecretType | null;
}

const ctxOf = CONTEXTS.lease_intents;
const BATCH = 100;

export function createLeaseIntents(deps: LeaseIntentsDeps) {
  const { db, store } = deps;
  const forget = (q: Queryable, id: string): Promise<void> => store.delete(q, id);
  // Concurrent mints record their intents together: one INSERT per batch. Each resolves once its row is committed,
  // before its engine creates anything; a failed batch fails each of its mints before anything was created.
  const inserts = createGroupCommit<LeaseIntentRow, void>({
    gather: true,
    write: async (rows) => {
      await store.insertMany(db, rows);
      return rows.map(() => undefined);
    },
  });

  return {
    forget,

    /** The recorder a mount's engine uses. */
    forMount(mount: MountInfo): LeaseIntents {
      return {
        async record(type, internal) {
          const id = `${mount.path}${randomBase62(deps.random, 24)}`;
          const sealed = deps.barrier.encrypt(ctxOf(id), Buffer.from(JSON.stringify(internal), 'utf8')).sealed;
          await inserts.submit({ id, mountId: mount.id, secretType: type, internal: sealed, createdAt: deps.clock.now() });
          return id;
        },
        forget: (id) => forget(db, id),
      };
    },

    /** Revokes the secrets of intents older than the grace (each, then its intent, goes); returns how many. */
    async sweep(): Promise<number> {
      const cutoff = new Date(deps.clock.now().getTime() - deps.graceSeconds * 1000);
      let done = 0;
      for (const row of await store.olderThan(db, cutoff, BATCH)) {
        const type = deps.secretType(row.mountId, row.secretType);
        try {
          if (type) {
            const plain = await deps.barrier.decrypt(ctxOf(row.id), row.internal);
            const internal = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
            await type.revoke({ id: row.id, internal, issuedAt: row.createdAt, expiresAt: row.createdAt });
            deps.log.warn({ intent: row.id }, 'revoked a secret created by a broker that stopped before storing its lease');
          } else {
            deps.log.error({ intent: row.id }, 'a secret without a lease belongs to a mount that is gone: it cannot be revoked here');
          }
          await forget(db, row.id);
          done++;
        } catch (err) {
          // Kept: the next sweep tries again.
          deps.log.warn({ intent: row.id, err: err instanceof Error ? err.message.slice(0, 300) : 'error' }, 'revoking a secret without a lease failed');
        }
      }
      return done;
    },
  };
}

export type LeaseIntentsManager = ReturnType<typeof createLeaseIntents>;
