import nacl from 'tweetnacl';
import { AppError } from '../../lib/errors.ts';

/**
 * Envelope layout (version 1), all integers big-endian:
 *   [0]        format version (1)
 *   [1..5)     keyring term of the KEK that wraps the DEK
 *   [5..29)    DEK nonce (24)            [29..77)  secretbox(DEK, KEK[term])  (32 + 16)
 *   [77..101)  value nonce (24)          [101..)   secretbox(u16 ctxLen ‖ ctx ‖ plaintext, DEK)
 * The context names where the value lives (table, mount, key). secretbox has no associated data, so
 * the context travels inside the ciphertext and is compared on open: a value copied elsewhere fails.
 */
const VERSION = 1;
const N = nacl.secretbox.nonceLength; // 24
const WRAPPED = nacl.secretbox.keyLength + nacl.secretbox.overheadLength; // 48
const HEADER = 1 + 4 + N + WRAPPED + N; // 101

const INTEGRITY_MESSAGE = 'stored value failed its integrity check';
export const integrityError = (): AppError => new AppError('internal', INTEGRITY_MESSAGE);
/** A value that did not open (forged, moved, or written without the root key), as opposed to any other failure. */
export const isIntegrityError = (err: unknown): boolean => err instanceof AppError && err.message === INTEGRITY_MESSAGE;

export function sealEnvelope(
  term: number,
  kek: Uint8Array,
  ctx: string,
  plaintext: Uint8Array,
  randomBytes: (n: number) => Uint8Array,
): Buffer {
  const dek = randomBytes(nacl.secretbox.keyLength);
  const dekNonce = randomBytes(N);
  const valueNonce = randomBytes(N);
  const ctxBytes = Buffer.from(ctx, 'utf8');
  const framed = Buffer.alloc(2 + ctxBytes.length + plaintext.length);
  framed.writeUInt16BE(ctxBytes.length, 0);
  ctxBytes.copy(framed, 2);
  framed.set(plaintext, 2 + ctxBytes.length);
  const wrapped = nacl.secretbox(dek, dekNonce, kek);
  const box = nacl.secretbox(framed, valueNonce, dek);
  dek.fill(0);
  framed.fill(0);
  const out = Buffer.alloc(HEADER + box.length);
  out[0] = VERSION;
  out.writeUInt32BE(term, 1);
  out.set(dekNonce, 5);
  out.set(wrapped, 5 + N);
  out.set(valueNonce, 5 + N + WRAPPED);
  out.set(box, HEADER);
  return out;
}

/** The term an envelope was written under, so the caller can find (or load) its KEK. */
export function envelopeTerm(sealed: Uint8Array): number {
  if (sealed.length < HEADER + nacl.secretbox.overheadLength + 2 || sealed[0] !== VERSION) throw integrityError();
  return Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).readUInt32BE(1);
}

/**
 * Unwrapped DEKs by their wrapped form, so that a value read again costs one secretbox instead of two. It holds
 * nothing the KEKs beside it could not recover; the barrier bounds it and zeroes it on seal.
 */
export type DekCache = Map<string, Uint8Array>;
const DEK_CACHE_MAX = 10_000;

export function openEnvelope(kek: Uint8Array, ctx: string, sealed: Uint8Array, dekCache?: DekCache): Buffer {
  envelopeTerm(sealed);
  const wrappedKey = dekCache ? Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength).toString('latin1', 1, 5 + N + WRAPPED) : '';
  let dek = dekCache?.get(wrappedKey) ?? null;
  if (!dek) {
    dek = nacl.secretbox.open(sealed.subarray(5 + N, 5 + N + WRAPPED), sealed.subarray(5, 5 + N), kek);
    if (!dek) throw integrityError();
    if (dekCache) {
      if (dekCache.size >= DEK_CACHE_MAX) {
        for (const d of dekCache.values()) d.fill(0);
        dekCache.clear();
      }
      dekCache.set(wrappedKey, dek);
    }
  }
  const framed = nacl.secretbox.open(sealed.subarray(HEADER), sealed.subarray(5 + N + WRAPPED, HEADER), dek);
  if (!dekCache) dek.fill(0);
  if (!framed) throw integrityError();
  const buf = Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
  const ctxLen = buf.readUInt16BE(0);
  if (buf.toString('utf8', 2, 2 + ctxLen) !== ctx) {
    buf.fill(0);
    throw integrityError();
  }
  return buf.subarray(2 + ctxLen);
}

/** Root-key wrapping of one keyring term's KEK, bound to that term. */
export function sealKek(rootKey: Uint8Array, term: number, kek: Uint8Array, randomBytes: (n: number) => Uint8Array): Buffer {
  return sealEnvelope(0, rootKey, `keyring/${term}`, kek, randomBytes);
}

export function openKek(rootKey: Uint8Array, term: number, sealed: Uint8Array): Buffer {
  return openEnvelope(rootKey, `keyring/${term}`, sealed);
}

/** An envelope's DEK head: version, term, DEK nonce and wrapped DEK, all that a keyring rewrap reads or rewrites. */
export const DEK_HEAD_BYTES = 5 + N + WRAPPED; // 77

/** The term of an envelope or of its DEK head; null if it is not one (too short, another format). */
export function dekHeadTerm(head: Uint8Array): number | null {
  if (head.length < DEK_HEAD_BYTES || head[0] !== VERSION) return null;
  return Buffer.from(head.buffer, head.byteOffset, head.byteLength).readUInt32BE(1);
}

/**
 * Keyring rewrap of a batch of DEK heads (the first DEK_HEAD_BYTES of envelopes): each DEK is opened under the KEK of
 * the term in its head and wrapped again under `kek` (term `term`) with a fresh nonce; the result is the new head,
 * and the caller keeps the rest of the envelope (value nonce and value ciphertext) as it is. The value is not opened
 * here: it stays sealed by the same DEK, with its context inside, so a rewrapped envelope opens under a context exactly
 * when the original did, with the same plaintext, and openEnvelope checks that on every read (SECURITY.md, "Key
 * hierarchy"). A DEK comes out only of a wrapping made under the KEK (secretbox is authenticated), so a writer without
 * the keys can move or mix heads and values, never make one that opens. A head whose DEK does not open (forged,
 * damaged, or a term with no KEK in `keks`) gives null. One draw of randomness serves the whole batch; each unwrapped
 * DEK is zeroed at once.
 */
export function rewrapDekHeads(
  keks: ReadonlyMap<number, Uint8Array>,
  term: number,
  kek: Uint8Array,
  heads: readonly Uint8Array[],
  randomBytes: (n: number) => Uint8Array,
): (Buffer | null)[] {
  const nonces = randomBytes(N * heads.length);
  return heads.map((head, i) => {
    const from = dekHeadTerm(head);
    const oldKek = from === null ? undefined : keks.get(from);
    const dek = oldKek ? nacl.secretbox.open(head.subarray(5 + N, DEK_HEAD_BYTES), head.subarray(5, 5 + N), oldKek) : null;
    if (!dek) return null;
    const dekNonce = nonces.subarray(i * N, (i + 1) * N);
    const next = Buffer.alloc(DEK_HEAD_BYTES);
    next[0] = VERSION;
    next.writeUInt32BE(term, 1);
    next.set(dekNonce, 5);
    next.set(nacl.secretbox(dek, dekNonce, kek), 5 + N);
    dek.fill(0);
    return next;
  });
}
