/**
 * issue/:role (generates the key pair) and sign/:role (signs a CSR after checking its signature, key and names), and
 * Vault's issuer/:ref/issue/:role and issuer/:ref/sign/:role: the default issuer (by "default", its id or name), or
 * the previous one ("previous" or its id) while an issuer rotation's retire step lets it sign (issuer-retire.ts).
 */
import { z } from 'zod';
import { type EngineResponse, type PathDef, type RotationRegistry } from '../../../core/engine.ts';
import { byRefRole, byRole } from '../params.ts';
import { badRequest } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { parseCsr, type ParsedCsr } from '../csr.ts';
import { boolField, durationField, formatField, pemField, privateKeyFormatField, stringList } from '../input.ts';
import { issueLeaf, leafResponse, loadRoleContext, parseNotAfter, type IssueContext } from '../issuing.ts';
import { createIssuerCache, type IssuerCache } from '../issuer.ts';
import { ISSUER_META_KEY, metaFor, refMatches, type IssuerMeta } from '../issuer-meta.ts';
import { PREVIOUS_CA_KEY, isPreviousRef, previousSigner } from '../issuer-retire.ts';
import { encodePrivateKey, generateLeafKey, keySpec } from '../keys.ts';
import { CA_KEY, decode, type CaBundle, type PkiDeps } from '../model.ts';
import { checkNames, type RequestedNames } from '../names.ts';
import { roleName } from './roles.ts';

const nameFields = {
  common_name: z.string().max(256).optional(),
  alt_names: stringList.optional(),
  ip_sans: stringList.optional(),
  uri_sans: stringList.optional(),
  exclude_cn_from_sans: boolField.optional(),
  ttl: durationField.optional(),
  not_after: z.string().max(64).optional(),
  format: formatField.optional(),
};

const issueInput = z.object({ ...nameFields, private_key_format: privateKeyFormatField.optional() });
const signInput = z.object({ ...nameFields, csr: pemField });
type IssueInput = z.output<typeof issueInput>;

const requested = (input: IssueInput): RequestedNames => ({
  commonName: input.common_name ?? '',
  altNames: input.alt_names ?? [],
  ipSans: input.ip_sans ?? [],
  uriSans: input.uri_sans ?? [],
  excludeCnFromSans: input.exclude_cn_from_sans ?? false,
});

const ttlOf = (v: string | number | undefined): number | undefined => (v === undefined ? undefined : parseDuration(v, 'ttl'));

async function issue(deps: PkiDeps, ctx: IssueContext, input: IssueInput): Promise<EngineResponse> {
  if (ctx.role.keyType === 'any') throw badRequest('role key type "any" not allowed for issuing certificates, only signing');
  const spec = keySpec(ctx.role.keyType, ctx.role.keyBits);
  const names = requested(input);
  const ttl = ttlOf(input.ttl);
  const notAfter = parseNotAfter(input.not_after, ttl);
  // Names first: a refused request must not cost a key generation.
  checkNames(ctx.role, names);
  const keys = await generateLeafKey(spec);
  const leaf = await issueLeaf(deps, ctx, { names, publicKey: keys.publicKey, keyType: spec.type, ttl, notAfter });
  const format = input.format ?? 'pem';
  const privateKey = encodePrivateKey(keys.privateKey, spec.type, input.private_key_format === 'pkcs8' ? 'pkcs8' : 'der', format === 'der' ? 'der' : 'pem');
  return leafResponse(ctx, leaf, format, { key: privateKey, type: spec.type });
}

