import type { Clock } from '../../lib/clock.ts';
import { notFound } from '../../lib/errors.ts';
import type { LineageRunRow, LineageStore } from '../../storage/lineage-store.ts';
import { dataField, parseEntry, type LineageEntry, type LineageIndex } from './lineage-index.ts';
import { actor, entriesFor, ENTRY_LIMIT, leasePart, tokenPart, type PartsDeps } from './lineage-parts.ts';

export const LINEAGE_KINDS = ['username', 'serial', 'lease_id', 'accessor', 'value_hmac'] as const;
export type LineageKind = (typeof LINEAGE_KINDS)[number];

export interface LineageQuery {
  kind: LineageKind;
  value: string;
  at: Date | null;
}

export interface LineageDeps {
  store: LineageStore;
  index: LineageIndex;
  /** The audit HMAC (only while unsealed). */
  hmac: () => (s: string) => string;
  clock: Clock;
}

/** Most holders (distinct tokens) of a static credential described in full; the reads are all listed. */
const HOLDER_LIMIT = 10;
const STATIC_READ = /^(.*\/)?static-creds\/([^/]+)$/;

const roleOf = (path: string): string | null => /\/(?:creds|static-creds|issue|sign|sign-verbatim)\/([^/]+)$/.exec(path)?.[1] ?? null;
const runWire = (r: LineageRunRow) => ({
  run_id: r.runId,
  kind: r.kind,
  started_at: r.startedAt.toISOString(),
  finished_at: r.finishedAt?.toISOString() ?? null,
  status: r.status,
  step: r.step,
  error: r.error,
});
const names = (e: LineageEntry, h: string) => dataField(e.response?.data, 'username') === h || dataField(e.response?.data, 'serial_number') === h;

/**
 * Credential lineage (issue 19): which application held a credential, through which token, made by which login,
 * and which audit entries say so. Everything comes from the audit log (through the lineage index), with the live
 * lease, token and rotation-run rows where they still exist.
 */
