/**
 * The one issuance pipeline behind issue/:role and sign/:role: load role, CA and URLs in one round trip →
 * check the names → settle the validity window (TTL capped at max_ttl with Vault's warning, never past the CA)
 * → sign → store the certificate (never the leaf key) → answer in Vault's shape, with a lease when the role asks.
 */
import type { CryptoKey } from './x509.ts';
import { badRequest } from '../../lib/errors.ts';
import { formatDuration } from '../../lib/durations.ts';
import type { EngineResponse, LeaseSpec } from '../../core/engine.ts';
import { signLeaf, type SanSet } from './certificate.ts';
import type { Issuer, IssuerCache } from './issuer.ts';
import type { KeyType } from './keys.ts';
import { CA_KEY, certKey, decode, encode, roleKey, unix, URLS_KEY, DEFAULT_URLS, type CaBundle, type PkiDeps, type StoredCert, type UrlsConfig } from './model.ts';
import { ISSUER_META_KEY, metaFor, type IssuerMeta, type LeafNotAfterBehavior } from './issuer-meta.ts';
import { checkNames, sanNames, type RequestedNames } from './names.ts';
import type { Role } from './role.ts';
import { newSerialHex, serialColons } from './serial.ts';
import { subjectName } from './subject.ts';
import type { x509 } from './x509.ts';

export interface IssueContext {
  role: Role;
  issuer: Issuer;
  urls: UrlsConfig;
  /** The issuer's leaf_not_after_behavior: "err" (default) refuses a leaf outliving the CA, "truncate" shortens it. */
  leafNotAfterBehavior?: LeafNotAfterBehavior;
  /** The issuer's settings (name and id for issuer_ref). */
  issuerMeta?: IssuerMeta;
}

/**
 * Role (when named), CA bundle, URL config and issuer settings in one storage round trip; 400 for an unknown role,
 * a missing CA, or an issuer whose usage excludes issuing. The issuer's own URLs, when set, replace config/urls.
 */
export async function loadIssueContext(
  deps: PkiDeps,
  cache: IssuerCache,
  roleName: string | null,
  /** Another issuer than the default (the previous one during a rotation's retire step), already checked by the caller. */
  other?: CaBundle,
): Promise<Omit<IssueContext, 'role'> & { role: Role | null }> {
  const found = await deps.storage.getMany([...(roleName !== null ? [roleKey(roleName)] : []), CA_KEY, URLS_KEY, ISSUER_META_KEY]);
  const role = roleName !== null ? decode<Role>(found.get(roleKey(roleName))) : null;
  if (roleName !== null && !role) throw badRequest(`unknown role: ${roleName.slice(0, 128)}`);
  const bundle = other ?? decode<CaBundle>(found.get(CA_KEY));
  const issuer = await cache.issuer(bundle);
  const meta = metaFor(issuer.bundle, decode<IssuerMeta>(found.get(ISSUER_META_KEY)));
  if (!meta.usage.includes('issuing-certificates')) throw badRequest('error fetching CA certificate: this issuer is not permitted to issue certificates (usage lacks issuing-certificates)');
  return { role, issuer, urls: meta.urls ?? decode<UrlsConfig>(found.get(URLS_KEY)) ?? DEFAULT_URLS, leafNotAfterBehavior: meta.leafNotAfterBehavior, issuerMeta: meta };
}

/** loadIssueContext for a named role (issue/:role, sign/:role). */
export async function loadRoleContext(deps: PkiDeps, cache: IssuerCache, roleName: string, other?: CaBundle): Promise<IssueContext> {
  const ctx = await loadIssueContext(deps, cache, roleName, other);
  if (!ctx.role) throw badRequest(`unknown role: ${roleName.slice(0, 128)}`);
  return { ...ctx, role: ctx.role };
}

export interface Validity {
  notBefore: Date;
  notAfter: Date;
  ttl: number;
  warnings: string[];
}

/** The requested TTL (or the role's), capped at the role's max_ttl (else the mount's TTL service maximum) with Vault's warning. */
export function validity(deps: PkiDeps, ctx: IssueContext, requestedTtl: number | undefined, fixedNotAfter?: Date): Validity {
  const now = deps.clock.now();
  const maxTtl = ctx.role.maxTtl || deps.ttl.maxTtl();
  let ttl = requestedTtl && requestedTtl > 0 ? requestedTtl : ctx.role.ttl;
  const warnings: string[] = [];
  if (fixedNotAfter) {
    // Vault's not_after: the given time, not capped by max_ttl (only by the CA's expiry, below).
    if (fixedNotAfter <= now) throw badRequest(`not_after: ${fixedNotAfter.toISOString()} is in the past`);
    ttl = Math.floor((fixedNotAfter.getTime() - now.getTime()) / 1000);
  } else if (ttl > maxTtl) {
    warnings.push(`TTL "${formatDuration(ttl)}" is longer than permitted maxTTL "${formatDuration(maxTtl)}", so maxTTL is being used`);
    ttl = maxTtl;
  }
  let notAfter = fixedNotAfter ?? new Date(now.getTime() + ttl * 1000);
  const caNotAfter = ctx.issuer.cert.notAfter;
  if (notAfter > caNotAfter && ctx.leafNotAfterBehavior === 'truncate') {
    notAfter = caNotAfter;
    ttl = Math.max(0, Math.floor((caNotAfter.getTime() - now.getTime()) / 1000));
  }
  if (notAfter > caNotAfter && ctx.leafNotAfterBehavior !== 'permit') {
    throw badRequest(
      `cannot satisfy request, as TTL would result in notAfter of ${notAfter.toISOString()} that is beyond the expiration of the CA certificate at ${caNotAfter.toISOString()}`,
    );
  }
  return { notBefore: new Date(now.getTime() - ctx.role.notBeforeDuration * 1000), notAfter, ttl, warnings };
}

