/** root/generate/:type and issuers/generate/root/:type (internal|exported), DELETE root, and root/sign-intermediate. */
import { z } from 'zod';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { byType } from '../params.ts';
import { badRequest } from '../../../lib/errors.ts';
import { caKeyFields, caNameFields, checkSignature, signatureFields, caSans, caSubject, caTtl, caValidityFields, notBefore, requireCommonName } from '../ca-request.ts';
import { selfSignCa, signCa } from '../certificate.ts';
import { parseCsr } from '../csr.ts';
import { checkSanSyntax } from '../names.ts';
import { boolField, empty, pemField } from '../input.ts';
import type { IssuerCache } from '../issuer.ts';
import { encodePrivateKey, exportPkcs8, generateKeyPair, keySpec, signingAlgorithm } from '../keys.ts';
import {
  CA_KEY,
  CRL_KEY,
  PENDING_KEY,
  URLS_KEY,
  DEFAULT_URLS,
  certKey,
  decode,
  encode,
  unix,
  type CaBundle,
  type PkiDeps,
  type StoredCert,
  type UrlsConfig,
} from '../model.ts';
import { checkIssuerName, defaultMeta, ISSUER_META_KEY, issuerIdOf, keyIdOf } from '../issuer-meta.ts';
import { NEXT_CA_KEY, PREVIOUS_CA_KEY, PREVIOUS_CRL_KEY } from '../rotation.ts';
import { newSerialHex, serialColons } from '../serial.ts';
import type { x509 } from '../x509.ts';

const generateInput = z.object({ ...caNameFields, ...caKeyFields, ...caValidityFields, issuer_name: z.string().max(128).optional(), key_name: z.string().max(128).optional() });
const signIntermediateInput = z.object({ ...caNameFields, ...caValidityFields, ...signatureFields, csr: pemField, use_csr_values: boolField.optional() });

const toDer = (pem: string): string => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');

async function storeCert(deps: PkiDeps, cert: x509.X509Certificate): Promise<string> {
  const serial = serialColons(cert.serialNumber);
  const stored: StoredCert = { certificate: cert.toString('pem'), notAfter: cert.notAfter.toISOString() };
  await deps.storage.put(certKey(serial.replace(/:/g, '-')), encode(stored));
  return serial;
}

async function generateRoot(deps: PkiDeps, type: 'internal' | 'exported', input: z.output<typeof generateInput>): Promise<EngineResponse> {
  const commonName = requireCommonName(input);
  const issuerName = checkIssuerName((input.issuer_name ?? '').trim());
  const spec = keySpec(input.key_type ?? 'ec', input.key_bits ?? 0, { forCa: true });
  checkSignature(input, spec.type);
  const now = deps.clock.now();
  const ttl = caTtl(input, deps.ttl.maxTtl());
  const urls = decode<UrlsConfig>(await deps.storage.get(URLS_KEY)) ?? DEFAULT_URLS;
  if (await deps.storage.get(CA_KEY)) {
    throw badRequest('refusing to generate a root certificate over an existing CA certificate: delete it first with DELETE <mount>/root');
  }
  const keys = await generateKeyPair(spec);
  const cert = await selfSignCa(
    {
      subject: caSubject(input, commonName),
      sans: caSans(input, commonName),
      serialHex: newSerialHex(deps.random),
      notBefore: notBefore(now, input),
      notAfter: new Date(now.getTime() + ttl * 1000),
      maxPathLength: input.max_path_length ?? -1,
      urls,
    },
    keys,
    signingAlgorithm(spec),
  );
  const pkcs8 = await exportPkcs8(keys.privateKey);
  const pem = cert.toString('pem');
  const bundle: CaBundle = { certificate: pem, parents: [], key: spec, privateKey: pkcs8.toString('base64'), serial: serialColons(cert.serialNumber), notAfter: cert.notAfter.toISOString() };
  // Two writers racing: the loser overwrites nothing it cannot see, so check again under the lock.
  await deps.storage.locked(CA_KEY, async (s) => {
    if (await s.get(CA_KEY)) throw badRequest('refusing to generate a root certificate over an existing CA certificate: delete it first with DELETE <mount>/root');
    await s.put(CA_KEY, encode(bundle));
    await s.delete([PENDING_KEY, CRL_KEY, NEXT_CA_KEY, PREVIOUS_CA_KEY, PREVIOUS_CRL_KEY, ISSUER_META_KEY]);
    if (issuerName !== '') await s.put(ISSUER_META_KEY, encode({ ...defaultMeta(issuerIdOf(bundle)), name: issuerName }));
  });
  const serial = await storeCert(deps, cert);
  const format = input.format ?? 'pem';
  const certOut = format === 'der' ? toDer(pem) : pem.trim();
  const data: Record<string, unknown> = {
    certificate: certOut,
    issuing_ca: certOut,
    serial_number: serial,
    expiration: unix(cert.notAfter),
    key_type: spec.type,
    key_bits: spec.bits,
    issuer_id: issuerIdOf(bundle),
    issuer_name: issuerName,
    key_id: keyIdOf(bundle),
    key_name: (input.key_name ?? '').trim(),
  };
  if (type === 'exported') {
    data.private_key = encodePrivateKey(pkcs8, spec.type, input.private_key_format === 'pkcs8' ? 'pkcs8' : 'der', format === 'der' ? 'der' : 'pem').trim();
    data.private_key_type = spec.type;
  }
  return { data };
}