export function createLineage(deps: LineageDeps) {
  const { store } = deps;

  async function staticLineage(p: PartsDeps, h: string, reads: LineageEntry[], at: Date | null, seqs: Set<number>) {
    const first = reads[0] as LineageEntry;
    const m = STATIC_READ.exec(first.path);
    const mount = first.mount ?? m?.[1] ?? '';
    const role = m?.[2] ?? '';
    const rotationId = `${mount}static-roles/${role}`;
    const runs = await store.runs(rotationId, 500);
    const when = at ?? deps.clock.now();
    const done = runs.filter((r) => r.status === 'ok' && r.finishedAt);
    const inForce = done.filter((r) => (r.finishedAt as Date) <= when).at(-1) ?? null;
    const next = done.find((r) => (r.finishedAt as Date) > when) ?? null;
    const from = inForce?.finishedAt?.getTime() ?? -Infinity;
    const to = next?.finishedAt?.getTime() ?? Infinity;
    const inWindow = reads.filter((e) => {
      const t = new Date(e.time).getTime();
      return t >= from && t < to;
    });
    const triggers = (await store.entriesAtPaths([`sys/rotations/${rotationId}/run`, `${mount}rotate-role/${role}`], ENTRY_LIMIT))
      .map(parseEntry)
      .filter((e): e is LineageEntry => e !== null && e.outcome === 'success');
    for (const e of [...reads, ...triggers]) seqs.add(e.seq);
    const triggerOf = (r: LineageRunRow | null) => {
      if (!r || r.kind !== 'manual') return null;
      const t = triggers.filter((e) => new Date(e.time) <= r.startedAt).at(-1);
      return t ? actor(t) : null;
    };
    const holders = [];
    for (const accessor of [...new Set(inWindow.map((e) => e.accessor).filter((a): a is string => a !== null))].slice(0, HOLDER_LIMIT)) {
      const token = await tokenPart(p, accessor);
      holders.push({ reads: inWindow.filter((e) => e.accessor === accessor).map((e) => e.seq), token });
    }
    return {
      credential: { type: 'static', engine: await store.mountType(mount), mount, role, path: first.path, value_hmac: h },
      lease: null,
      rotation: {
        id: rotationId,
        in_force: inForce ? { ...runWire(inForce), triggered_by: triggerOf(inForce) } : null,
        next: next ? { ...runWire(next), triggered_by: triggerOf(next) } : null,
        runs: runs.map(runWire),
      },
      reads: inWindow.map(actor),
      holders,
    };
  }

  async function credentialLineage(p: PartsDeps, h: string, at: Date | null, seqs: Set<number>) {
    const { entries } = await entriesFor(p, h);
    for (const e of entries) seqs.add(e.seq);
    const issues = entries.filter((e) => e.outcome === 'success' && names(e, h));
    if (issues.length === 0) throw notFound('no audit entry issued a credential with that name');
    const reads = issues.filter((e) => STATIC_READ.test(e.path));
    if (reads.length > 0) return staticLineage(p, h, reads, at, seqs);
    const issue = (at ? issues.filter((e) => new Date(e.time) <= at).at(-1) : undefined) ?? (issues[0] as LineageEntry);
    const isCert = dataField(issue.response?.data, 'serial_number') === h;
    const revoke = entries.find((e) => e.outcome === 'success' && /\/revoke$/.test(e.path) && dataField(e.request?.data, 'serial_number') === h);
    const lease = issue.lease_id ? await leasePart(p, issue.lease_id, at) : null;
    for (const s of lease?.seqs ?? []) seqs.add(s);
    return {
      credential: {
        type: isCert ? 'certificate' : 'dynamic',
        engine: issue.mount ? await store.mountType(issue.mount) : null,
        mount: issue.mount,
        role: roleOf(issue.path),
        path: issue.path,
        value_hmac: h,
        issued_at: issue.time,
        issued_seq: issue.seq,
        issued_by: actor(issue),
        lease_id: issue.lease_id,
        revoked_by: revoke ? actor(revoke) : null,
      },
      lease: lease?.part ?? null,
      token: issue.accessor ? await tokenPart(p, issue.accessor) : null,
      rotation: null,
    };
  }

  async function leaseLineage(p: PartsDeps, leaseId: string, at: Date | null, seqs: Set<number>) {
    const lease = await leasePart(p, leaseId, at);
    if (!lease.issue && lease.part.state === 'ended') throw notFound('no audit entry names that lease');
    for (const s of lease.seqs) seqs.add(s);
    const issue = lease.issue;
    return {
      credential: issue
        ? {
            type: dataField(issue.response?.data, 'serial_number') ? 'certificate' : 'dynamic',
            engine: issue.mount ? await store.mountType(issue.mount) : null,
            mount: issue.mount,
            role: roleOf(issue.path),
            path: issue.path,
            value_hmac: dataField(issue.response?.data, 'username') ?? dataField(issue.response?.data, 'serial_number'),
            issued_at: issue.time,
            issued_seq: issue.seq,
            issued_by: actor(issue),
            lease_id: leaseId,
          }
        : null,
      lease: lease.part,
      token: issue?.accessor ? await tokenPart(p, issue.accessor) : null,
      rotation: null,
    };
  }

  async function tokenLineage(p: PartsDeps, accessor: string, seqs: Set<number>) {
    const token = await tokenPart(p, accessor);
    if (token.created_seq === null && token.requests === 0 && token.state === 'gone') throw notFound('no audit entry names that accessor');
    const { entries } = await entriesFor(p, p.hmac(accessor));
    for (const e of entries) seqs.add(e.seq);
    const leases = entries
      .filter((e) => e.accessor === accessor && e.lease_id && e.outcome === 'success' && !e.path.startsWith('sys/'))
      .map((e) => ({ ...actor(e), lease_id: e.lease_id }));
    return { credential: null, lease: null, token, rotation: null, leases };
  }

  return async function lineage(q: LineageQuery): Promise<Record<string, unknown>> {
    await deps.index.catchUp();
    const hmac = deps.hmac();
    const p: PartsDeps = { store, index: deps.index, hmac };
    const seqs = new Set<number>();
    let body: Record<string, unknown> & { token?: unknown };
    if (q.kind === 'lease_id') body = await leaseLineage(p, q.value, q.at, seqs);
    else if (q.kind === 'accessor') body = await tokenLineage(p, q.value, seqs);
    else body = await credentialLineage(p, q.kind === 'value_hmac' ? q.value : hmac(q.value), q.at, seqs);
    // Every token named in the answer adds its seqs (its creation, its requests, its revocation).
    const collect = (t: unknown): void => {
      if (t === null || typeof t !== 'object') return;
      const tok = t as { audit_seqs?: number[]; parent?: unknown };
      for (const s of tok.audit_seqs ?? []) seqs.add(s);
      collect(tok.parent);
    };
    collect(body.token);
    for (const holder of (body.holders as { token: unknown }[] | undefined) ?? []) collect(holder.token);
    const token = body.token as { login?: unknown } | null | undefined;
    return {
      query: { [q.kind]: q.value, at: q.at?.toISOString() ?? null },
      ...body,
      login: token?.login ?? null,
      audit_seqs: [...seqs].sort((a, b) => a - b),
    };
  };
}

export type Lineage = ReturnType<typeof createLineage>;
