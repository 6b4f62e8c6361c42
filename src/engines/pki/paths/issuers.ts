/**
 * Vault's issuer endpoints over the mount's one CA (see issuer-meta.ts): LIST issuers, issuer/:ref (read, update,
 * merge patch, delete), and issuer/:ref/{pem,der,json} (no token needed, as in Vault). :ref is "default", the issuer
 * id or its name.
 */
import { z } from 'zod';
import { op, type EngineResponse, type PathDef, type StorageView } from '../../../core/engine.ts';
import { byRef } from '../params.ts';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { boolField, empty, stringList } from '../input.ts';
import {
  checkIssuerName,
  checkLeafNotAfterBehavior,
  checkUsage,
  ISSUER_META_KEY,
  keyIdOf,
  metaFor,
  refMatches,
  type IssuerMeta,
} from '../issuer-meta.ts';
import { CA_KEY, CRL_KEY, PENDING_KEY, decode, encode, type CaBundle, type PkiDeps } from '../model.ts';
import { NEXT_CA_KEY, PREVIOUS_CA_KEY, PREVIOUS_CRL_KEY } from '../rotation.ts';
import { pemBlocks } from '../x509.ts';
import { checkUrls } from './config.ts';

const SIGNATURE_ALGORITHMS = [
  'SHA256WithRSA', 'SHA384WithRSA', 'SHA512WithRSA', 'SHA256WithRSAPSS', 'SHA384WithRSAPSS', 'SHA512WithRSAPSS',
  'ECDSAWithSHA256', 'ECDSAWithSHA384', 'ECDSAWithSHA512', 'PureEd25519',
];

const updateInput = z.object({
  issuer_name: z.string().max(128).optional(),
  leaf_not_after_behavior: z.string().max(16).optional(),
  usage: stringList.optional(),
  manual_chain: stringList.optional(),
  revocation_signature_algorithm: z.string().max(32).optional(),
  issuing_certificates: stringList.optional(),
  crl_distribution_points: stringList.optional(),
  delta_crl_distribution_points: stringList.optional(),
  ocsp_servers: stringList.optional(),
  enable_aia_url_templating: boolField.optional(),
});
type UpdateInput = z.output<typeof updateInput>;

const chainOf = (b: CaBundle): string[] => (b.crossSigned ? [...b.parents, b.certificate] : [b.certificate, ...b.parents]).map((p) => `${p.trim()}\n`);

function issuerWire(bundle: CaBundle, meta: IssuerMeta): Record<string, unknown> {
  const urls = meta.urls;
  return {
    issuer_id: meta.issuerId,
    issuer_name: meta.name,
    key_id: keyIdOf(bundle),
    certificate: `${bundle.certificate.trim()}\n`,
    manual_chain: meta.manualChain.length > 0 ? meta.manualChain : null,
    ca_chain: chainOf(bundle),
    leaf_not_after_behavior: meta.leafNotAfterBehavior,
    usage: meta.usage.join(','),
    revocation_signature_algorithm: meta.revocationSignatureAlgorithm,
    revoked: false,
    issuing_certificates: urls?.issuingCertificates ?? [],
    crl_distribution_points: urls?.crlDistributionPoints ?? [],
    delta_crl_distribution_points: [],
    ocsp_servers: urls?.ocspServers ?? [],
    ...(urls ? { enable_aia_url_templating: meta.enableAiaUrlTemplating } : {}),
  };
}

async function load(s: StorageView, ref: string): Promise<{ bundle: CaBundle; meta: IssuerMeta } | null> {
  const found = await s.getMany([CA_KEY, ISSUER_META_KEY]);
  const bundle = decode<CaBundle>(found.get(CA_KEY));
  if (!bundle) return null;
  const meta = metaFor(bundle, decode<IssuerMeta>(found.get(ISSUER_META_KEY)));
  return refMatches(ref, meta) ? { bundle, meta } : null;
}