/** The role's key type and size rules for a CSR's key. */
function checkCsrKey(ctx: IssueContext, csr: ParsedCsr): void {
  const role = ctx.role;
  if (role.keyType === 'any') {
    if (csr.key.type === 'rsa' && csr.key.bits < 2048) throw badRequest(`RSA keys < 2048 bits are unsafe and not supported: got ${csr.key.bits}`);
    return;
  }
  if (csr.key.type !== role.keyType) throw badRequest(`role requires keys of type ${role.keyType}, but the CSR's key is ${csr.key.type}`);
  if (role.keyType === 'rsa' && csr.key.bits < role.keyBits) throw badRequest(`role requires a minimum of ${role.keyBits} bits for RSA keys, but the CSR's key has ${csr.key.bits}`);
  if (role.keyType === 'ec' && csr.key.bits !== role.keyBits) throw badRequest(`role requires EC keys of ${role.keyBits} bits, but the CSR's key has ${csr.key.bits}`);
}

async function sign(deps: PkiDeps, ctx: IssueContext, input: z.output<typeof signInput>): Promise<EngineResponse> {
  const csr = await parseCsr(input.csr);
  checkCsrKey(ctx, csr);
  const fromInput = requested(input);
  const names: RequestedNames = {
    commonName: ctx.role.useCsrCommonName ? csr.commonName : fromInput.commonName,
    altNames: ctx.role.useCsrSans ? [...csr.dns, ...csr.emails] : fromInput.altNames,
    ipSans: ctx.role.useCsrSans ? csr.ips : fromInput.ipSans,
    uriSans: ctx.role.useCsrSans ? csr.uris : fromInput.uriSans,
    excludeCnFromSans: fromInput.excludeCnFromSans,
  };
  const ttl = ttlOf(input.ttl);
  const leaf = await issueLeaf(deps, ctx, { names, publicKey: csr.publicKey, keyType: csr.key.type, ttl, notAfter: parseNotAfter(input.not_after, ttl) });
  return leafResponse(ctx, leaf, input.format ?? 'pem');
}

/** Where issuer rotation is registered (rotation.ts), for the previous issuer's signing check. */
export interface IssuerRotationRef {
  rotations: Pick<RotationRegistry, 'inFlight'>;
  kind: string;
  target: string;
}

export function createIssuePaths(deps: PkiDeps, cache: IssuerCache, rotation: IssuerRotationRef): PathDef[] {
  // Its own cache: signing with both issuers in turn must not re-import a key on every request.
  const previousCache = createIssuerCache();
  /** The issue context for issuer `ref`: the default issuer, or the previous one while it may still sign. */
  async function byIssuer(ref: string, role: string): Promise<IssueContext> {
    const found = await deps.storage.getMany([CA_KEY, PREVIOUS_CA_KEY, ISSUER_META_KEY]);
    const current = decode<CaBundle>(found.get(CA_KEY));
    if (current && refMatches(ref, metaFor(current, decode<IssuerMeta>(found.get(ISSUER_META_KEY))))) return loadRoleContext(deps, cache, roleName(role));
    if (isPreviousRef(ref, decode<CaBundle>(found.get(PREVIOUS_CA_KEY)))) {
      const previous = await previousSigner({ storage: deps.storage, clock: deps.clock, ...rotation });
      return loadRoleContext(deps, previousCache, roleName(role), previous);
    }
    throw badRequest(`unable to resolve issuer id for reference: ${ref.slice(0, 128)}`);
  }
  return [
    { pattern: 'issue/:role', issuesLeases: true, operations: { update: byRole.op(issueInput, async ({ params, input }) => issue(deps, await loadRoleContext(deps, cache, roleName(params.role)), input)) } },
    { pattern: 'sign/:role', issuesLeases: true, operations: { update: byRole.op(signInput, async ({ params, input }) => sign(deps, await loadRoleContext(deps, cache, roleName(params.role)), input)) } },
    {
      pattern: 'issuer/:ref/issue/:role',
      issuesLeases: true,
      operations: { update: byRefRole.op(issueInput, async ({ params, input }) => issue(deps, await byIssuer(params.ref, params.role), input)) },
    },
    {
      pattern: 'issuer/:ref/sign/:role',
      issuesLeases: true,
      operations: { update: byRefRole.op(signInput, async ({ params, input }) => sign(deps, await byIssuer(params.ref, params.role), input)) },
    },
  ];
}
