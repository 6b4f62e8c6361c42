import { createHash } from 'node:crypto';
import type { Barrier } from '../barrier/barrier.ts';
import { ed25519PrivateKey, encodeVkey, SIG_ED25519, signNote } from './note.ts';

/** The log's origin line (and its key name): unique per signing key, so two brokers' logs never share one. */
export const originFor = (publicKey: Uint8Array): string => `sealbox.audit/${createHash('sha256').update(publicKey).digest('hex').slice(0, 16)}`;

export interface AuditSigner {
  publicKey(): Buffer;
  /** The checkpoint origin line, which is also the signature's key name. */
  origin(): string;
  /** The verifier key (c2sp.org/signed-note vkey) of the log. */
  vkey(): string;
  /** `body` as a signed note: body, blank line, the log's Ed25519 signature line. */
  signNote(body: string): string;
}

/** A signer over a raw 32-byte Ed25519 seed (benchmarks and tests; the broker derives its seed from the root key). */
export function createNoteSigner(seed: Uint8Array): AuditSigner {
  const key = ed25519PrivateKey(seed);
  const origin = originFor(key.publicKey);
  return {
    publicKey: () => key.publicKey,
    origin: () => origin,
    vkey: () => encodeVkey(origin, SIG_ED25519, key.publicKey),
    signNote: (body) => signNote(body, origin, key),
  };
}

/**
 * The Ed25519 key that signs audit checkpoints and marks, seeded by HKDF from the root key (so every replica has the
 * same one). node:crypto signs ~150x faster than tweetnacl's nacl.sign; the signatures are the same Ed25519.
 */
export function createAuditSigner(barrier: Barrier): AuditSigner {
  let cached: { seed: Buffer; signer: AuditSigner } | null = null;
  const current = (): AuditSigner => {
    let seed: Buffer;
    try {
      seed = barrier.deriveKey('audit-signing');
    } catch (err) {
      // The batch of the request that sealed the barrier is appended after the seal: it signs with the key it had.
      if (cached) return cached.signer;
      throw err;
    }
    if (cached?.seed !== seed) cached = { seed, signer: createNoteSigner(seed) };
    return cached.signer;
  };
  return {
    publicKey: () => current().publicKey(),
    origin: () => current().origin(),
    vkey: () => current().vkey(),
    signNote: (body) => current().signNote(body),
  };
}
