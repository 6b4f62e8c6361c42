/**
 * A minimal DER reader: just enough to pull the subject, the subject alternative names and the key identifiers
 * out of an X.509 certificate that node:crypto has already parsed (node:crypto exposes them only as escaped text,
 * or not at all). Every read is bounds-checked; malformed input throws DerError.
 */
export class DerError extends Error {}

export interface Tlv {
  /** The full identifier octet (class, constructed bit and tag number; tag numbers ≥ 31 are not supported). */
  tag: number;
  /** The content octets. */
  value: Buffer;
}

/** Reads one TLV at `offset`; returns it and the offset just past it. */
export function readTlv(buf: Buffer, offset: number): { tlv: Tlv; next: number } {
  if (offset + 2 > buf.length) throw new DerError('truncated');
  const tag = buf[offset] as number;
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not supported');
  let length = buf[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > buf.length) throw new DerError('bad length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (buf[start + i] as number);
    start += octets;
  }
  const end = start + length;
  if (end > buf.length) throw new DerError('truncated');
  return { tlv: { tag, value: buf.subarray(start, end) }, next: end };
}

/** The TLVs directly inside a constructed value. */
export function children(value: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let offset = 0; offset < value.length; ) {
    const { tlv, next } = readTlv(value, offset);
    out.push(tlv);
    offset = next;
  }
  return out;
}

/** Dotted form of an OBJECT IDENTIFIER's content octets. */
export function oidString(value: Buffer): string {
  if (value.length === 0) throw new DerError('empty OID');
  const first = value[0] as number;
  const parts: number[] = [Math.min(2, Math.floor(first / 40)), first - Math.min(2, Math.floor(first / 40)) * 40];
  let n = 0;
  for (let i = 1; i < value.length; i++) {
    const b = value[i] as number;
    n = n * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(n);
      n = 0;
    }
  }
  return parts.join('.');
}

/** Decodes the directory-string types found in names (UTF8, Printable, IA5, Teletex, BMP, Universal). */
export function decodeString(tlv: Tlv): string {
  switch (tlv.tag) {
    case 0x0c: // UTF8String
      return tlv.value.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return tlv.value.toString('ascii');
    case 0x14: // TeletexString (in practice Latin-1)
      return tlv.value.toString('latin1');
    case 0x1e: // BMPString: UTF-16BE
      if (tlv.value.length % 2 !== 0) throw new DerError('bad BMPString');
      return Buffer.from(tlv.value).swap16().toString('utf16le');
    case 0x1c: {
      // UniversalString: UTF-32BE
      let s = '';
      for (let i = 0; i + 4 <= tlv.value.length; i += 4) {
        const cp = tlv.value.readUInt32BE(i);
        if (cp > 0x10ffff) throw new DerError('bad UniversalString');
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      throw new DerError(`unsupported string type 0x${tlv.tag.toString(16)}`);
  }
}
