/**
 * Building and signing certificates: the extensions of leaves and CAs (SAN, key usage, EKU, key identifiers, AIA
 * and CRL distribution points from config/urls) and the signature by the issuing CA.
 */
import type { Algorithm, CryptoKey, CryptoKeyPair, EcdsaParams } from './x509.ts';
import type { Issuer } from './issuer.ts';
import type { KeyType } from './keys.ts';
import type { UrlsConfig } from './model.ts';
import type { Role } from './role.ts';
import { buildLeaf, sanExtensionDer, subjectKeyIdExtension, type BuiltCert } from './leaf-der.ts';
import { subtle, x509 } from './x509.ts';

export interface SanSet {
  dns: string[];
  emails: string[];
  ips: string[];
  uris: string[];
}

const KEY_USAGE_FLAG: Record<string, number> = {
  DigitalSignature: x509.KeyUsageFlags.digitalSignature,
  ContentCommitment: x509.KeyUsageFlags.nonRepudiation,
  KeyEncipherment: x509.KeyUsageFlags.keyEncipherment,
  DataEncipherment: x509.KeyUsageFlags.dataEncipherment,
  KeyAgreement: x509.KeyUsageFlags.keyAgreement,
  CertSign: x509.KeyUsageFlags.keyCertSign,
  CRLSign: x509.KeyUsageFlags.cRLSign,
  EncipherOnly: x509.KeyUsageFlags.encipherOnly,
  DecipherOnly: x509.KeyUsageFlags.decipherOnly,
};

const EKU_OID: Record<string, string> = {
  ServerAuth: x509.ExtendedKeyUsage.serverAuth,
  ClientAuth: x509.ExtendedKeyUsage.clientAuth,
  CodeSigning: x509.ExtendedKeyUsage.codeSigning,
  EmailProtection: x509.ExtendedKeyUsage.emailProtection,
  TimeStamping: x509.ExtendedKeyUsage.timeStamping,
  OCSPSigning: x509.ExtendedKeyUsage.ocspSigning,
  Any: '2.5.29.37.0',
  IPSECEndSystem: '1.3.6.1.5.5.7.3.5',
  IPSECTunnel: '1.3.6.1.5.5.7.3.6',
  IPSECUser: '1.3.6.1.5.5.7.3.7',
  MicrosoftServerGatedCrypto: '1.3.6.1.4.1.311.10.3.3',
  NetscapeServerGatedCrypto: '2.16.840.1.113730.4.1',
};

export function sanExtension(sans: SanSet): x509.Extension[] {
  const names: x509.JsonGeneralName[] = [
    ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
    ...sans.emails.map((value) => ({ type: 'email' as const, value })),
    ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
    ...sans.uris.map((value) => ({ type: 'url' as const, value })),
  ];
  return names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : [];
}

/** Authority information access (CA issuers, OCSP) and CRL distribution points from config/urls. */
export function urlExtensions(urls: UrlsConfig): x509.Extension[] {
  const out: x509.Extension[] = [];
  if (urls.issuingCertificates.length > 0 || urls.ocspServers.length > 0) {
    out.push(new x509.AuthorityInfoAccessExtension({ caIssuers: urls.issuingCertificates, ocsp: urls.ocspServers }));
  }
  if (urls.crlDistributionPoints.length > 0) out.push(new x509.CRLDistributionPointsExtension(urls.crlDistributionPoints));
  return out;
}

const akiCache = new WeakMap<x509.X509Certificate, Promise<x509.Extension>>();

/** The authority key identifier of certificates signed by `issuer`: its own subject key identifier (computed once per CA). */
export function authorityKeyId(issuer: x509.X509Certificate): Promise<x509.Extension> {
  let aki = akiCache.get(issuer);
  if (!aki) {
    const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
    aki = ski ? Promise.resolve(new x509.AuthorityKeyIdentifierExtension(ski.keyId)) : x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey);
    akiCache.set(issuer, aki);
  }
  return aki;
}

/**
 * A small cache of DER by a key made of the very values it is encoded from: a role write, a new config/urls or
 * another subject gives another key, so nothing has to be invalidated. Cleared whole when full.
 */
function derCache<T>(limit: number): (key: string, make: () => T) => T {
  const entries = new Map<string, T>();
  return (key, make) => {
    let der = entries.get(key);
    if (!der) {
      if (entries.size >= limit) entries.clear();
      der = make();
      entries.set(key, der);
    }
    return der;
  };
}

const urlDer = derCache<Buffer[]>(64);
const roleDer = derCache<Buffer[]>(256);
const subjectDer = derCache<Buffer>(1024);
const rawOf = (ext: x509.Extension): Buffer => Buffer.from(ext.rawData);

