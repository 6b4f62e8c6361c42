import { createHash } from 'node:crypto';
import type { Random } from './random.ts';

/**
 * A deterministic Random for tests: the same seed gives the same bytes and UUIDs in the same order (SHA-256 of the
 * seed and a counter). Never for production: its output is predictable by design.
 */
export function createSeededRandom(seed: string | number): Random {
  let counter = 0;
  let pool = Buffer.alloc(0);
  const bytes = (n: number): Buffer => {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`seeded random: cannot give ${n} bytes`);
    while (pool.length < n) {
      const block = createHash('sha256').update(`${String(seed)}\u0000${counter++}`).digest();
      pool = Buffer.concat([pool, block]);
    }
    const out = Buffer.from(pool.subarray(0, n));
    pool = pool.subarray(n);
    return out;
  };
  return {
    bytes,
    uuid(): string {
      const b = bytes(16);
      // RFC 9562 version 4 / variant 10, as randomUUID() gives.
      b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
      b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
      const h = b.toString('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
  };
}
