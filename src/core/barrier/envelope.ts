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

/**
 * Re-wraps an envelope's DEK under another KEK (keyring rotation) without touching the value: the value nonce and
 * ciphertext, and so the context sealed inside them, are copied as they are. The DEK must open under `oldKek`, and the
 * value must open under the DEK with the expected context, so a damaged or misplaced row is reported, never carried forward.
 */
export function rewrapEnvelope(
  oldKek: Uint8Array,
  term: number,
  kek: Uint8Array,
  ctx: string,
  sealed: Uint8Array,
  randomBytes: (n: number) => Uint8Array,
): Buffer {
  envelopeTerm(sealed);
  const dek = nacl.secretbox.open(sealed.subarray(5 + N, 5 + N + WRAPPED), sealed.subarray(5, 5 + N), oldKek);
  if (!dek) throw integrityError();
  try {
    const framed = nacl.secretbox.open(sealed.subarray(HEADER), sealed.subarray(5 + N + WRAPPED, HEADER), dek);
    if (!framed) throw integrityError();
    const buf = Buffer.from(framed.buffer, framed.byteOffset, framed.byteLength);
    const ctxLen = buf.readUInt16BE(0);
    const sameCtx = buf.toString('utf8', 2, 2 + ctxLen) === ctx;
    buf.fill(0);
    if (!sameCtx) throw integrityError();
    const dekNonce = randomBytes(N);
    const out = Buffer.from(sealed);
    out.writeUInt32BE(term, 1);
    out.set(dekNonce, 5);
    out.set(nacl.secretbox(dek, dekNonce, kek), 5 + N);
    return out;
  } finally {
    dek.fill(0);
  }
}
