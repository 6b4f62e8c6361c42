/**
 * intermediate/generate/:type: a new key (kept behind the barrier as the pending key) and its CSR.
 * intermediate/set-signed: the signed certificate (optionally followed by its parents) becomes this mount's CA.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { z } from 'zod';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { byType } from '../params.ts';
import { badRequest } from '../../../lib/errors.ts';
import { caKeyFields, caNameFields, checkSignature, caSans, caSubject, requireCommonName } from '../ca-request.ts';
import { encodePrivateKey, exportPkcs8, generateKeyPair, keySpec, signingAlgorithm } from '../keys.ts';
import { pemField } from '../input.ts';
import { CA_KEY, CRL_KEY, PENDING_KEY, decode, encode, type CaBundle, type PendingKey, type PkiDeps } from '../model.ts';
import { serialColons } from '../serial.ts';
import { pemBlocks, x509 } from '../x509.ts';

const generateInput = z.object({ ...caNameFields, ...caKeyFields, add_basic_constraints: z.boolean().optional() });
const setSignedInput = z.object({ certificate: pemField });

async function generateIntermediate(deps: PkiDeps, type: 'internal' | 'exported', input: z.output<typeof generateInput>): Promise<EngineResponse> {
  const commonName = requireCommonName(input);
  const spec = keySpec(input.key_type ?? 'ec', input.key_bits ?? 0, { forCa: true });
  checkSignature(input, spec.type);
  const keys = await generateKeyPair(spec);
  const sans = caSans(input, commonName);
  const names: x509.JsonGeneralName[] = [
    ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
    ...sans.emails.map((value) => ({ type: 'email' as const, value })),
    ...sans.ips.map((value) => ({ type: 'ip' as const, value })),
    ...sans.uris.map((value) => ({ type: 'url' as const, value })),
  ];
  const extensions: x509.Extension[] = names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : [];
  if (input.add_basic_constraints) extensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: caSubject(input, commonName),
    keys,
    signingAlgorithm: signingAlgorithm(spec),
    extensions,
  });
  const pkcs8 = await exportPkcs8(keys.privateKey);
  const pending: PendingKey = { key: spec, privateKey: pkcs8.toString('base64'), createdAt: deps.clock.now().toISOString() };
  await deps.storage.put(PENDING_KEY, encode(pending));
  const format = input.format ?? 'pem';
  const csrOut = format === 'der' ? Buffer.from(csr.rawData).toString('base64') : csr.toString('pem').trim();
  const data: Record<string, unknown> = { csr: csrOut, key_type: spec.type };
  if (type === 'exported') {
    data.private_key = encodePrivateKey(pkcs8, spec.type, input.private_key_format === 'pkcs8' ? 'pkcs8' : 'der', format === 'der' ? 'der' : 'pem').trim();
    data.private_key_type = spec.type;
  }
  return { data };
}

const spkiOfPrivate = (pkcs8b64: string): Buffer =>
  createPublicKey(createPrivateKey({ key: Buffer.from(pkcs8b64, 'base64'), format: 'der', type: 'pkcs8' })).export({ format: 'der', type: 'spki' });

async function setSigned(deps: PkiDeps, pem: string): Promise<EngineResponse> {
  let certs: x509.X509Certificate[];
  try {
    certs = pemBlocks(pem, 'CERTIFICATE').map((der) => new x509.X509Certificate(der));
  } catch {
    throw badRequest('certificate: not a valid PEM-encoded X.509 certificate');
  }
  const [cert, ...parents] = certs;
  if (!cert) throw badRequest('certificate: no PEM "CERTIFICATE" block found');
  if (!cert.getExtension(x509.BasicConstraintsExtension)?.ca) {
    throw badRequest('the given certificate is not marked for CA use and cannot be used with this backend');
  }
  let child = cert;
  for (const parent of parents) {
    if (!(await child.verify({ publicKey: parent.publicKey, signatureOnly: true }))) {
      throw badRequest(`certificate: "${child.subject.slice(0, 128)}" is not signed by the next certificate in the bundle`);
    }
    child = parent;
  }
  return deps.storage.locked(PENDING_KEY, async (s) => {
    const pending = decode<PendingKey>(await s.get(PENDING_KEY));
    const current = decode<CaBundle>(await s.get(CA_KEY));
    const spki = Buffer.from(cert.publicKey.rawData);
    // The pending key of intermediate/generate, or (re-import of a renewed certificate) the current CA's key.
    const key = [pending, current].find((k) => k !== null && spkiOfPrivate(k.privateKey).equals(spki));
    if (!key) throw badRequest('certificate: its public key does not match the pending key of intermediate/generate (nor the current CA key)');
    const bundle: CaBundle = {
      certificate: cert.toString('pem'),
      parents: parents.map((p) => p.toString('pem')),
      key: key.key,
      privateKey: key.privateKey,
      serial: serialColons(cert.serialNumber),
      notAfter: cert.notAfter.toISOString(),
    };
    await s.put(CA_KEY, encode(bundle));
    await s.delete(key === pending ? [PENDING_KEY, CRL_KEY] : [CRL_KEY]);
    return { data: { imported_issuers: [bundle.serial], imported_keys: key === pending ? [bundle.serial] : [], mapping: { [bundle.serial]: bundle.serial } } };
  });
}

export function createIntermediatePaths(deps: PkiDeps): PathDef[] {
  return [
    ...['intermediate/generate/:type', 'issuers/generate/intermediate/:type'].map((pattern) => ({
      pattern,
      operations: { update: byType.op(generateInput, async ({ params, input }) => generateIntermediate(deps, params.type, input)) },
    })),
    { pattern: 'intermediate/set-signed', operations: { update: op(setSignedInput, async ({ input }) => setSigned(deps, input.certificate)) } },
  ];
}
