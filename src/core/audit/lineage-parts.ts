import type { LineageStore } from '../../storage/lineage-store.ts';
import { dataField, parseEntry, type LineageEntry, type LineageIndex } from './lineage-index.ts';

/** How many entries lineage reads for one key (a token that made more requests is reported as truncated). */
export const ENTRY_LIMIT = 2000;
const PARENT_DEPTH = 8;
const LOGIN_PATH = /^auth\/(.+)\/login(?:\/.*)?$/;
const TOKEN_CREATE = /^auth\/token\/create/;
const TOKEN_REVOKE = /^auth\/token\/revoke/;
const LEASE_REVOKE = /^sys\/(?:leases\/)?revoke(?:\/|$)/;
const LEASE_RENEW = /^sys\/(?:leases\/)?renew(?:\/|$)/;
const PREFIX_REVOKE = /^sys\/(?:leases\/)?revoke-(?:prefix|force)\/(.*)$/;

export interface PartsDeps {
  store: LineageStore;
  index: LineageIndex;
  hmac: (s: string) => string;
}

/** Who made a request: its seq, time, path, token accessor and display name. */
export const actor = (e: LineageEntry) => ({
  seq: e.seq,
  time: e.time,
  path: e.path,
  accessor: e.accessor,
  display_name: e.identity?.display_name ?? null,
  remote_address: e.remote_address,
});

export async function entriesFor(deps: PartsDeps, auditHmac: string): Promise<{ entries: LineageEntry[]; truncated: boolean }> {
  const rows = await deps.store.entriesFor(deps.index.keyOf(auditHmac), ENTRY_LIMIT + 1);
  const entries = rows.slice(0, ENTRY_LIMIT).map(parseEntry).filter((e): e is LineageEntry => e !== null);
  return { entries, truncated: rows.length > ENTRY_LIMIT };
}

/** The login that made a token: auth mount and method, role, alias name and metadata, remote address. */
function loginOf(creation: LineageEntry, firstUse: LineageEntry | undefined, method: string | null) {
  const alias = firstUse?.identity?.alias ?? null;
  return {
    seq: creation.seq,
    time: creation.time,
    path: creation.path,
    mount: creation.mount,
    method,
    role: alias?.metadata.role ?? null,
    alias_name: alias?.name ?? null,
    alias_metadata: alias?.metadata ?? {},
    display_name: firstUse?.identity?.display_name ?? null,
    remote_address: creation.remote_address,
  };
}

/** A token: accessor, policies, creation, parent chain, the login that made it, and the audit seqs naming it. */
export async function tokenPart(deps: PartsDeps, accessor: string, depth = 0): Promise<Record<string, unknown>> {
  const { entries, truncated } = await entriesFor(deps, deps.hmac(accessor));
  const row = await deps.store.token(accessor);
  const creation = entries.find((e) => e.response?.auth?.accessor === accessor && e.outcome === 'success');
  const used = entries.filter((e) => e.accessor === accessor);
  const h = deps.hmac(accessor);
  const revoked = entries.find((e) => e.outcome === 'success' && TOKEN_REVOKE.test(e.path) && (dataField(e.request?.data, 'accessor') === h || (e.accessor === accessor && e.path === 'auth/token/revoke-self')));
  let login = null;
  let parent: Record<string, unknown> | null = null;
  if (creation) {
    if (LOGIN_PATH.test(creation.path) && !creation.path.startsWith('auth/token/')) {
      login = loginOf(creation, used[0], creation.mount ? await deps.store.mountType(creation.mount) : null);
    } else if (TOKEN_CREATE.test(creation.path) && creation.accessor && depth < PARENT_DEPTH) {
      parent = await tokenPart(deps, creation.accessor, depth + 1);
    }
  } else if (row?.parentAccessor && depth < PARENT_DEPTH) {
    parent = await tokenPart(deps, row.parentAccessor, depth + 1);
  }
  return {
    accessor,
    display_name: row?.displayName ?? used[0]?.identity?.display_name ?? null,
    policies: row?.policies ?? creation?.response?.auth?.policies ?? used[0]?.policies ?? [],
    created_at: row?.createdAt.toISOString() ?? creation?.time ?? null,
    created_seq: creation?.seq ?? null,
    expires_at: row?.expiresAt?.toISOString() ?? null,
    state: row ? 'live' : revoked ? 'revoked' : 'gone',
    revoked: revoked ? actor(revoked) : null,
    login,
    parent,
    requests: used.length,
    audit_seqs: entries.map((e) => e.seq),
    truncated,
  };
}

/** A lease: issue, renewals, revocation (by whom) and, while it lives, its row. */
export async function leasePart(deps: PartsDeps, leaseId: string, at: Date | null): Promise<{ part: Record<string, unknown>; issue: LineageEntry | null; seqs: number[] }> {
  const { entries } = await entriesFor(deps, deps.hmac(leaseId));
  const row = await deps.store.lease(leaseId);
  const issue = entries.find((e) => e.lease_id === leaseId && e.outcome === 'success' && !e.path.startsWith('sys/')) ?? null;
  const renewals = entries.filter((e) => e.outcome === 'success' && LEASE_RENEW.test(e.path)).map(actor);
  let revoke = entries.find((e) => e.outcome === 'success' && LEASE_REVOKE.test(e.path)) ?? null;
  if (!revoke && !row) {
    const prefixed = (await deps.store.revokePrefixEntries(ENTRY_LIMIT)).map(parseEntry);
    revoke = prefixed.find((e): e is LineageEntry => e !== null && e.outcome === 'success' && leaseId.startsWith(PREFIX_REVOKE.exec(e.path)?.[1] ?? '\u0000')) ?? null;
  }
  const state = row ? row.state : revoke ? 'revoked' : 'ended';
  const issuedAt = row?.issuedAt.toISOString() ?? issue?.time ?? null;
  const endedAt = row ? null : (revoke?.time ?? null);
  const part: Record<string, unknown> = {
    id: leaseId,
    issued_at: issuedAt,
    issued_seq: issue?.seq ?? null,
    last_renewed_at: row?.lastRenewedAt?.toISOString() ?? renewals.at(-1)?.time ?? null,
    expires_at: row?.expiresAt.toISOString() ?? null,
    state,
    // Expiry is the broker's own act and makes no audit entry: an ended lease without a revoke entry expired
    // (or went with its token).
    ended_at: endedAt,
    revoked_by: revoke ? actor(revoke) : null,
    renewals,
  };
  if (at && issuedAt) {
    // null: it ended without an entry that says when (expiry), so whether it lived at `at` is not known here.
    const started = new Date(issuedAt) <= at;
    part.live_at = !started ? false : row ? true : endedAt ? new Date(endedAt) > at : null;
  }
  return { part, issue, seqs: [...entries.map((e) => e.seq), ...(revoke ? [revoke.seq] : [])] };
}
