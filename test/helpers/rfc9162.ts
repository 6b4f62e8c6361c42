// An independent RFC 9162 §2.1 implementation for tests, written from the RFC text and sharing no code with the
// broker (src/lib/merkle.ts): the recursive definitions of MTH, PATH and PROOF, and the verification algorithms.
import { createHash } from 'node:crypto';

const sha256 = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export const rfcLeaf = (entry: string): Buffer => sha256(Buffer.from([0x00]), Buffer.from(entry, 'utf8'));
const node = (l: Uint8Array, r: Uint8Array): Buffer => sha256(Buffer.from([0x01]), l, r);

/** k: the largest power of two smaller than n (n > 1). */
function k(n: number): number {
  let p = 1;
  while (p << 1 < n) p <<= 1;
  return p;
}

/** MTH(D[n]) over leaf hashes (§2.1.1). */
export function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return sha256();
  if (leaves.length === 1) return leaves[0] as Buffer;
  const s = k(leaves.length);
  return node(mth(leaves.slice(0, s)), mth(leaves.slice(s)));
}

/** PATH(m, D[n]) (§2.1.3.1). */
export function path(m: number, leaves: readonly Buffer[]): Buffer[] {
  if (leaves.length <= 1) return [];
  const s = k(leaves.length);
  return m < s ? [...path(m, leaves.slice(0, s)), mth(leaves.slice(s))] : [...path(m - s, leaves.slice(s)), mth(leaves.slice(0, s))];
}

/** PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (§2.1.4.1). */
export function proof(m: number, leaves: readonly Buffer[]): Buffer[] {
  const sub = (m: number, d: readonly Buffer[], b: boolean): Buffer[] => {
    if (m === d.length) return b ? [] : [mth(d)];
    const s = k(d.length);
    return m <= s ? [...sub(m, d.slice(0, s), b), mth(d.slice(s))] : [...sub(m - s, d.slice(s), false), mth(d.slice(0, s))];
  };
  return sub(m, leaves, true);
}

/** §2.1.3.2, step by step. */
export function rfcVerifyInclusion(leafIndex: number, treeSize: number, leafHash: Buffer, inclusionPath: readonly Buffer[], rootHash: Buffer): boolean {
  if (leafIndex >= treeSize) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = leafHash;
  for (const p of inclusionPath) {
    if (sn === 0) return false;
    if ((fn & 1) === 1 || fn === sn) {
      r = node(p, r);
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn === 0 && r.equals(rootHash);
}

/** §2.1.4.2, step by step. */
export function rfcVerifyConsistency(first: number, second: number, firstHash: Buffer, secondHash: Buffer, consistencyPath: readonly Buffer[]): boolean {
  if (first === second) return consistencyPath.length === 0 && firstHash.equals(secondHash);
  let p = [...consistencyPath];
  if ((first & (first - 1)) === 0) p = [firstHash, ...p];
  let fn = first - 1;
  let sn = second - 1;
  while ((fn & 1) === 1) {
    fn >>= 1;
    sn >>= 1;
  }
  if (p.length === 0) return false;
  let fr = p[0] as Buffer;
  let sr = p[0] as Buffer;
  for (const c of p.slice(1)) {
    if (sn === 0) return false;
    if ((fn & 1) === 1 || fn === sn) {
      fr = node(c, fr);
      sr = node(c, sr);
      if ((fn & 1) === 0) {
        while ((fn & 1) === 0 && fn !== 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr.equals(firstHash) && sr.equals(secondHash) && sn === 0;
}
