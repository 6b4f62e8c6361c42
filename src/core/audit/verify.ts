/**
 * Verifies the audit Merkle log: entries, signed checkpoints, an auditor's anchor, the checkpoint cadence, the
 * signed prune mark and witness cosignatures. Pure (no database, no broker): the broker feeds it pages from
 * PostgreSQL and `sealbox audit verify -file` an export, with only the log's public key.
 */
import { appendLeaf, decodeFrontier, emptyFrontier, frontierRoot, leafHash, type Frontier } from '../../lib/merkle.ts';
import { cosignatureTime, noteSignedBy, parseCheckpointBody, parseNote, parseVkey, type Vkey } from './note.ts';
import { parsePruneMark } from './marks.ts';
import type { ColumnsRecord } from '../../storage/audit-read-store.ts';

/** One stored entry: its seq, the canonical JSON entry as stored, its stored leaf hash and copied columns. */
export interface LogLink {
  seq: number;
  entry: string;
  /** The stored leaf hash (absent: not checked, the tree decides). */
  hash?: Uint8Array;
  /** The columns search filters on, as stored beside the entry (absent: not checked). */
  columns?: EntryColumns;
  /** The stored keyed MAC of the leaf hash (null: an entry from before it existed). */
  mac?: Uint8Array | null;
}

/** The search columns of an entry as read (a string time from a JSON export, a Date from storage). */
export type EntryColumns = Omit<ColumnsRecord, 'time'> & { time: Date | string };

export interface LogCheckpoint {
  seq: number;
  /** The signed note (its text and the log's signature line, plus any cosignature lines). */
  note: string;
  /** The frontier stored with it (lets verify start here after a prune). */
  frontier?: Uint8Array;
}