async function signIntermediate(deps: PkiDeps, cache: IssuerCache, input: z.output<typeof signIntermediateInput>): Promise<EngineResponse> {
  const found = await deps.storage.getMany([CA_KEY, URLS_KEY]);
  const issuer = await cache.issuer(decode<CaBundle>(found.get(CA_KEY)));
  checkSignature(input, issuer.bundle.key.type);
  const urls = decode<UrlsConfig>(found.get(URLS_KEY)) ?? DEFAULT_URLS;
  const csr = await parseCsr(input.csr);
  const useCsr = input.use_csr_values ?? false;
  const commonName = useCsr ? csr.commonName : requireCommonName(input);
  if (commonName === '') throw badRequest('the common_name field is required');
  const now = deps.clock.now();
  const ttl = caTtl(input, deps.ttl.maxTtl());
  const notAfter = new Date(now.getTime() + ttl * 1000);
  if (notAfter > issuer.cert.notAfter) {
    throw badRequest(
      `cannot satisfy request, as TTL would result in notAfter of ${notAfter.toISOString()} that is beyond the expiration of the CA certificate at ${issuer.cert.notAfter.toISOString()}`,
    );
  }
  const subject = useCsr ? (csr.csr.subjectName.toJSON()) : caSubject(input, commonName);
  const sans = useCsr ? { dns: csr.dns, emails: csr.emails, ips: csr.ips, uris: csr.uris } : caSans(input, commonName);
  if (useCsr) checkSanSyntax(sans);
  const cert = await signCa(
    issuer,
    { subject, sans, serialHex: newSerialHex(deps.random), notBefore: notBefore(now, input), notAfter, maxPathLength: input.max_path_length ?? -1, urls },
    csr.publicKey,
  );
  const serial = await storeCert(deps, cert);
  const format = input.format ?? 'pem';
  const conv = (pem: string): string => (format === 'der' ? toDer(pem) : pem.trim());
  const chain = issuer.chain.map(conv);
  return {
    data: {
      certificate: format === 'pem_bundle' ? [conv(cert.toString('pem')), ...chain].join('\n') : conv(cert.toString('pem')),
      issuing_ca: chain[0] ?? '',
      ca_chain: [conv(cert.toString('pem')), ...chain],
      serial_number: serial,
      expiration: unix(cert.notAfter),
    },
  };
}

export function createRootPaths(deps: PkiDeps, cache: IssuerCache): PathDef[] {
  return [
    {
      pattern: 'root',
      sudo: true,
      operations: {
        delete: op(empty, async () => {
          await deps.storage.delete([CA_KEY, PENDING_KEY, CRL_KEY, NEXT_CA_KEY, PREVIOUS_CA_KEY, PREVIOUS_CRL_KEY, ISSUER_META_KEY]);
          return {};
        }),
      },
    },
    ...['root/generate/:type', 'issuers/generate/root/:type'].map((pattern) => ({
      pattern,
      operations: { update: byType.op(generateInput, async ({ params, input }) => generateRoot(deps, params.type, input)) },
    })),
    {
      pattern: 'root/sign-intermediate',
      operations: { update: op(signIntermediateInput, async ({ input }) => signIntermediate(deps, cache, input)) },
    },
  ];
}
