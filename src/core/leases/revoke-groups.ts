/**
 * Batched revocation for the expiry worker (issue 18): claimed leases are grouped by mount and secret type, and a
 * type that offers `revokeMany` takes its group in chunks, one call each (the database engine then revokes a target's
 * users in a few round trips). Every other lease goes through its type's `revoke`, one by one. Outcomes stay per
 * lease: a lease is reported gone only when its engine said so, and each failure goes to `failed` (retry, backoff,
 * irrevocable) exactly as on the per-lease path.
 */
import type { ClaimedLease } from './leases.ts';

export interface RevokeGroupsOptions {
  /** Tasks (a chunk or a single lease) in flight at once. */
  concurrency: number;
  /** Leases per revokeMany call. */
  chunk: number;
  /** True once it is too late to start revoking (the claim is about to end): the rest go back to the queue. */
  late(): boolean;
  /** Records one lease's failure (never throws). */
  failed(item: ClaimedLease, err: unknown): Promise<void>;
}

export interface RevokeGroupsResult {
  gone: string[];
  late: string[];
}

/** Runs fn over items with at most `limit` in flight. */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

export async function revokeInGroups(items: readonly ClaimedLease[], opts: RevokeGroupsOptions): Promise<RevokeGroupsResult> {
  const groups = new Map<string, ClaimedLease[]>();
  for (const item of items) {
    const key = `${item.row.mountId}\u0000${item.row.secretType}`;
    const g = groups.get(key);
    if (g) g.push(item);
    else groups.set(key, [item]);
  }
  const tasks: ClaimedLease[][] = [];
  for (const g of groups.values()) {
    if (g.length > 1 && g[0]?.type.revokeMany) {
      for (let i = 0; i < g.length; i += opts.chunk) tasks.push(g.slice(i, i + opts.chunk));
    } else {
      for (const item of g) tasks.push([item]);
    }
  }
  const gone: string[] = [];
  const late: string[] = [];
  const settle = async (item: ClaimedLease, err: Error | null): Promise<void> => {
    if (err === null) gone.push(item.row.id);
    else await opts.failed(item, err);
  };
  const one = async (item: ClaimedLease): Promise<void> => {
    // Past the margin another replica may take the lease once the claim ends: never revoke it here then.
    if (opts.late()) {
      late.push(item.row.id);
      return;
    }
    await settle(item, await item.type.revoke(item.lease).then(() => null, asError));
  };
  await pool(tasks, opts.concurrency, async (task) => {
    const first = task[0] as ClaimedLease;
    const revokeMany = first.type.revokeMany;
    if (task.length === 1 || !revokeMany) {
      for (const item of task) await one(item);
      return;
    }
    if (opts.late()) {
      late.push(...task.map((x) => x.row.id));
      return;
    }
    let results: readonly (Error | null)[] | null;
    try {
      results = await revokeMany.call(first.type, task.map((x) => x.lease));
      if (results.length !== task.length) throw new Error(`revokeMany answered for ${results.length} of ${task.length} leases`);
    } catch {
      results = null;
    }
    // revokeMany itself failed (not one lease's revocation): nothing is known, so each lease is revoked on its own.
    if (results === null) {
      for (const item of task) await one(item);
      return;
    }
    for (const [k, item] of task.entries()) await settle(item, results[k] ?? null);
  });
  return { gone, late };
}
