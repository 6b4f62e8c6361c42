import { hmacSha256 } from '../../lib/crypto.ts';
import type { LineageEntryRow, LineageStore } from '../../storage/lineage-store.ts';

/** The fields of an audit entry that lineage reads (entries are the broker's own canonical JSON). */
export interface LineageEntry {
  seq: number;
  time: string;
  path: string;
  operation: string;
  outcome: string;
  accessor: string | null;
  mount: string | null;
  lease_id: string | null;
  remote_address: string;
  policies: string[];
  identity: {
    alias: { metadata: Record<string, string>; mount_accessor: string; mount_type: string; name: string } | null;
    display_name: string;
    entity_name: string;
  } | null;
  request: { data: unknown } | null;
  response: { auth: { accessor: string; policies: string[] } | null; data: unknown } | null;
}

/** Data fields whose (HMAC'd) values are lookup keys: what a credential, certificate, lease or token is named by. */
const LOOKUP_FIELDS = new Set(['username', 'serial_number', 'lease_id', 'accessor']);
const HMAC_PREFIX = 'hmac-sha256:';
/** A lease ID in a renew or revoke path: sys/leases/revoke/<id>, sys/renew/<id>. */
const LEASE_IN_PATH = /^sys\/(?:leases\/)?(?:renew|revoke)\/(.+)$/;
const PAGE = 1000;

export function parseEntry(row: LineageEntryRow): LineageEntry | null {
  try {
    const v: unknown = JSON.parse(row.entry);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    return { ...(v as LineageEntry), seq: row.seq };
  } catch {
    return null;
  }
}

/** The HMAC'd value of a lookup field in request or response data (a string "hmac-sha256:…"), or null. */
export function dataField(data: unknown, field: string): string | null {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return null;
  const v = (data as Record<string, unknown>)[field];
  return typeof v === 'string' && v.startsWith(HMAC_PREFIX) ? v : null;
}

/** Every lookup value an entry names, as audit HMACs: plain fields are HMAC'd here, data fields already are. */
export function lookupHmacs(e: LineageEntry, hmac: (s: string) => string): Set<string> {
  const out = new Set<string>();
  const plain = (s: string | null | undefined) => {
    if (typeof s === 'string' && s !== '') out.add(hmac(s));
  };
  plain(e.accessor);
  plain(e.response?.auth?.accessor);
  plain(e.lease_id);
  plain(LEASE_IN_PATH.exec(e.path)?.[1]);
  for (const data of [e.request?.data, e.response?.data]) {
    for (const f of LOOKUP_FIELDS) {
      const v = dataField(data, f);
      if (v) out.add(v);
    }
  }
  return out;
}

export interface LineageIndexDeps {
  store: LineageStore;
  /** The audit HMAC (sys/audit-hash's); available only while unsealed. */
  hmac: () => (s: string) => string;
  /** The key of the lookup keys (derived from the root key). */
  lineageKey: () => Uint8Array;
}

/**
 * The lineage index: (lookup key, seq) pairs read from the audit log. It is brought up to the log's head before
 * each lineage answer (catchUp), one page at a time; callers in one process take turns (a turn with nothing new
 * costs two reads), and replicas that index the same entries insert the same pairs.
 */
export function createLineageIndex(deps: LineageIndexDeps) {
  const { store } = deps;
  const keyOf = (auditHmac: string): Buffer => hmacSha256(deps.lineageKey(), auditHmac);
  // One catch-up at a time; each caller's starts after its call, so it sees every entry committed before it.
  let tail: Promise<void> = Promise.resolve();

  async function run(): Promise<void> {
    const hmac = deps.hmac();
    const head = await store.headSeq();
    let cursor = await store.indexedThrough();
    while (cursor < head) {
      const rows = await store.entriesAfter(cursor, head, PAGE);
      const last = rows.at(-1);
      if (!last) {
        // Pruned (or never written) below the head: nothing left to index.
        await store.addKeys([], head);
        return;
      }
      const pairs: { key: Buffer; seq: number }[] = [];
      for (const row of rows) {
        const e = parseEntry(row);
        if (!e) continue;
        for (const h of lookupHmacs(e, hmac)) pairs.push({ key: keyOf(h), seq: row.seq });
      }
      await store.addKeys(pairs, last.seq);
      cursor = last.seq;
    }
  }

  return {
    keyOf,
    /** Indexes every entry up to the current head. */
    catchUp(): Promise<void> {
      const next = tail.then(run, run);
      tail = next.catch(() => undefined);
      return next;
    },
  };
}

export type LineageIndex = ReturnType<typeof createLineageIndex>;
