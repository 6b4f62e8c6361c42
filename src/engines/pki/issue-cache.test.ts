// What issuance keeps between requests (the issuer's parsed certificate, signing key and LeafSigner; the role's
// extensions, the URL extensions and subjects as DER) must never outlive what it was made from: a role write, a new
// config/urls, an issuer rotation or a CA written by another replica shows in the very next certificate. The PKI
// engine alone on the engine harness (in-memory storage, fake clock).
import test from 'ava';
import { pkiEngine } from './index.ts';
import { generateKeyPair, keySpec } from './keys.ts';
import { CA_KEY, decode, type CaBundle } from './model.ts';
import { ISSUER_META_KEY } from './issuer-meta.ts';
import { ISSUER_ROTATION_KIND, ISSUER_ROTATION_TARGET } from './rotation.ts';
import { x509 } from './x509.ts';
import { createEngineHarness, type EngineHarness } from '../../../test/helpers/engine-harness.ts';

const ROLE = { allowed_domains: ['example.com'], allow_subdomains: true, ttl: '1h' };

async function mount(path = 'pki/'): Promise<EngineHarness> {
  const e = createEngineHarness(pkiEngine, { path });
  await e.request('update', 'root/generate/internal', { common_name: `Root of ${path}`, ttl: '8760h' });
  await e.request('update', 'roles/web', ROLE);
  return e;
}

async function issue(e: EngineHarness, body: Record<string, unknown> = { common_name: 'a.example.com' }): Promise<x509.X509Certificate> {
  const r = await e.request('update', 'issue/web', body);
  return new x509.X509Certificate((r.data as { certificate: string }).certificate);
}

async function currentCa(e: EngineHarness): Promise<x509.X509Certificate> {
  const bundle = decode<CaBundle>(await e.storage.get(CA_KEY));
  if (!bundle) throw new Error('no CA');
  return new x509.X509Certificate(bundle.certificate);
}

const ekus = (c: x509.X509Certificate): string[] => [...(c.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])].map(String);
const keyUsage = (c: x509.X509Certificate): number => c.getExtension(x509.KeyUsagesExtension)?.usages ?? 0;
const aki = (c: x509.X509Certificate): string => c.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId ?? '';
const ski = (c: x509.X509Certificate): string => c.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '';

/** Signed by `ca`: the issuer name, the authority key identifier and the signature all say so. */
async function signedBy(c: x509.X509Certificate, ca: x509.X509Certificate): Promise<boolean> {
  return c.issuer === ca.subject && aki(c) === ski(ca) && (await c.verify({ publicKey: ca.publicKey, signatureOnly: true }));
}

test('pki cache: a role write shows in the next certificate (key usage, EKU, subject)', async (t) => {
  const e = await mount();
  const first = await issue(e);
  t.deepEqual(ekus(first), [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
  t.is(keyUsage(first), x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement);
  t.is(first.subject, 'CN=a.example.com');

  await e.request('update', 'roles/web', { ...ROLE, server_flag: false, ext_key_usage: ['CodeSigning'], key_usage: ['DigitalSignature'], organization: ['Acme'] });
  const second = await issue(e);
  t.deepEqual(ekus(second), [x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.codeSigning]);
  t.is(keyUsage(second), x509.KeyUsageFlags.digitalSignature);
  t.is(second.subject, 'O=Acme, CN=a.example.com');

  // And back: the first role's content gives the first role's extensions again.
  await e.request('update', 'roles/web', ROLE);
  const third = await issue(e);
  t.deepEqual(ekus(third), ekus(first));
  t.is(keyUsage(third), keyUsage(first));
  t.is(third.subject, 'CN=a.example.com');
});

test('pki cache: a config/urls write shows in the next certificate', async (t) => {
  const e = await mount();
  t.is((await issue(e)).getExtension(x509.AuthorityInfoAccessExtension), null);
  await e.request('update', 'config/urls', { issuing_certificates: ['http://one.example/ca'], crl_distribution_points: ['http://one.example/crl'] });
  const one = await issue(e);
  t.deepEqual(one.getExtension(x509.AuthorityInfoAccessExtension)?.caIssuers.map((n) => n.value), ['http://one.example/ca']);
  await e.request('update', 'config/urls', { issuing_certificates: ['http://two.example/ca'], crl_distribution_points: [] });
  const two = await issue(e);
  t.deepEqual(two.getExtension(x509.AuthorityInfoAccessExtension)?.caIssuers.map((n) => n.value), ['http://two.example/ca']);
  t.is(two.getExtension(x509.CRLDistributionPointsExtension), null);
});

test('pki cache: after an issuer rotation the next certificate is signed by the new issuer', async (t) => {
  const e = await mount();
  const oldCa = await currentCa(e);
  t.true(await signedBy(await issue(e), oldCa));
  await e.request('update', 'config/issuer-rotation', { ttl: '8760h' });
  await e.rotate(ISSUER_ROTATION_KIND, ISSUER_ROTATION_TARGET);
  const newCa = await currentCa(e);
  t.not(ski(newCa), ski(oldCa));
  const leaf = await issue(e);
  t.true(await signedBy(leaf, newCa));
  t.false(await signedBy(leaf, oldCa));
  // sign/:role goes through the same issuer.
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: 'CN=b.example.com',
    keys: await generateKeyPair(keySpec('ec', 256)),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  const signed = await e.request('update', 'sign/web', { csr: csr.toString('pem'), common_name: 'b.example.com' });
  t.true(await signedBy(new x509.X509Certificate((signed.data as { certificate: string }).certificate), newCa));
});

test('pki cache: a CA written by another replica is used from the next request; two mounts never share an issuer', async (t) => {
  const a = await mount('pki/');
  const b = await mount('pki-other/');
  const caA = await currentCa(a);
  const caB = await currentCa(b);
  // Alternating between the mounts: each leaf is its own mount's.
  for (let i = 0; i < 2; i++) {
    t.true(await signedBy(await issue(a), caA));
    t.true(await signedBy(await issue(b), caB));
  }
  // Another replica of mount a installs a new CA (here: b's) straight into the shared storage.
  await a.storage.put(CA_KEY, (await b.storage.get(CA_KEY)) ?? Buffer.alloc(0));
  const meta = await b.storage.get(ISSUER_META_KEY);
  if (meta) await a.storage.put(ISSUER_META_KEY, meta);
  else await a.storage.delete([ISSUER_META_KEY]);
  t.true(await signedBy(await issue(a), caB));
});
