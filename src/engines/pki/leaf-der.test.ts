// leaf-der.ts encodes leaves itself: these tests hold its bytes to @peculiar/x509's, building the same certificate
// both ways (the library's generator with the extension classes the engine used before), for every CA key type,
// leaf key type and SAN kind, and check the signature with the CA's public key.
import test from 'ava';
import { generateKeyPairSync } from 'node:crypto';
import { authorityKeyId, leafEkus, leafKeyUsage, sanExtension, selfSignCa, signLeaf, urlExtensions, type LeafRequest, type SanSet } from './certificate.ts';
import { positiveInteger, readTlv, x509Time } from './der-writer.ts';
import { algorithmFor, createIssuerCache, type Issuer } from './issuer.ts';
import { exportPkcs8, generateKeyPair, keySpec, type KeySpec } from './keys.ts';
import type { CaBundle, UrlsConfig } from './model.ts';
import { buildRole, roleInput } from './role.ts';
import { subjectName } from './subject.ts';
import { x509 } from './x509.ts';

async function makeIssuer(spec: KeySpec): Promise<Issuer> {
  const keys = await generateKeyPair(spec);
  const subject: Record<string, string[]>[] = [{ O: ['Sealbox Test'] }, { OU: ['PKI', 'Leaves'] }, { CN: [`Test Root ${spec.type}${spec.bits}`] }];
  const now = Date.now();
  const req = { subject, sans: { dns: [], emails: [], ips: [], uris: [] }, serialHex: '4a01', notBefore: new Date(now - 60_000), notAfter: new Date(now + 86400_000), maxPathLength: -1, urls: NO_URLS };
  const cert = await selfSignCa(req, keys, algorithmFor(spec));
  const bundle: CaBundle = { certificate: cert.toString('pem'), parents: [], key: spec, privateKey: (await exportPkcs8(keys.privateKey)).toString('base64'), serial: '4a:01', notAfter: cert.notAfter.toISOString() };
  return createIssuerCache().issuer(bundle);
}

const NO_URLS: UrlsConfig = { issuingCertificates: [], crlDistributionPoints: [], ocspServers: [] };
const URLS: UrlsConfig = { issuingCertificates: ['http://127.0.0.1:8200/v1/pki/ca'], crlDistributionPoints: ['http://127.0.0.1:8200/v1/pki/crl'], ocspServers: ['http://ocsp.example.com'] };

/** The leaf as the engine built it with the library before leaf-der.ts. */
async function libraryLeaf(issuer: Issuer, req: LeafRequest & { publicKey: x509.PublicKey }): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [];
  const usage = leafKeyUsage(req.role, req.keyType);
  if (usage !== 0) extensions.push(new x509.KeyUsagesExtension(usage, true));
  const ekus = leafEkus(req.role);
  if (ekus.length > 0) extensions.push(new x509.ExtendedKeyUsageExtension(ekus, false));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(req.publicKey));
  extensions.push(await authorityKeyId(issuer.cert));
  extensions.push(...sanExtension(req.sans));
  extensions.push(...urlExtensions(req.urls));
  return x509.X509CertificateGenerator.create({
    serialNumber: req.serialHex,
    subject: req.subject,
    issuer: issuer.cert.subjectName,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    publicKey: req.publicKey,
    signingKey: issuer.signingKey,
    signingAlgorithm: issuer.signingAlgorithm,
    extensions,
  });
}

const tbsOf = (der: ArrayBuffer | Uint8Array): string => Buffer.from(readTlv(readTlv(new Uint8Array(der), 0).content, 0).content).toString('hex');

function leafKey(type: 'ec' | 'rsa' | 'ed25519'): x509.PublicKey {
  const pair = type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ed25519');
  return new x509.PublicKey(pair.publicKey.export({ format: 'der', type: 'spki' }));
}

