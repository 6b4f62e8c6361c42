/**
 * Verifies the audit hash chain and its signed checkpoints. Pure (no database, no broker): the broker feeds it
 * pages from PostgreSQL and `sealbox audit verify --file` feeds it an export, with only the public key.
 * Imports only lib/ and ./canonical.ts.
 */
import nacl from 'tweetnacl';
import { chainHash, checkpointMessage, GENESIS_HASH } from './canonical.ts';

/** One stored link: its seq, the canonical JSON entry exactly as stored, and the stored hash. */
export interface ChainLink {
  seq: number;
  entry: string;
  hash: Uint8Array;
}

export interface ChainCheckpoint {
  seq: number;
  hash: Uint8Array;
  /** The time that was signed: a Date (read from the database) or its ISO-8601 string (from an export). */
  time: Date | string;
  signature: Uint8Array;
  publicKey: Uint8Array;
}

export interface VerifyResult {
  ok: boolean;
  /** Links that checked out before the first failure (all of them when ok). */
  checked: number;
  /** The lowest sequence number that does not check, or null when ok. */
  first_bad_seq: number | null;
}

export interface VerifyOptions {
  /**
   * The chain head as the database records it (read before the walk). The chain must reach it and have the same
   * hash there: this catches a truncated tail behind the last checkpoint and a rewritten unsigned tail.
   */
  head?: { seq: number; hash: Uint8Array };
  /**
   * The highest seq that may have been pruned (the export mark: pruning never passes it). A chain that starts
   * after it is missing rows even when a checkpoint sits right before its start.
   */
  maxPruned?: number;
  /** Called every `progressEvery` links (default 10,000) with the number checked so far and the current seq. */
  onProgress?: (checked: number, seq: number) => void;
  progressEvery?: number;
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;

const timeText = (t: Date | string): string => (typeof t === 'string' ? t : t.toISOString());

/** Whether the checkpoint carries a valid Ed25519 signature by `trusted` (or, without one, by its own key). */
export function checkpointSignatureValid(cp: ChainCheckpoint, trusted?: Uint8Array): boolean {
  const key = trusted ?? cp.publicKey;
  try {
    const message = Buffer.from(checkpointMessage({ seq: cp.seq, hash: cp.hash, time: timeText(cp.time) }), 'utf8');
    return nacl.sign.detached.verify(new Uint8Array(message), new Uint8Array(cp.signature), new Uint8Array(key));
  } catch {
    // Wrong key or signature length.
    return false;
  }
}

/** The seq field of a stored entry, or null when the entry is not a JSON object with a numeric seq. */
function entrySeq(entry: string): number | null {
  try {
    const v: unknown = JSON.parse(entry);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    const seq = (v as Record<string, unknown>).seq;
    return typeof seq === 'number' ? seq : null;
  } catch {
    return null;
  }
}

/**
 * Walks the links in seq order (streamed: never more than one in memory) and checks that:
 * - the walk starts at seq 1 from GENESIS_HASH, or — after pruning — right after a checkpoint (its hash is the start);
 * - seqs have no gaps (a missing link is reported as the first missing seq);
 * - every entry parses and names its own seq (two swapped rows: the first of them);
 * - every stored hash equals SHA-256(previous hash ‖ entry) (an edited entry: its seq);
 * - every checkpoint is signed by the public key (the trusted one when given, else its own) and the chain's hash at
 *   its seq equals the checkpoint's hash (if not, the chain was rewritten after the previous pin: that pin + 1);
 * - the chain reaches the last checkpoint and the head (a truncated tail: the first missing seq).
 * Checkpoints below the first link (pruned) only have their signatures checked.
 */
export async function verifyChain(
  links: AsyncIterable<ChainLink> | Iterable<ChainLink>,
  checkpoints: readonly ChainCheckpoint[],
  publicKey?: Uint8Array | string,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const trusted = typeof publicKey === 'string' ? Buffer.from(publicKey, 'base64') : publicKey;
  const progressEvery = Math.max(1, opts.progressEvery ?? 10_000);

  // (Widened so that TypeScript does not narrow it to null: failAt assigns it.)
  let fail = null as number | null;
  const failAt = (seq: number) => {
    fail = fail === null ? seq : Math.min(fail, seq);
  };

  // Signed pins by seq; a checkpoint with a bad signature is itself the failure at its seq.
  const pins = new Map<number, Uint8Array[]>();
  for (const cp of checkpoints) {
    if (!checkpointSignatureValid(cp, trusted)) {
      failAt(cp.seq);
      continue;
    }
    const at = pins.get(cp.seq);
    if (at) at.push(cp.hash);
    else pins.set(cp.seq, [cp.hash]);
  }
  const pinSeqs = [...pins.keys()].sort((a, b) => a - b);
  const lastPin = pinSeqs.at(-1) ?? 0;

  let prevSeq: number | null = null;
  let prevHash: Uint8Array = GENESIS_HASH;
  /** The first seq after the last verified pin: where a rewrite caught by a later pin may begin. */
  let unpinnedFrom = 1;
  let checked = 0;

  for await (const link of links) {
    if (fail !== null && link.seq >= fail) break;
    if (prevSeq === null) {
      // Where the stored chain starts: seq 1 from genesis, or right after a signed checkpoint.
      const start = link.seq - 1;
      if (start < 0) {
        failAt(link.seq);
        break;
      }
      if (opts.maxPruned !== undefined && start > opts.maxPruned) {
        failAt(opts.maxPruned + 1);
        break;
      }
      const anchor = start > 0 ? pins.get(start)?.[0] : GENESIS_HASH;
      if (!anchor) {
        // The links before this one are gone with no checkpoint to start from: the first missing one after the last pin.
        const below = pinSeqs.filter((s) => s < link.seq).at(-1) ?? 0;
        failAt(below + 1);
        break;
      }
      prevSeq = start;
      prevHash = anchor;
      unpinnedFrom = link.seq;
    }
    if (link.seq !== prevSeq + 1) {
      failAt(prevSeq + 1);
      break;
    }
    if (entrySeq(link.entry) !== link.seq) {
      failAt(link.seq);
      break;
    }
    const hash = chainHash(prevHash, link.entry);
    if (!sameBytes(hash, link.hash)) {
      failAt(link.seq);
      break;
    }
    const pinned = pins.get(link.seq);
    const headHere = opts.head && opts.head.seq === link.seq ? opts.head.hash : undefined;
    if ((pinned && !pinned.every((h) => sameBytes(h, hash))) || (headHere && !sameBytes(headHere, hash))) {
      failAt(unpinnedFrom);
      break;
    }
    if (pinned) unpinnedFrom = link.seq + 1;
    prevSeq = link.seq;
    prevHash = hash;
    checked += 1;
    if (checked % progressEvery === 0) opts.onProgress?.(checked, link.seq);
  }

  if (fail === null) {
    // Nothing stored at all is fine if everything was pruned through the last checkpoint (or nothing was ever written).
    const end = prevSeq ?? Math.min(lastPin, opts.maxPruned ?? lastPin);
    const mustReach = Math.max(lastPin, opts.head?.seq ?? 0);
    if (end < mustReach) failAt(end + 1);
    else if (prevSeq === null && opts.head && opts.head.seq === end && end > 0) {
      const pinnedHash = pins.get(end)?.[0];
      if (pinnedHash && !sameBytes(pinnedHash, opts.head.hash)) failAt(end);
    }
  }
  return { ok: fail === null, checked, first_bad_seq: fail };
}
