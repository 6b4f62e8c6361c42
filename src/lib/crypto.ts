import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/** HKDF-SHA256 derivation of a 32-byte sub-key for one purpose ("token-hmac", "audit-hmac", ...). */
export function deriveKey(rootKey: Uint8Array, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootKey, Buffer.from('sealbox/v1'), Buffer.from(purpose), 32));
}

export function hmacSha256(key: Uint8Array, input: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(input).digest();
}

export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Overwrites a key buffer that is no longer needed. */
export function zero(buf: Uint8Array | null | undefined): void {
  buf?.fill(0);
}

