/**
 * sign-verbatim and sign-verbatim/:role (Vault's pathSignVerbatim): the CSR's subject and SANs are signed as they are,
 * with no name checks. Key usages come from the request (default DigitalSignature, KeyAgreement, KeyEncipherment) and
 * extended key usages too (default none); a role contributes only its ttl, max_ttl, not_before_duration, no_store and
 * generate_lease. cert-manager's Vault issuer sends every field as a string, including the name fields, which are
 * accepted and, as in Vault, ignored in favour of the CSR's.
 */
import { z } from 'zod';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { byRole } from '../params.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { badRequest } from '../../../lib/errors.ts';
import { refMatches } from '../issuer-meta.ts';
import { parseCsr } from '../csr.ts';
import { boolField, durationField, formatField, intField, pemField, privateKeyFormatField, stringList } from '../input.ts';
import { issueLeaf, leafResponse, loadIssueContext } from '../issuing.ts';
import type { IssuerCache } from '../issuer.ts';
import type { PkiDeps } from '../model.ts';
import { checkSanSyntax } from '../names.ts';
import { buildRole, type Role } from '../role.ts';
import { checkSignature } from '../ca-request.ts';
import { roleName } from './roles.ts';

const verbatimInput = z.object({
  csr: pemField,
  ttl: durationField.optional(),
  format: formatField.optional(),
  key_usage: stringList.optional(),
  ext_key_usage: stringList.optional(),
  ext_key_usage_oids: stringList.optional(),
  signature_bits: intField.optional(),
  use_pss: boolField.optional(),
  remove_roots_from_chain: boolField.optional(),
  // One issuer per mount: "default", its id or its name.
  issuer_ref: z.string().max(128).optional(),
  // Name fields: taken from the CSR instead.
  common_name: z.string().max(256).optional(),
  alt_names: stringList.optional(),
  ip_sans: stringList.optional(),
  uri_sans: stringList.optional(),
  other_sans: stringList.optional(),
  exclude_cn_from_sans: boolField.optional(),
  private_key_format: privateKeyFormatField.optional(),
});
type VerbatimInput = z.output<typeof verbatimInput>;

/** Vault's implicit sign-verbatim role: any name, any key, the request's usages, and the role's lifetimes only. */
function verbatimRole(input: VerbatimInput, role: Role | null): Role {
  const base = buildRole({ key_type: 'any', key_usage: input.key_usage, ext_key_usage: input.ext_key_usage, ext_key_usage_oids: input.ext_key_usage_oids, server_flag: false, client_flag: false }).role;
  return {
    ...base,
    allowAnyName: true,
    enforceHostnames: false,
    allowIpSans: true,
    allowWildcardCertificates: true,
    allowedUriSans: ['*'],
    useCsrCommonName: true,
    useCsrSans: true,
    requireCn: false,
    generateLease: role?.generateLease ?? false,
    noStore: role?.noStore ?? false,
    ...(role && role.ttl > 0 ? { ttl: role.ttl } : {}),
    ...(role && role.maxTtl > 0 ? { maxTtl: role.maxTtl } : {}),
    ...(role && role.notBeforeDuration > 0 ? { notBeforeDuration: role.notBeforeDuration } : {}),
  };
}

async function signVerbatim(deps: PkiDeps, cache: IssuerCache, name: string | null, input: VerbatimInput): Promise<EngineResponse> {
  const loaded = await loadIssueContext(deps, cache, name === null ? null : roleName(name));
  // The signing key decides, as in Vault: ignored for EC and Ed25519 issuers, SHA-256 PKCS #1 v1.5 only for RSA.
  checkSignature(input, loaded.issuer.bundle.key.type);
  const ref = (input.issuer_ref ?? '').trim();
  if (ref !== '' && loaded.issuerMeta && !refMatches(ref, loaded.issuerMeta)) throw badRequest(`unable to resolve issuer id for reference: ${ref.slice(0, 128)}`);
  const role = verbatimRole(input, loaded.role);
  const ctx = { ...loaded, role };
  const csr = await parseCsr(input.csr);
  const sans = { dns: csr.dns, emails: csr.emails, ips: csr.ips, uris: csr.uris };
  checkSanSyntax(sans);
  const ttl = input.ttl === undefined ? undefined : parseDuration(input.ttl, 'ttl');
  const leaf = await issueLeaf(deps, ctx, {
    names: { commonName: csr.commonName, altNames: [...csr.dns, ...csr.emails], ipSans: csr.ips, uriSans: csr.uris, excludeCnFromSans: true },
    publicKey: csr.publicKey,
    keyType: csr.key.type,
    ttl,
    subject: csr.csr.subjectName.toJSON(),
  });
  return leafResponse(ctx, leaf, input.format ?? 'pem');
}

export function createSignVerbatimPaths(deps: PkiDeps, cache: IssuerCache): PathDef[] {
  return [
    { pattern: 'sign-verbatim', issuesLeases: true, operations: { update: op(verbatimInput, async ({ input }) => signVerbatim(deps, cache, null, input)) } },
    {
      pattern: 'sign-verbatim/:role',
      issuesLeases: true,
      operations: { update: byRole.op(verbatimInput, async ({ params, input }) => signVerbatim(deps, cache, params.role, input)) },
    },
  ];
}