export interface VerifyOptions {
  /** The log's Ed25519 public key and key name (its origin). */
  publicKey: Uint8Array;
  origin: string;
  /** The tree head as stored (read before the walk): the walk must reach it with the same root. */
  head?: { seq: number; hash: Uint8Array };
  /** The log must hold at least this many entries (what this broker itself committed). */
  minSize?: number;
  /** An auditor's saved checkpoint (a signed note): the log must be an append-only extension of it. */
  anchor?: string;
  /** The signed prune mark, if any: a missing prefix is accepted only up to what it covers. */
  pruneMark?: string | null;
  /** Required checkpoint cadence: one at every multiple of `every`, and none of the unsigned tail older than `seconds`. */
  cadence?: { every: number; seconds: number; now: Date; slackSeconds?: number };
  /** The broker's keyed MAC of a leaf hash (server-side verify only): names exactly an entry rewritten with re-hashing. */
  entryMac?: (leaf: Buffer) => Buffer;
  /** Witness verifier keys (vkeys): each must have cosigned a checkpoint of this log. */
  witnesses?: readonly string[];
  onProgress?: (checked: number, seq: number) => void;
  progressEvery?: number;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries that checked out before the first failure (all of them when ok). */
  checked: number;
  /** The lowest sequence number that does not check, or null when ok. */
  first_bad_seq: number | null;
  /** The largest tree size a valid signed checkpoint (or the anchor) covers. */
  signed_through: number;
  /** Per witness key name, the largest size it cosigned (0: none). */
  witnessed_through: Record<string, number>;
  problems: string[];
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;
const timeMs = (t: Date | string): number => (typeof t === 'string' ? Date.parse(t) : t.getTime());

interface Pin {
  root: Buffer;
  frontier?: Frontier;
  body: string;
  cosigned: Map<string, number>;
  /** The signed `mac-from <seq>` line: from that seq on, every entry carries the broker's MAC. */
  macFrom: number | null;
  /** The signed `time <unix seconds>` line (when the broker signed it), in ms; null on checkpoints older than it. */
  signedAt: number | null;
}

/** A note signed by the log at `size`... or the reason it is not. */
function readCheckpoint(note: string, opts: VerifyOptions, witnesses: readonly Vkey[]): Pin & { size: number } | string {
  const parsed = parseNote(note);
  if (!parsed) return 'not a signed note';
  const body = parseCheckpointBody(parsed.body);
  if (!body) return 'not a tlog-checkpoint';
  if (body.origin !== opts.origin) return `origin "${body.origin}" is not this log's`;
  if (!noteSignedBy(parsed, opts.origin, opts.publicKey)) return 'not signed by the log key';
  const cosigned = new Map<string, number>();
  for (const w of witnesses) {
    for (const s of parsed.signatures) {
      const t = cosignatureTime(parsed.body, s, w.name, w.publicKey);
      if (t !== null) cosigned.set(w.name, t);
    }
  }
  const macLine = body.extensions.find((l) => /^mac-from [1-9]\d{0,15}$/.test(l));
  const timeLine = body.extensions.find((l) => /^time (0|[1-9]\d{0,15})$/.test(l));
  return { size: body.size, root: body.root, body: parsed.body, cosigned, signedAt: timeLine ? Number(timeLine.slice(5)) * 1000 : null, macFrom: macLine ? Number(macLine.slice('mac-from '.length)) : null };
}

/**
 * Walks the entries in seq order (streamed) and checks, naming the lowest seq that fails:
 * - seqs have no gaps and each entry names its own seq (a deleted, inserted, swapped or reordered row: its seq);
 * - each stored leaf hash is SHA-256(0x00 ‖ entry) and each copied column equals the entry (an edit: its seq);
 * - the tree root at every signed checkpoint, at the anchor and at the head equals the signed/stored one (a rewrite
 *   that re-hashed the tree: the first seq after the last size that still matched);
 * - with a cadence: a checkpoint at every multiple of `every` (a deleted one: the first seq it should have covered),
 *   and no unsigned entry older than `seconds` (+ slack);
 * - a missing prefix is covered by the signed prune mark and starts from a checkpoint's frontier;
 * - the log reaches the last checkpoint, the anchor, the head and minSize (a truncated tail: the first missing seq).
 */
export async function verifyLog(links: AsyncIterable<LogLink> | Iterable<LogLink>, checkpoints: readonly LogCheckpoint[], opts: VerifyOptions): Promise<VerifyResult> {
  const problems: string[] = [];
  let fail = null as number | null;
  const failAt = (seq: number, problem: string) => {
    if (fail === null || seq < fail) fail = seq;
    problems.push(problem);
  };
  const witnesses = (opts.witnesses ?? []).map((w) => {
    const v = parseVkey(w);
    if (!v) throw new Error(`not a witness verifier key: ${w.slice(0, 80)}`);
    return v;
  });

  const pins = new Map<number, Pin>();
  for (const cp of checkpoints) {
    const pin = readCheckpoint(cp.note, opts, witnesses);
    if (typeof pin === 'string' || pin.size !== cp.seq) {
      failAt(Math.max(1, cp.seq), `checkpoint at size ${cp.seq}: ${typeof pin === 'string' ? pin : 'size differs from its row'}`);
      continue;
    }
    const frontier = cp.frontier ? decodeFrontier(cp.seq, cp.frontier) : null;
    pins.set(cp.seq, { ...pin, frontier: frontier && frontierRoot(frontier).equals(pin.root) ? frontier : undefined });
  }
  let anchor: { size: number; root: Buffer } | null = null;
  if (opts.anchor !== undefined) {
    const a = readCheckpoint(opts.anchor, opts, []);
    if (typeof a === 'string') throw new Error(`the anchor is not a checkpoint of this log: ${a}`);
    anchor = { size: a.size, root: a.root };
  }
  let prunedThrough = 0;
  if (opts.pruneMark) {
    const m = parsePruneMark(opts.pruneMark, opts.origin, opts.publicKey);
    if (m === null) failAt(1, 'the prune mark is not signed by the log key');
    else prunedThrough = m;
  }
  const pinSizes = [...pins.keys()].sort((a, b) => a - b);
  const lastPin = pinSizes.at(-1) ?? 0;
  /** From here on a MAC-less entry is refused: the lowest seq a signed checkpoint says the broker MACs from. */
  const macsFrom = Math.min(Infinity, ...[...pins.values()].map((p) => p.macFrom ?? Infinity));

  let f: Frontier = emptyFrontier();
  let started = false;
  /** The last size whose root matched a signed checkpoint or the anchor: a later mismatch starts after it. */
  let lastGood = 0;
  let checked = 0;
  let firstUnsignedTime: number | null = null;
  /** The time cadence: the unsigned run's first entry (seq, ms) and the previous entry's time. */
  let runSeq = 0;
  let prevTime: number | null = null;
  const c0 = opts.cadence;
  const gapLimit = c0 ? (2 * c0.seconds + (c0.slackSeconds ?? 10)) * 1000 : Infinity;
  const lateRun = (at: number, what: string): boolean => {
    // Only runs a broker with the signed `mac-from` line appended (older logs had no timed checkpoints to require).
    if (firstUnsignedTime === null || runSeq < macsFrom || at - firstUnsignedTime <= gapLimit) return false;
    failAt(runSeq, `entries from ${runSeq} were appended for ${Math.round((at - firstUnsignedTime) / 1000)} s without a signed checkpoint (${what}; the cadence allows ${gapLimit / 1000} s): checkpoints were deleted`);
    return true;
  };
  let seenMac = false;
  const progressEvery = Math.max(1, opts.progressEvery ?? 10_000);
  const every = opts.cadence?.every;

  const checkRoot = (size: number, root: Buffer): void => {
    const pin = pins.get(size);
    const anchored = anchor?.size === size ? anchor.root : undefined;
    const head = opts.head?.seq === size ? opts.head.hash : undefined;
    if (pin && !same(pin.root, root)) failAt(lastGood + 1, `the tree at size ${size} does not have the signed root: entries after ${lastGood} were rewritten`);
    else if (anchored && !same(anchored, root)) failAt(lastGood + 1, `the tree at size ${size} is not the anchor's: entries after ${lastGood} were rewritten`);
    else if (head && !same(head, root)) failAt(lastGood + 1, `the stored head root at size ${size} does not match the entries`);
    else if (pin?.signedAt != null && lateRun(pin.signedAt, `signed at size ${size}`)) return;
    else if (pin || anchored) {
      lastGood = size;
      firstUnsignedTime = null;
    } else if (every !== undefined && size % every === 0) {
      failAt(lastGood + 1, `no signed checkpoint at size ${size} (one is made at every multiple of ${every})`);
    }
  };

  // Entries past everything read before the walk (head, checkpoints, floor) were appended during it: not checked.
  const walkTo = opts.head ? Math.max(opts.head.seq, lastPin, opts.minSize ?? 0, anchor?.size ?? 0) : Infinity;
  for await (const link of links) {
    if (fail !== null && link.seq >= fail) break;
    if (link.seq > walkTo && started && link.seq === f.size + 1) break;
    if (!started) {
      started = true;
      const start = link.seq - 1;
      if (start > 0) {
        const pin = pins.get(start);
        if (start > prunedThrough) {
          failAt(prunedThrough + 1, `entries ${prunedThrough + 1}..${start} are missing and no signed prune mark covers them`);
          break;
        }
        if (!pin?.frontier) {
          failAt(link.seq, `the log starts at ${link.seq} but no checkpoint with a frontier is stored at size ${start}`);
          break;
        }
        f = { size: start, hashes: pin.frontier.hashes.slice() };
        lastGood = start;
        if (anchor && anchor.size < start) problems.push(`the anchor (size ${anchor.size}) is below the pruned prefix; checked against the checkpoint at ${start} only`);
      }
    }
    if (link.seq !== f.size + 1) {
      failAt(f.size + 1, link.seq > f.size + 1 ? `entry ${f.size + 1} is missing` : `entry ${link.seq} is out of order`);
      break;
    }
    let parsed: Record<string, unknown> | null = null;
    try {
      const v: unknown = JSON.parse(link.entry);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) parsed = v as Record<string, unknown>;
    } catch {
      // reported below
    }
    if (parsed?.seq !== link.seq) {
      failAt(link.seq, `entry ${link.seq} does not name its own seq`);
      break;
    }
    const leaf = leafHash(link.entry);
    if (link.hash && !same(leaf, link.hash)) {
      failAt(link.seq, `entry ${link.seq} does not hash to its stored leaf hash`);
      break;
    }
    // A missing MAC is accepted only in a prefix of entries logged before MACs existed (migrations/0010), and
    // never from the seq a signed checkpoint's `mac-from` line names (nulling every MAC is named there).
    if (opts.entryMac && (link.mac ? !same(opts.entryMac(leaf), link.mac) : seenMac || link.seq >= macsFrom)) {
      failAt(link.seq, link.mac || seenMac ? `entry ${link.seq} does not carry the broker's MAC: it was rewritten` : `entry ${link.seq} has no MAC, but a signed checkpoint says every entry from ${macsFrom} carries one: the MACs were removed`);
      break;
    }
    if (link.mac) seenMac = true;
    if (link.columns && !columnsMatch(link.columns, parsed)) {
      failAt(link.seq, `entry ${link.seq}: the searchable columns differ from the entry`);
      break;
    }
    appendLeaf(f, leaf);
    const t = typeof parsed.time === 'string' ? Date.parse(parsed.time) : NaN;
    if (!Number.isNaN(t)) {
      // A pause longer than the cadence allows inside an unsigned run: the broker was stopped or crashed (a running
      // one signs within it), so the time cadence starts over at this entry. Otherwise the run may not outlast it.
      if (firstUnsignedTime === null || (prevTime !== null && t - prevTime > gapLimit)) {
        firstUnsignedTime = t;
        runSeq = link.seq;
      } else if (lateRun(t, `entry ${link.seq}`)) break;
      prevTime = t;
    }
    if (pins.has(f.size) || anchor?.size === f.size || opts.head?.seq === f.size || (every !== undefined && f.size % every === 0)) {
      checkRoot(f.size, frontierRoot(f));
      if (fail !== null) break;
    }
    checked += 1;
    if (checked % progressEvery === 0) opts.onProgress?.(checked, link.seq);
  }

