/** Certificate serial numbers: random 128-bit, positive, shown as Vault does ("1f:0a:…"), stored as "1f-0a-…". */
import { badRequest } from '../../lib/errors.ts';
import type { Random } from '../../lib/random.ts';

/** 16 random bytes with the top bit clear (positive) and the next bit set (always 16 bytes long in DER). */
export function newSerialHex(random: Random): string {
  const b = random.bytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return b.toString('hex');
}

/** "1f0a…" → "1f:0a:…" */
export const serialColons = (hex: string): string => (hex.toLowerCase().match(/../g) ?? []).join(':');

/** The storage form of a serial given in any of Vault's forms: colons, hyphens or plain hex. */
export function serialKey(input: string): string {
  const hex = input.trim().toLowerCase().replace(/[:-]/g, '');
  if (!/^[0-9a-f]{1,64}$/.test(hex)) throw badRequest(`invalid serial number "${input.slice(0, 80)}": expected hex octets such as "1f:0a:…"`);
  const even = hex.length % 2 === 1 ? `0${hex}` : hex;
  return (even.match(/../g) ?? []).join('-');
}

export const serialFromKey = (key: string): string => key.replace(/-/g, ':');
