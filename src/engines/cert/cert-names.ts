/** The names a `cert` role constrains, read straight from a certificate's DER (no text escaping to undo). */
import { children, DerError, decodeString, oidString, readTlv, type Tlv } from './der.ts';

export interface CertNames {
  /** The subject's common name ('' when there is none; the last one wins when there are several, as in Go). */
  commonName: string;
  organizationalUnits: string[];
  dnsSans: string[];
  emailSans: string[];
  uriSans: string[];
  /** Hex, colon-separated, as Vault prints it ('' when absent). */
  subjectKeyId: string;
  authorityKeyId: string;
}

const OID_CN = '2.5.4.3';
const OID_OU = '2.5.4.11';
const OID_SKI = '2.5.29.14';
const OID_SAN = '2.5.29.17';
const OID_AKI = '2.5.29.35';

const hexColons = (b: Buffer): string => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');

function expect(tlv: Tlv | undefined, tag: number, what: string): Tlv {
  if (!tlv || tlv.tag !== tag) throw new DerError(`expected ${what}`);
  return tlv;
}

function readSubject(name: Tlv, out: CertNames): void {
  for (const rdn of children(expect(name, 0x30, 'Name').value)) {
    for (const atv of children(expect(rdn, 0x31, 'RDN').value)) {
      const [type, value] = children(expect(atv, 0x30, 'attribute').value);
      const oid = oidString(expect(type, 0x06, 'attribute type').value);
      if (oid === OID_CN) out.commonName = decodeString(value ?? { tag: 0, value: Buffer.alloc(0) });
      else if (oid === OID_OU && value) out.organizationalUnits.push(decodeString(value));
    }
  }
}

function readExtension(ext: Tlv, out: CertNames): void {
  const parts = children(expect(ext, 0x30, 'extension').value);
  const oid = oidString(expect(parts[0], 0x06, 'extension id').value);
  const octets = expect(parts[parts.length - 1], 0x04, 'extension value').value;
  if (oid === OID_SAN) {
    for (const gn of children(expect(readTlv(octets, 0).tlv, 0x30, 'GeneralNames').value)) {
      if (gn.tag === 0x81) out.emailSans.push(gn.value.toString('ascii'));
      else if (gn.tag === 0x82) out.dnsSans.push(gn.value.toString('ascii'));
      else if (gn.tag === 0x86) out.uriSans.push(gn.value.toString('ascii'));
    }
  } else if (oid === OID_SKI) {
    out.subjectKeyId = hexColons(expect(readTlv(octets, 0).tlv, 0x04, 'key identifier').value);
  } else if (oid === OID_AKI) {
    const keyId = children(expect(readTlv(octets, 0).tlv, 0x30, 'AuthorityKeyIdentifier').value).find((t) => t.tag === 0x80);
    if (keyId) out.authorityKeyId = hexColons(keyId.value);
  }
}

/** Reads the subject names, SANs and key identifiers of a DER certificate. Throws DerError on malformed input. */
export function certNames(der: Buffer): CertNames {
  const out: CertNames = { commonName: '', organizationalUnits: [], dnsSans: [], emailSans: [], uriSans: [], subjectKeyId: '', authorityKeyId: '' };
  const cert = expect(readTlv(der, 0).tlv, 0x30, 'Certificate');
  const tbs = children(expect(children(cert.value)[0], 0x30, 'TBSCertificate').value);
  // [0] version is optional; then serial, signature, issuer, validity, subject.
  const base = tbs[0]?.tag === 0xa0 ? 1 : 0;
  readSubject(expect(tbs[base + 4], 0x30, 'subject'), out);
  const extensions = tbs.slice(base + 6).find((t) => t.tag === 0xa3);
  if (extensions) {
    for (const ext of children(expect(children(extensions.value)[0], 0x30, 'Extensions').value)) readExtension(ext, out);
  }
  return out;
}
