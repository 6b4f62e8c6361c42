/** Certificate signing requests: parse, check the signature, and read the names and key they carry. */
import { badRequest } from '../../lib/errors.ts';
import { publicKeySpec, type KeySpec } from './keys.ts';
import { x509 } from './x509.ts';

export interface ParsedCsr {
  csr: x509.Pkcs10CertificateRequest;
  publicKey: x509.PublicKey;
  key: KeySpec;
  commonName: string;
  dns: string[];
  emails: string[];
  ips: string[];
  uris: string[];
}

const OID_SAN = '2.5.29.17';
const MIN_RSA_BITS = 2048;
/** Bigger keys only cost the CA (and every verifier) time. */
const MAX_RSA_BITS = 8192;

function sanOf(csr: x509.Pkcs10CertificateRequest): x509.GeneralName[] {
  const ext = csr.getExtension(OID_SAN);
  if (!ext) return [];
  const san = ext instanceof x509.SubjectAlternativeNameExtension ? ext : new x509.SubjectAlternativeNameExtension(ext.rawData);
  return [...san.names.items];
}

/** Parses and verifies a PEM CSR; throws a 400 for garbage, a bad signature or an unsupported or weak key. */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  if (!pem.includes('-----BEGIN CERTIFICATE REQUEST-----') && !pem.includes('-----BEGIN NEW CERTIFICATE REQUEST-----')) {
    throw badRequest('csr: no PEM "CERTIFICATE REQUEST" block found');
  }
  let csr: x509.Pkcs10CertificateRequest;
  let names: x509.GeneralName[];
  try {
    csr = new x509.Pkcs10CertificateRequest(pem.replace(/NEW CERTIFICATE REQUEST/g, 'CERTIFICATE REQUEST'));
    names = sanOf(csr);
  } catch {
    throw badRequest('csr: certificate request could not be parsed');
  }
  // Every CSR (sign/:role, root/sign-intermediate): EC P-256/P-384/P-521, Ed25519, or RSA of 2048 to 8192 bits.
  const key = publicKeySpec(csr.publicKey.algorithm);
  if (key.type === 'rsa' && !(key.bits >= MIN_RSA_BITS)) throw badRequest(`csr: RSA keys < ${MIN_RSA_BITS} bits are unsafe and not supported: got ${key.bits}`);
  if (key.type === 'rsa' && key.bits > MAX_RSA_BITS) throw badRequest(`csr: RSA keys > ${MAX_RSA_BITS} bits are not supported: got ${key.bits}`);
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid) throw badRequest('csr: certificate request signature is invalid');
  const pick = (type: string): string[] => names.filter((n) => n.type === type).map((n) => n.value);
  return {
    csr,
    publicKey: csr.publicKey,
    key,
    commonName: csr.subjectName.getField('CN')[0] ?? '',
    dns: pick('dns'),
    emails: pick('email'),
    ips: pick('ip'),
    uris: pick('url'),
  };
}