  if (fail === null) {
    const end = started ? f.size : Math.min(lastPin, prunedThrough);
    const mustReach = Math.max(lastPin, anchor?.size ?? 0, opts.head?.seq ?? 0, opts.minSize ?? 0);
    if (end < mustReach) failAt(end + 1, `the log ends at ${end} but must reach ${mustReach} (a truncated tail)`);
    else if (!started && end > 0 && opts.head?.seq === end && !same(pins.get(end)?.root ?? Buffer.alloc(0), opts.head.hash)) failAt(end, 'the head does not match the last checkpoint');
    const c = opts.cadence;
    if (fail === null && c && firstUnsignedTime !== null && lastGood < end) {
      const limit = c.now.getTime() - (c.seconds + (c.slackSeconds ?? 10)) * 1000;
      if (firstUnsignedTime < limit) failAt(lastGood + 1, `entries after ${lastGood} are older than ${c.seconds} s and no signed checkpoint covers them`);
    }
  }

  const witnessed_through: Record<string, number> = {};
  for (const w of witnesses) {
    const sizes = pinSizes.filter((s) => pins.get(s)?.cosigned.has(w.name) && (fail === null || s < fail));
    witnessed_through[w.name] = sizes.at(-1) ?? 0;
    if (sizes.length === 0) {
      problems.push(`witness ${w.name} has cosigned no checkpoint that checks`);
      if (fail === null) fail = 1;
    }
  }
  const signed = Math.max(fail === null ? lastGood : Math.min(lastGood, fail - 1), 0);
  return { ok: fail === null, checked, first_bad_seq: fail, signed_through: signed, witnessed_through, problems };
}

function columnsMatch(c: EntryColumns, e: Record<string, unknown>): boolean {
  return (
    timeMs(c.time) === (typeof e.time === 'string' ? Date.parse(e.time) : NaN) &&
    c.request_id === e.request_id &&
    c.type === e.type &&
    c.operation === e.operation &&
    c.mount_path === (e.mount ?? null) &&
    c.path === e.path &&
    c.accessor === (e.accessor ?? null) &&
    c.remote_address === (e.remote_address ?? null) &&
    c.outcome === e.outcome
  );
}
