/**
 * Leaf certificates encoded here rather than by @peculiar/x509, whose generator serialises each part, parses it
 * back, serialises the whole and parses the result again (four ASN.1 passes per certificate, most of the engine's
 * CPU). What does not change between two leaves of a CA and role is encoded once: the issuer's name, signature
 * algorithm, authority key identifier and signing KeyObject (a LeafSigner, kept with the cached issuer), the
 * role's key usage and EKU, the URL extensions and recent subjects (certificate.ts). Per leaf this writes only the
 * serial, validity, subject key identifier and SANs, and signs with node:crypto on its thread pool.
 *
 * The bytes are the library's (test/pki-leaf-der.test.ts compares the TBS of both for every key type).
 */
import { createHash, createPrivateKey, sign as nodeSign, type KeyObject } from 'node:crypto';
import { octetString, positiveInteger, readTlv, sequence, tlv, x509Time } from './der-writer.ts';
import type { KeySpec } from './keys.ts';
import type { SanSet } from './certificate.ts';
import { toPem, x509 } from './x509.ts';

/** What every leaf of one issuer shares, encoded once. */
export interface LeafSigner {
  /** DER Name of the CA's subject: the leaves' issuer. */
  issuerName: Buffer;
  /** DER AlgorithmIdentifier of the CA key's signatures. */
  algorithm: Buffer;
  /** DER Extension: the authority key identifier of the leaves. */
  authorityKeyId: Buffer;
  sign(tbs: Buffer): Promise<Buffer>;
}

const OID_ECDSA_SHA: Record<number, string> = { 256: '2a8648ce3d040302', 384: '2a8648ce3d040303', 521: '2a8648ce3d040304' };
const EC_NODE_HASH: Record<number, string> = { 256: 'sha256', 384: 'sha384', 521: 'sha512' };

/** The signature AlgorithmIdentifier and node:crypto digest of a CA key (as keys.ts signingAlgorithm picks them). */
function algorithmOf(spec: KeySpec): { id: Buffer; hash: string | null } {
  const oid = (hex: string): Buffer => tlv(0x06, Buffer.from(hex, 'hex'));
  if (spec.type === 'ec') return { id: sequence(oid(OID_ECDSA_SHA[spec.bits] ?? '2a8648ce3d040302')), hash: EC_NODE_HASH[spec.bits] ?? 'sha256' };
  // sha256WithRSAEncryption, with the NULL parameters RFC 4055 asks for.
  if (spec.type === 'rsa') return { id: sequence(oid('2a864886f70d01010b'), Buffer.from([0x05, 0x00])), hash: 'sha256' };
  return { id: sequence(oid('2b6570')), hash: null };
}

function signWith(hash: string | null, key: KeyObject, tbs: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    nodeSign(hash, tbs, key, (err, signature) => (err ? reject(err) : resolve(signature)));
  });
}

/** The LeafSigner of a CA: its certificate, key spec, PKCS #8 private key and the AKI extension of its leaves. */
export function createLeafSigner(cert: x509.X509Certificate, spec: KeySpec, pkcs8: Buffer, authorityKeyId: x509.Extension): LeafSigner {
  const key = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  const { id, hash } = algorithmOf(spec);
  return {
    issuerName: Buffer.from(cert.subjectName.toArrayBuffer()),
    algorithm: id,
    authorityKeyId: Buffer.from(authorityKeyId.rawData),
    sign: (tbs) => signWith(hash, key, tbs),
  };
}

const extension = (oidHex: string, value: Buffer): Buffer => sequence(tlv(0x06, Buffer.from(oidHex, 'hex')), octetString(value));

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING (without its unused-bits octet). */
export function subjectKeyIdExtension(spki: Uint8Array): Buffer {
  const spkiSeq = readTlv(spki, 0).content;
  const bits = readTlv(spkiSeq, readTlv(spkiSeq, 0).end).content;
  return extension('551d0e', octetString(createHash('sha1').update(bits.subarray(1)).digest()));
}

/** Printable ASCII: encoded here; anything else goes to the library. */
const ASCII = /^[\x20-\x7e]*$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;
const IPV6_HEX = /^[0-9a-fA-F:]+$/;

/** An IP SAN's octets as the library's IpConverter makes them; null for forms left to the library (IPv4 in IPv6). */
function ipOctets(ip: string): Buffer | null {
  if (IPV4.test(ip)) {
    const parts = ip.split('.').map((p) => Number.parseInt(p, 10));
    return parts.every((n) => n <= 255) ? Buffer.from(parts) : null;
  }
  if (!IPV6_HEX.test(ip)) return null;
  const halves = ip.split('::');
  if (halves.length > 2) return null;
  const left = halves[0] ? halves[0].split(':') : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length === 2 ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  if (groups.length !== 8) return null;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) {
    const n = Number.parseInt(groups[i] ?? '', 16);
    if (Number.isNaN(n) || n > 0xffff) return null;
    out.writeUInt16BE(n, i * 2);
  }
  return out;
}

/** One GeneralName; anything outside the plain cases is encoded by the library. */
function generalName(type: 'dns' | 'email' | 'ip' | 'url', value: string): Buffer {
  if (type === 'ip') {
    const octets = ipOctets(value);
    if (octets) return tlv(0x87, octets);
  } else if (ASCII.test(value)) {
    return tlv(type === 'dns' ? 0x82 : type === 'email' ? 0x81 : 0x86, Buffer.from(value, 'latin1'));
  }
  return Buffer.from(new x509.GeneralName(type, value).rawData);
}

/** The SAN extension (not critical), or null without names. Order: DNS names, emails, IPs, URIs. */
export function sanExtensionDer(sans: SanSet): Buffer | null {
  const names = [
    ...sans.dns.map((v) => generalName('dns', v)),
    ...sans.emails.map((v) => generalName('email', v)),
    ...sans.ips.map((v) => generalName('ip', v)),
    ...sans.uris.map((v) => generalName('url', v)),
  ];
  return names.length > 0 ? extension('551d11', sequence(...names)) : null;
}

export interface LeafParts {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** DER Name. */
  subject: Buffer;
  /** DER SubjectPublicKeyInfo. */
  spki: Uint8Array;
  /** DER Extensions, in order. */
  extensions: readonly Buffer[];
}

export interface BuiltCert {
  der: Buffer;
  /** PEM as the library writes it: 64 columns, no trailing newline. */
  pem: string;
}

/** The TBSCertificate of a v3 leaf. */
export function leafTbs(signer: LeafSigner, parts: LeafParts): Buffer {
  return sequence(
    Buffer.from([0xa0, 0x03, 0x02, 0x01, 0x02]),
    positiveInteger(Buffer.from(parts.serialHex, 'hex')),
    signer.algorithm,
    signer.issuerName,
    sequence(x509Time(parts.notBefore), x509Time(parts.notAfter)),
    parts.subject,
    parts.spki,
    tlv(0xa3, sequence(...parts.extensions)),
  );
}

export async function buildLeaf(signer: LeafSigner, parts: LeafParts): Promise<BuiltCert> {
  const tbs = leafTbs(signer, parts);
  const signature = await signer.sign(tbs);
  const der = sequence(tbs, signer.algorithm, tlv(0x03, Buffer.from([0]), signature));
  return { der, pem: toPem(der, 'CERTIFICATE').trimEnd() };
}