const SANS: SanSet = {
  dns: ['web.example.com', '*.web.example.com'],
  emails: ['ops@example.com'],
  ips: ['10.0.0.1', '2001:db8::1', 'FE80:0:0:0:0:0:0:1', '::', '::ffff:10.0.0.1'],
  uris: ['spiffe://cluster.local/ns/prod/sa/web'],
};

const CASES: { name: string; ca: KeySpec; leaf: 'ec' | 'rsa' | 'ed25519'; role: Record<string, unknown>; sans: SanSet; urls: UrlsConfig; notAfter?: Date }[] = [
  { name: 'EC P-256 CA, EC leaf, every SAN kind, URLs', ca: keySpec('ec', 256), leaf: 'ec', role: {}, sans: SANS, urls: URLS },
  { name: 'EC P-384 CA, RSA leaf, client only, OIDs', ca: keySpec('ec', 384), leaf: 'rsa', role: { server_flag: false, ext_key_usage: ['TimeStamping'], ext_key_usage_oids: ['1.3.6.1.4.1.99999.1'] }, sans: { ...SANS, emails: [] }, urls: NO_URLS },
  { name: 'EC P-521 CA, Ed25519 leaf, no key usage, no EKU', ca: keySpec('ec', 521), leaf: 'ed25519', role: { key_usage: [], server_flag: false, client_flag: false }, sans: { dns: [], emails: [], ips: [], uris: [] }, urls: URLS },
  { name: 'RSA CA, EC leaf, notAfter past 2049 (GeneralizedTime)', ca: keySpec('rsa', 2048), leaf: 'ec', role: { ou: ['A', 'B'], organization: ['Org'] }, sans: { ...SANS, uris: [] }, urls: URLS, notAfter: new Date('2051-06-01T12:34:56.789Z') },
  { name: 'Ed25519 CA, RSA leaf, every key usage', ca: keySpec('ed25519', 0), leaf: 'rsa', role: { key_usage: ['DigitalSignature', 'KeyEncipherment', 'KeyAgreement', 'ContentCommitment', 'DataEncipherment'] }, sans: SANS, urls: URLS },
];

for (const c of CASES) {
  test(`leaf-der: the library's bytes, ${c.name}`, async (t) => {
    const issuer = await makeIssuer(c.ca);
    const { role } = buildRole(roleInput.parse({ allow_any_name: true, ...c.role }));
    const publicKey = leafKey(c.leaf);
    const now = Date.now();
    const req = {
      subject: subjectName('web.example.com', role),
      publicKey,
      keyType: c.leaf,
      sans: c.sans,
      serialHex: '5f0102030405060708090a0b0c0d0e0f',
      notBefore: new Date(now - 30_123),
      notAfter: c.notAfter ?? new Date(now + 3600_456),
      role,
      urls: c.urls,
    };
    const built = await signLeaf(issuer, { ...req, publicKey: Buffer.from(publicKey.rawData) });
    const reference = await libraryLeaf(issuer, req);
    t.is(tbsOf(built.der), tbsOf(reference.rawData));
    const parsed = new x509.X509Certificate(built.pem);
    t.true(await parsed.verify({ publicKey: issuer.cert.publicKey, signatureOnly: true }));
    t.is(built.pem, parsed.toString('pem'));
    // Deterministic signatures (RSA PKCS #1 v1.5, Ed25519): the whole certificate is the library's.
    if (c.ca.type !== 'ec') t.is(built.der.toString('hex'), Buffer.from(reference.rawData).toString('hex'));
  });
}

test('der: INTEGERs and times as the library writes them', (t) => {
  t.is(positiveInteger(Buffer.from('00007f', 'hex')).toString('hex'), '02017f');
  t.is(positiveInteger(Buffer.from('80', 'hex')).toString('hex'), '02020080');
  t.is(positiveInteger(Buffer.from('0000', 'hex')).toString('hex'), '020100');
  t.is(x509Time(new Date('2049-12-31T23:59:59.999Z')).toString('latin1').slice(2), '491231235959Z');
  t.is(x509Time(new Date('2050-01-01T00:00:00.000Z')).toString('latin1').slice(2), '20500101000000Z');
});
