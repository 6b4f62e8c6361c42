/**
 * The `retire` step of a rotation (issue 20 item 2): after `finish`, the previous credential keeps working until every
 * live consumer of the target's path acknowledged the new version or the grace ran out; then the target retires it.
 * The decision is pure over what the consumers table says now, so a resumed step (after a crash) decides again and
 * the target's retire is idempotent.
 */
import type { RetireRecord } from '../../storage/rotations-store.ts';
import type { Consumers } from './consumers.ts';

export type RetireDecision = { act: 'retire' | 'close'; record: RetireRecord } | { act: 'wait'; recheckAt: Date };

/** How often a waiting retire step is looked at even when no acknowledgement wakes it. */
export const RETIRE_RECHECK_MS = 5000;

export async function decideRetire(
  consumers: Consumers | null,
  r: { path: string; version: number; retireAt: Date; now: Date; force: boolean },
): Promise<RetireDecision> {
  const standing = consumers ? await consumers.standing(r.path, r.version) : { any: false, acknowledged: [], pending: [] };
  const brief = (c: { accessor: string; identity: string | null; version: number }) => ({ accessor: c.accessor, identity: c.identity, version: c.version });
  const base = { version: r.version, acknowledged: standing.acknowledged.map(brief), pending: standing.pending.map(brief) };
  // Nobody ever acknowledged on this path: nothing tells us who holds the previous credential, so it is left as before issue 20.
  if (!standing.any) return { act: 'close', record: { ...base, reason: 'none' } };
  if (standing.pending.length === 0) return { act: 'retire', record: { ...base, reason: 'acknowledged' } };
  if (r.force) return { act: 'retire', record: { ...base, reason: 'forced' } };
  if (r.now.getTime() >= r.retireAt.getTime()) return { act: 'retire', record: { ...base, reason: 'grace' } };
  return { act: 'wait', recheckAt: new Date(Math.min(r.retireAt.getTime(), r.now.getTime() + RETIRE_RECHECK_MS)) };
}

/** The mount path of a rotation id "<mount path><kind>/<target>" (e.g. "database/" for "database/static-roles/app"). */
export function mountPrefix(id: string, kind: string, target: string): string {
  const tail = `${kind}/${target}`;
  return id.endsWith(tail) ? id.slice(0, id.length - tail.length) : '';
}
