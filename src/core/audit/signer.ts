import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto';
import type { Barrier } from '../barrier.ts';

/** PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * The Ed25519 key that signs audit checkpoints, seeded by HKDF from the root key (so every replica has the same
 * one). node:crypto signs ~150x faster than tweetnacl's nacl.sign, and the signatures are the same Ed25519
 * (verify.ts checks them with tweetnacl).
 */
export function createAuditSigner(barrier: Barrier) {
  let cached: { seed: Buffer; key: KeyObject; publicKey: Buffer } | null = null;
  const key = () => {
    const seed = barrier.deriveKey('audit-signing');
    if (cached?.seed !== seed) {
      const der = Buffer.concat([PKCS8_ED25519, seed]);
      const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      der.fill(0);
      const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
      cached = { seed, key: privateKey, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
    }
    return cached;
  };
  return {
    publicKey: (): Buffer => key().publicKey,
    sign(message: string): { signature: Buffer; publicKey: Buffer } {
      const k = key();
      return { signature: sign(null, Buffer.from(message, 'utf8'), k.key), publicKey: k.publicKey };
    },
  };
}

export type AuditSigner = ReturnType<typeof createAuditSigner>;
