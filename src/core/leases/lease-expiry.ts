/**
 * The expiry worker (DESIGN §4): every replica runs it, as the scheduler's shared `lease-expiry` job (every second). Each pass claims due leases with FOR UPDATE SKIP LOCKED
 * (so replicas split the work with no coordinator and never take the same lease), revokes them through their
 * engines with bounded concurrency (grouped: an engine with revokeMany takes a group in one call, revoke-groups.ts),
 * and deletes the revoked rows in one statement. A full batch means more
 * may be due, so the next pass starts at once.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Db } from '../../storage/db.ts';
import type { LeaseRow, LeasesStore } from '../../storage/leases-store.ts';
import type { ClaimedLease, LeaseManager } from './leases.ts';
import { pool, revokeInGroups } from './revoke-groups.ts';

export interface ExpiryWorkerDeps {
  db: Db;
  store: LeasesStore;
  leases: LeaseManager;
  clock: Clock;
  log: Logger;
  batch: number;
  concurrency: number;
  /** Skips a pass (e.g. while sealed: leases cannot be decrypted). */
  ready(): boolean;
}

const CLAIM_SECONDS = 60;
/** A lease is never started this close to the end of its claim: it goes back to the queue for the next pass. */
const CLAIM_MARGIN_MS = 20_000;

/** Leases per revokeMany call: a full default batch (500) goes to a target in two lists, run side by side. */
const REVOKE_CHUNK = 250;

export function createExpiryWorker(deps: ExpiryWorkerDeps) {
  let running: Promise<void> | null = null;
  let stopped = false;
  let again = false;

  /** One pass: claim, revoke, delete. Returns how many leases it claimed. */
  async function pass(): Promise<number> {
    const now = deps.clock.now();
    const claimId = randomUUID();
    const claimUntil = now.getTime() + CLAIM_SECONDS * 1000;
    const rows: LeaseRow[] = await deps.store.claimDue(deps.db, claimId, now, new Date(claimUntil), deps.batch);
    if (rows.length === 0) return 0;
    const ready: ClaimedLease[] = [];
    await pool(rows, deps.concurrency, async (row) => {
      const item = await deps.leases.prepareClaimed(row, claimId);
      if (item) ready.push(item);
    });
    const { gone, late } = await revokeInGroups(ready, {
      concurrency: deps.concurrency,
      chunk: REVOKE_CHUNK,
      late: () => deps.clock.now().getTime() > claimUntil - CLAIM_MARGIN_MS,
      failed: (item, err) => deps.leases.revokeFailed(item.row, claimId, err),
    });
    await deps.store.deleteMany(deps.db, gone, claimId);
    await deps.store.release(deps.db, late, claimId, deps.clock.now());
    for (const id of gone) deps.log.info({ lease_id: id }, 'lease revoked');
    return rows.length;
  }

  async function loop(): Promise<void> {
    do {
      again = false;
      try {
        if (!deps.ready()) return;
        while (!stopped && (await pass()) >= deps.batch) {
          // a full batch: more are due
        }
      } catch (err) {
        deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'lease expiry pass failed; retrying next interval');
      }
    } while (again && !stopped);
  }

  function run(): Promise<void> {
    if (running) {
      again = true;
      return running;
    }
    running = loop().finally(() => {
      running = null;
    });
    return running;
  }

  return {
    /** Runs a pass now (the scheduler's lease-expiry job, or a token was revoked); returns when that pass is done. */
    kick(): Promise<void> {
      return stopped ? Promise.resolve() : run();
    },
    async stop(): Promise<void> {
      stopped = true;
      await running;
    },
  };
}
