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

function sanOf(csr: x509.Pkcs10CertificateRequest): x509.GeneralName[] {
  const ext = csr.getExtension(OID_SAN);
  if (!ext) return [];
  const san = ext instanceof x509.SubjectAlternativeNameExtension ? ext : new x509.SubjectAlternativeNameExtension(ext.rawData);
  return [...san.names.items];
}

/** Parses and verifies a PEM CSR; throws a 400 for garbage, a bad signature or an unsupported key. */
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
  const key = publicKeySpec(csr.publicKey.algorithm);
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
