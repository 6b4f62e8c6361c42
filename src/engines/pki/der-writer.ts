/**
 * A minimal DER writer for the parts of a leaf certificate the engine encodes itself (leaf-der.ts): lengths,
 * TLVs, positive INTEGERs and X.509 times, byte for byte as @peculiar/x509 writes them.
 */

/** The DER length octets of `n`. */
export function lengthOctets(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** Tag, length and the concatenated content. */
export function tlv(tag: number, ...content: readonly Uint8Array[]): Buffer {
  let len = 0;
  for (const c of content) len += c.length;
  const header = lengthOctets(len);
  const out = Buffer.allocUnsafe(1 + header.length + len);
  out[0] = tag;
  header.copy(out, 1);
  let at = 1 + header.length;
  for (const c of content) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

export const sequence = (...content: readonly Uint8Array[]): Buffer => tlv(0x30, ...content);
export const octetString = (...content: readonly Uint8Array[]): Buffer => tlv(0x04, ...content);

/** An unsigned big-endian number as a DER INTEGER: leading zeros dropped, a 0x00 added when the top bit is set. */
export function positiveInteger(value: Uint8Array): Buffer {
  let first = 0;
  while (first < value.length - 1 && value[first] === 0) first++;
  const digits = value.length === 0 ? new Uint8Array([0]) : value.subarray(first);
  return (digits[0] ?? 0) > 0x7f ? tlv(0x02, Buffer.from([0]), digits) : tlv(0x02, digits);
}

const pad = (n: number): string => String(n).padStart(2, '0');

/**
 * RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, whole seconds (milliseconds dropped, as
 * the library's Time does).
 */
export function x509Time(at: Date): Buffer {
  const year = at.getUTCFullYear();
  const rest = `${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}Z`;
  if (year > 2049) return tlv(0x18, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'));
  return tlv(0x17, Buffer.from(`${pad(year < 2000 ? year - 1900 : year - 2000)}${rest}`, 'latin1'));
}

/** DER length at `at`: [length, length octets]. */
export function readLength(der: Uint8Array, at: number): [number, number] {
  const first = der[at] ?? 0;
  if (first < 0x80) return [first, 1];
  let len = 0;
  for (let i = 1; i <= (first & 0x7f); i++) len = len * 256 + (der[at + i] ?? 0);
  return [len, 1 + (first & 0x7f)];
}

/** The content of the TLV at `at`, and the offset after it. */
export function readTlv(der: Uint8Array, at: number): { content: Uint8Array; end: number } {
  const [len, header] = readLength(der, at + 1);
  const start = at + 1 + header;
  return { content: der.subarray(start, start + len), end: start + len };
}
