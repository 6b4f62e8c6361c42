import { createHash } from 'node:crypto';

/**
 * The audit log's Merkle tree, hashed as RFC 9162 §2.1: leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right),
 * the hash of the empty tree = SHA-256(""). Leaf i (from 0) is the canonical entry with seq i + 1. Pure: no storage.
 */

const LEAF = Buffer.from([0]);
const NODE = Buffer.from([1]);

export const EMPTY_ROOT = createHash('sha256').digest();

export const leafHash = (entry: string | Uint8Array): Buffer => createHash('sha256').update(LEAF).update(entry).digest();
export const nodeHash = (left: Uint8Array, right: Uint8Array): Buffer => createHash('sha256').update(NODE).update(left).update(right).digest();

/**
 * Interior nodes are stored only at levels that are multiples of TILE (8): a perfect subtree at any other level is
 * folded from at most 2^7 stored hashes below it. Appending n entries then writes about n/255 node rows.
 */
export const TILE = 8;

export interface StoredNode {
  level: number;
  index: number;
  hash: Buffer;
}

/**
 * The right frontier of a tree of `size` leaves: the roots of its perfect subtrees, one per set bit of `size`,
 * largest (leftmost) first. It is all an appender needs to add leaves and compute the root: O(log n).
 */
export interface Frontier {
  size: number;
  hashes: Buffer[];
}

export const emptyFrontier = (): Frontier => ({ size: 0, hashes: [] });
export const copyFrontier = (f: Frontier): Frontier => ({ size: f.size, hashes: f.hashes.slice() });

/** Adds one leaf hash, in place; calls `stored` for every completed node at a level that is a multiple of TILE. */
export function appendLeaf(f: Frontier, leaf: Buffer, stored?: (n: StoredNode) => void): void {
  let node = leaf;
  let level = 0;
  for (let m = f.size; m % 2 === 1; m = Math.floor(m / 2)) {
    const left = f.hashes.pop();
    if (!left) throw new Error('corrupt Merkle frontier');
    node = nodeHash(left, node);
    level += 1;
    if (level % TILE === 0 && stored) stored({ level, index: Math.floor(f.size / 2 ** level), hash: node });
  }
  f.hashes.push(node);
  f.size += 1;
}

export function frontierRoot(f: Frontier): Buffer {
  let r = f.hashes.at(-1);
  if (!r) return EMPTY_ROOT;
  for (let i = f.hashes.length - 2; i >= 0; i--) r = nodeHash(f.hashes[i] as Buffer, r);
  return r;
}

const popcount = (n: number): number => {
  let c = 0;
  for (let m = n; m > 0; m = Math.floor(m / 2)) c += m % 2;
  return c;
};

export const encodeFrontier = (f: Frontier): Buffer => Buffer.concat(f.hashes);

/** The frontier stored for a tree of `size` leaves, or null when the bytes cannot be one. */
export function decodeFrontier(size: number, bytes: Uint8Array): Frontier | null {
  const n = popcount(size);
  if (bytes.length !== n * 32) return null;
  const b = Buffer.from(bytes);
  return { size, hashes: Array.from({ length: n }, (_, i) => b.subarray(i * 32, i * 32 + 32)) };
}

/** The largest power of two strictly below n (n >= 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Hash of the perfect subtree at (level, index): leaves [index·2^level, (index+1)·2^level). */
export type PerfectHash = (level: number, index: number) => Promise<Buffer>;

/** MTH(D[lo:hi]) from perfect subtrees (RFC 9162 §2.1.1). */
export async function rangeHash(lo: number, hi: number, perfect: PerfectHash): Promise<Buffer> {
  const n = hi - lo;
  if (n <= 0) return EMPTY_ROOT;
  if (isPow2(n) && lo % n === 0) return perfect(Math.log2(n), lo / n);
  const k = splitPoint(n);
  return nodeHash(await rangeHash(lo, lo + k, perfect), await rangeHash(lo + k, hi, perfect));
}

/** PATH(m, D[lo:hi]) (RFC 9162 §2.1.3.1): the inclusion proof of leaf m, leaf-side first. */
export async function inclusionProof(m: number, lo: number, hi: number, perfect: PerfectHash): Promise<Buffer[]> {
  const n = hi - lo;
  if (n <= 1) return [];
  const k = splitPoint(n);
  if (m - lo < k) return [...(await inclusionProof(m, lo, lo + k, perfect)), await rangeHash(lo + k, hi, perfect)];
  return [...(await inclusionProof(m, lo + k, hi, perfect)), await rangeHash(lo, lo + k, perfect)];
}

/** PROOF(m, D[0:n]) (RFC 9162 §2.1.4.1) for 0 < m <= n. */
export async function consistencyProof(m: number, n: number, perfect: PerfectHash): Promise<Buffer[]> {
  const sub = async (m: number, lo: number, hi: number, b: boolean): Promise<Buffer[]> => {
    const size = hi - lo;
    if (m === size) return b ? [] : [await rangeHash(lo, hi, perfect)];
    const k = splitPoint(size);
    if (m <= k) return [...(await sub(m, lo, lo + k, b)), await rangeHash(lo + k, hi, perfect)];
    return [...(await sub(m - k, lo + k, hi, false)), await rangeHash(lo, lo + k, perfect)];
  };
  return sub(m, 0, n, true);
}

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0;

/** RFC 9162 §2.1.3.2: does `proof` show leaf `index` (hash `leaf`) in the tree of `size` with `root`? */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  if (index >= size || index < 0) return false;
  let fn = index;
  let sn = size - 1;
  let r: Uint8Array = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(r, root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree (size2, root2) extends the tree (size1, root1)? */
export function verifyConsistency(size1: number, size2: number, root1: Uint8Array, root2: Uint8Array, proof: readonly Uint8Array[]): boolean {
  if (size1 > size2 || size1 < 0) return false;
  if (size1 === size2) return proof.length === 0 && same(root1, root2);
  if (size1 === 0) return proof.length === 0;
  const path = isPow2(size1) ? [root1, ...proof] : [...proof];
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) [fn, sn] = [Math.floor(fn / 2), Math.floor(sn / 2)];
  const first = path[0];
  if (!first) return false;
  let fr: Uint8Array = first;
  let sr: Uint8Array = first;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) [fn, sn] = [fn / 2, Math.floor(sn / 2)];
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && same(fr, root1) && same(sr, root2);
}
