import nacl from 'tweetnacl';
import type { Barrier } from '../barrier.ts';

/** The Ed25519 key that signs audit checkpoints, derived from the root key (so every replica has the same one). */
export function createAuditSigner(barrier: Barrier) {
  const keyPair = () => nacl.sign.keyPair.fromSeed(new Uint8Array(barrier.deriveKey('audit-signing')));
  return {
    publicKey(): Buffer {
      const kp = keyPair();
      kp.secretKey.fill(0);
      return Buffer.from(kp.publicKey);
    },
    /** nacl.sign is slow (~200/s): checkpoints only, never per request. */
    sign(message: string): { signature: Buffer; publicKey: Buffer } {
      const kp = keyPair();
      const signature = Buffer.from(nacl.sign.detached(Buffer.from(message, 'utf8'), kp.secretKey));
      kp.secretKey.fill(0);
      return { signature, publicKey: Buffer.from(kp.publicKey) };
    },
  };
}

export type AuditSigner = ReturnType<typeof createAuditSigner>;