/** Vault's update replaces every field (absent ones take their defaults); patch changes only the given ones. */
function applyUpdate(meta: IssuerMeta, input: UpdateInput, mode: 'replace' | 'merge'): IssuerMeta {
  const pick = <T>(v: T | undefined, cur: T, dflt: T): T => (v !== undefined ? v : mode === 'merge' ? cur : dflt);
  const alg = pick(input.revocation_signature_algorithm, meta.revocationSignatureAlgorithm, '');
  if (alg !== '' && !SIGNATURE_ALGORITHMS.includes(alg)) {
    throw badRequest(`Unknown signature algorithm value: ${alg.slice(0, 32)} - valid values are ${SIGNATURE_ALGORITHMS.join(', ')}`);
  }
  const chain = pick(input.manual_chain, meta.manualChain, []);
  if (chain.length > 10) throw badRequest('manual_chain: at most 10 entries');
  const cur = meta.urls ?? { issuingCertificates: [], crlDistributionPoints: [], ocspServers: [] };
  const urls = {
    issuingCertificates: checkUrls(pick(input.issuing_certificates, cur.issuingCertificates, []), 'issuing_certificates'),
    crlDistributionPoints: checkUrls(pick(input.crl_distribution_points, cur.crlDistributionPoints, []), 'crl_distribution_points'),
    ocspServers: checkUrls(pick(input.ocsp_servers, cur.ocspServers, []), 'ocsp_servers'),
  };
  const anyUrl = urls.issuingCertificates.length + urls.crlDistributionPoints.length + urls.ocspServers.length > 0;
  return {
    issuerId: meta.issuerId,
    name: checkIssuerName(pick(input.issuer_name, meta.name, '')),
    leafNotAfterBehavior: checkLeafNotAfterBehavior(pick(input.leaf_not_after_behavior, meta.leafNotAfterBehavior, 'err')),
    usage: checkUsage(pick(input.usage, meta.usage, ['read-only', 'issuing-certificates', 'crl-signing', 'ocsp-signing'])),
    manualChain: chain,
    revocationSignatureAlgorithm: alg,
    // Issuer-level URLs override config/urls only while some are set (Vault keeps them apart the same way).
    urls: anyUrl ? urls : null,
    enableAiaUrlTemplating: pick(input.enable_aia_url_templating, meta.enableAiaUrlTemplating, false),
  };
}

async function update(deps: PkiDeps, ref: string, input: UpdateInput, mode: 'replace' | 'merge'): Promise<EngineResponse> {
  const next = await deps.storage.locked(ISSUER_META_KEY, async (s) => {
    const found = await load(s, ref);
    if (!found) throw badRequest(`unable to resolve issuer id for reference: ${ref.slice(0, 128)}`);
    const meta = applyUpdate(found.meta, input, mode);
    await s.put(ISSUER_META_KEY, encode(meta));
    return { bundle: found.bundle, meta };
  });
  return { data: issuerWire(next.bundle, next.meta) };
}

export function createIssuersPaths(deps: PkiDeps): PathDef[] {
  const raw = async (ref: string, form: 'pem' | 'der' | 'json'): Promise<EngineResponse> => {
    const found = await load(deps.storage, ref);
    if (!found) throw notFound();
    const pem = `${found.bundle.certificate.trim()}\n`;
    if (form === 'json') return { data: { certificate: pem, ca_chain: chainOf(found.bundle), issuer_id: found.meta.issuerId, issuer_name: found.meta.name } };
    if (form === 'der') return { raw: { status: 200, body: pemBlocks(pem, 'CERTIFICATE')[0] ?? Buffer.alloc(0), contentType: 'application/pkix-cert' } };
    return { raw: { status: 200, body: pem, contentType: 'application/pem-certificate-chain' } };
  };
  return [
    {
      pattern: 'issuers',
      operations: {
        list: op(empty, async () => {
          const found = await load(deps.storage, 'default');
          if (!found) throw notFound();
          const { meta, bundle } = found;
          return { data: { keys: [meta.issuerId], key_info: { [meta.issuerId]: { issuer_name: meta.name, is_default: true, serial_number: bundle.serial } } } };
        }),
      },
    },
    ...(['pem', 'der', 'json'] as const).map(
      (form): PathDef => ({ pattern: `issuer/:ref/${form}`, unauthenticated: true, operations: { read: byRef.op(empty, async ({ params }) => raw(params.ref, form)) } }),
    ),
    {
      pattern: 'issuer/:ref',
      operations: {
        read: byRef.op(empty, async ({ params }) => {
          const found = await load(deps.storage, params.ref);
          if (!found) throw notFound();
          return { data: issuerWire(found.bundle, found.meta) };
        }),
        update: byRef.op(updateInput, async ({ params, input }) => update(deps, params.ref, input, 'replace')),
        patch: byRef.op(updateInput, async ({ params, input }) => update(deps, params.ref, input, 'merge')),
        delete: byRef.op(empty, async ({ params }) => {
          const ref = params.ref;
          // Deleting the one issuer is deleting the mount's CA (as DELETE root does); an unknown ref deletes nothing.
          const deleted = await deps.storage.locked(CA_KEY, async (s) => {
            const found = await load(s, ref);
            if (!found) return false;
            await s.delete([CA_KEY, ISSUER_META_KEY, PENDING_KEY, CRL_KEY, NEXT_CA_KEY, PREVIOUS_CA_KEY, PREVIOUS_CRL_KEY]);
            return true;
          });
          if (!deleted) return {};
          return { warnings: [`Deleted issuer ${ref.slice(0, 128)}; this was configured as the default issuer. Operations without an explicit issuer will not work until a new default is configured.`] };
        }),
      },
    },
  ];
}