/**
 * The role's key usages; key encipherment only for RSA keys (an EC or Ed25519 key cannot encipher) and key
 * agreement only for EC keys.
 */
export function leafKeyUsage(role: Role, keyType: KeyType): number {
  let flags = 0;
  for (const name of role.keyUsage) {
    if (name === 'KeyEncipherment' && keyType !== 'rsa') continue;
    if (name === 'KeyAgreement' && keyType !== 'ec') continue;
    flags |= KEY_USAGE_FLAG[name] ?? 0;
  }
  return flags;
}

export function leafEkus(role: Role): string[] {
  const ekus = new Set<string>();
  if (role.serverFlag) ekus.add(x509.ExtendedKeyUsage.serverAuth);
  if (role.clientFlag) ekus.add(x509.ExtendedKeyUsage.clientAuth);
  if (role.codeSigningFlag) ekus.add(x509.ExtendedKeyUsage.codeSigning);
  if (role.emailProtectionFlag) ekus.add(x509.ExtendedKeyUsage.emailProtection);
  for (const name of role.extKeyUsage) ekus.add(EKU_OID[name] ?? '');
  for (const oid of role.extKeyUsageOids ?? []) ekus.add(oid);
  ekus.delete('');
  return [...ekus];
}

export interface LeafRequest {
  subject: Record<string, string[]>[];
  /** A key, or its DER SubjectPublicKeyInfo. */
  publicKey: CryptoKey | x509.PublicKey | Uint8Array;
  keyType: KeyType;
  sans: SanSet;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  role: Role;
  urls: UrlsConfig;
}

/** The role's key usage and EKU extensions (DER), encoded once per distinct role content and key type. */
function roleExtensions(role: Role, keyType: KeyType): Buffer[] {
  const usage = leafKeyUsage(role, keyType);
  const ekus = leafEkus(role);
  return roleDer(`${usage}\0${ekus.join(',')}`, () => [
    ...(usage !== 0 ? [rawOf(new x509.KeyUsagesExtension(usage, true))] : []),
    ...(ekus.length > 0 ? [rawOf(new x509.ExtendedKeyUsageExtension(ekus, false))] : []),
  ]);
}

async function spkiOf(key: LeafRequest['publicKey']): Promise<Uint8Array> {
  if (key instanceof Uint8Array) return key;
  if (key instanceof x509.PublicKey) return new Uint8Array(key.rawData);
  return new Uint8Array(await subtle.exportKey('spki', key));
}

/**
 * A leaf signed by `issuer`, encoded by leaf-der.ts: key usage, EKU, subject and authority key identifiers, SANs,
 * then AIA and CRL distribution points. Its DER and PEM; nothing parses it again.
 */
export async function signLeaf(issuer: Issuer, req: LeafRequest): Promise<BuiltCert> {
  const spki = await spkiOf(req.publicKey);
  const san = sanExtensionDer(req.sans);
  const extensions = [
    ...roleExtensions(req.role, req.keyType),
    subjectKeyIdExtension(spki),
    issuer.leaf.authorityKeyId,
    ...(san ? [san] : []),
    ...urlDer(JSON.stringify(req.urls), () => urlExtensions(req.urls).map(rawOf)),
  ];
  const subject = subjectDer(JSON.stringify(req.subject), () => Buffer.from(new x509.Name(req.subject).toArrayBuffer()));
  return buildLeaf(issuer.leaf, { serialHex: req.serialHex, notBefore: req.notBefore, notAfter: req.notAfter, subject, spki, extensions });
}

export interface CaRequest {
  subject: Record<string, string[]>[];
  sans: SanSet;
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** -1: no limit. */
  maxPathLength: number;
  urls: UrlsConfig;
}

async function caExtensions(req: CaRequest, publicKey: CryptoKey | x509.PublicKey): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, req.maxPathLength >= 0 ? req.maxPathLength : undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ...sanExtension(req.sans),
  ];
}

export async function selfSignCa(
  req: CaRequest,
  keys: CryptoKeyPair,
  signingAlgorithm: Algorithm | EcdsaParams,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: req.serialHex,
    subject: req.subject,
    issuer: req.subject,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm,
    extensions: [...(await caExtensions(req, keys.publicKey)), ...urlExtensions(req.urls)],
  });
}

/** An intermediate CA certificate for a CSR's key, signed by `issuer` (root/sign-intermediate). */
export async function signCa(issuer: Issuer, req: CaRequest, publicKey: x509.PublicKey): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: req.serialHex,
    subject: req.subject,
    issuer: issuer.cert.subjectName,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: issuer.signingAlgorithm,
    extensions: [...(await caExtensions(req, publicKey)), await authorityKeyId(issuer.cert), ...urlExtensions(req.urls)],
  });
}
