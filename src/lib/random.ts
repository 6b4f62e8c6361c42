import { randomBytes, randomUUID } from 'node:crypto';

/** Source of randomness, passed in so that tests can observe it. */
export interface Random {
  bytes(n: number): Buffer;
  uuid(): string;
}

export const systemRandom: Random = { bytes: (n) => randomBytes(n), uuid: () => randomUUID() };

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A base62 string of `length` characters with no modulo bias. */
export function randomBase62(random: Random, length: number): string {
  let out = '';
  while (out.length < length) {
    for (const b of random.bytes(length * 2)) {
      if (b < 248 && out.length < length) out += ALPHABET[b % 62];
    }
  }
  return out;
}

/** A uniform fraction in [0, 1) from `random` (32 bits; for jitter, never for keys). */
export function randomFraction(random: Random): number {
  return random.bytes(4).readUInt32BE(0) / 2 ** 32;
}