/** Go's time.RFC3339 layout, which Vault parses not_after with ("2030-01-02T15:04:05Z", offsets and fractions allowed). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** An issue/sign request's not_after (undefined when absent or empty); 400 with ttl as well, as Vault does. */
export function parseNotAfter(raw: string | undefined, ttl: number | undefined): Date | undefined {
  const s = (raw ?? '').trim();
  if (s === '') return undefined;
  if (ttl !== undefined && ttl > 0) throw badRequest('Either ttl or not_after should be provided. Both should not be provided in the same request.');
  const at = RFC3339.test(s) ? new Date(s) : undefined;
  if (!at || Number.isNaN(at.getTime())) throw badRequest(`not_after: "${s.slice(0, 64)}" is not a UTC time in the form YYYY-MM-ddTHH:MM:SSZ`);
  return at;
}

export type OutputFormat = 'pem' | 'der' | 'pem_bundle';

export interface SignedLeaf {
  /** The certificate as DER and as PEM (no trailing newline). */
  der: Buffer;
  pem: string;
  serial: string;
  validity: Validity;
}

/** Checks the names, signs, and stores the certificate unless the role says no_store. */
export async function issueLeaf(
  deps: PkiDeps,
  ctx: IssueContext,
  req: { names: RequestedNames; publicKey: CryptoKey | x509.PublicKey | Uint8Array; keyType: KeyType; ttl: number | undefined; notAfter?: Date | undefined; subject?: Record<string, string[]>[] },
): Promise<SignedLeaf> {
  checkNames(ctx.role, req.names);
  const v = validity(deps, ctx, req.ttl, req.notAfter);
  const { dns, emails } = sanNames(req.names);
  const sans: SanSet = { dns, emails, ips: req.names.ipSans, uris: req.names.uriSans };
  const serialHex = newSerialHex(deps.random);
  const { der, pem } = await signLeaf(ctx.issuer, {
    subject: req.subject ?? subjectName(req.names.commonName, ctx.role),
    publicKey: req.publicKey,
    keyType: req.keyType,
    sans,
    serialHex,
    notBefore: v.notBefore,
    notAfter: v.notAfter,
    role: ctx.role,
    urls: ctx.urls,
  });
  const serial = serialColons(serialHex);
  if (!ctx.role.noStore) {
    const stored: StoredCert = { certificate: pem, notAfter: v.notAfter.toISOString() };
    await deps.storage.put(certKey(serial.replace(/:/g, '-')), encode(stored));
  }
  return { der, pem, serial, validity: v };
}

/** Vault's issue/sign answer: certificate, issuing_ca, ca_chain, serial_number, expiration (and the key, for issue). */
export function leafResponse(ctx: IssueContext, leaf: SignedLeaf, format: OutputFormat, privateKey?: { key: string; type: KeyType }): EngineResponse {
  const chain = format === 'der' ? [...ctx.issuer.chainDer] : ctx.issuer.chain.map((pem) => pem.trim());
  const data: Record<string, unknown> = {
    certificate: format === 'der' ? leaf.der.toString('base64') : format === 'pem_bundle' ? [leaf.pem.trim(), ...chain].join('\n') : leaf.pem.trim(),
    issuing_ca: chain[0] ?? '',
    ca_chain: chain,
    serial_number: leaf.serial,
    expiration: unix(leaf.validity.notAfter),
  };
  if (privateKey) {
    data.private_key = privateKey.key.trim();
    data.private_key_type = privateKey.type;
  }
  const response: EngineResponse = { data };
  if (leaf.validity.warnings.length > 0) response.warnings = leaf.validity.warnings;
  if (ctx.role.generateLease) response.lease = certLease(leaf);
  return response;
}

function certLease(leaf: SignedLeaf): LeaseSpec {
  return { type: 'cert', internal: { serial_number: leaf.serial }, ttl: leaf.validity.ttl, maxTtl: leaf.validity.ttl, renewable: false };
}
