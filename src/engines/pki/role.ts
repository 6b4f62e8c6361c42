/** PKI roles: what a role allows, with Vault's defaults (except: EC P-256 keys and a 24h TTL by default), and its wire form. */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import { parseDuration } from '../../lib/durations.ts';
import { checkSignature, signatureFields } from './ca-request.ts';
import { boolField, durationField, intField, stringList, subjectFields } from './input.ts';
import { keySpec, type RoleKeyType } from './keys.ts';

export interface Subject {
  ou: string[];
  organization: string[];
  country: string[];
  locality: string[];
  province: string[];
  streetAddress: string[];
  postalCode: string[];
}

export interface Role extends Subject {
  ttl: number;
  maxTtl: number;
  notBeforeDuration: number;
  allowLocalhost: boolean;
  allowedDomains: string[];
  allowBareDomains: boolean;
  allowSubdomains: boolean;
  allowGlobDomains: boolean;
  allowWildcardCertificates: boolean;
  allowAnyName: boolean;
  enforceHostnames: boolean;
  allowIpSans: boolean;
  allowedUriSans: string[];
  serverFlag: boolean;
  clientFlag: boolean;
  codeSigningFlag: boolean;
  emailProtectionFlag: boolean;
  keyType: RoleKeyType;
  keyBits: number;
  keyUsage: string[];
  extKeyUsage: string[];
  /** ext_key_usage_oids (absent in roles stored before it was accepted). */
  extKeyUsageOids?: string[];
  useCsrCommonName: boolean;
  useCsrSans: boolean;
  requireCn: boolean;
  noStore: boolean;
  generateLease: boolean;
}

export const KEY_USAGE_NAMES = [
  'DigitalSignature',
  'ContentCommitment',
  'KeyEncipherment',
  'DataEncipherment',
  'KeyAgreement',
  'CertSign',
  'CRLSign',
  'EncipherOnly',
  'DecipherOnly',
] as const;
/** Vault's parseExtKeyUsagesValue names (matched case-insensitively, as Vault does). */
export const EXT_KEY_USAGE_NAMES = [
  'ServerAuth',
  'ClientAuth',
  'CodeSigning',
  'EmailProtection',
  'TimeStamping',
  'OCSPSigning',
  'Any',
  'IPSECEndSystem',
  'IPSECTunnel',
  'IPSECUser',
  'MicrosoftServerGatedCrypto',
  'NetscapeServerGatedCrypto',
] as const;

export const roleInput = z.object({
  ttl: durationField.optional(),
  max_ttl: durationField.optional(),
  not_before_duration: durationField.optional(),
  allow_localhost: boolField.optional(),
  allowed_domains: stringList.optional(),
  allow_bare_domains: boolField.optional(),
  allow_subdomains: boolField.optional(),
  allow_glob_domains: boolField.optional(),
  allow_wildcard_certificates: boolField.optional(),
  allow_any_name: boolField.optional(),
  enforce_hostnames: boolField.optional(),
  allow_ip_sans: boolField.optional(),
  allowed_uri_sans: stringList.optional(),
  server_flag: boolField.optional(),
  client_flag: boolField.optional(),
  code_signing_flag: boolField.optional(),
  email_protection_flag: boolField.optional(),
  key_type: z.string().max(32).optional(),
  key_bits: intField.optional(),
  ...signatureFields,
  key_usage: stringList.optional(),
  ext_key_usage: stringList.optional(),
  ext_key_usage_oids: stringList.optional(),
  cn_validations: stringList.optional(),
  issuer_ref: z.string().max(128).optional(),
  not_after: z.string().max(64).optional(),
  use_csr_common_name: boolField.optional(),
  use_csr_sans: boolField.optional(),
  require_cn: boolField.optional(),
  no_store: boolField.optional(),
  generate_lease: boolField.optional(),
  ...subjectFields,
});
export type RoleInput = z.output<typeof roleInput>;

export const DEFAULT_ROLE_TTL = 24 * 3600;
export const DEFAULT_NOT_BEFORE = 30;

export const RSA_ROLE_WARNING =
  'key_type "rsa": every issue request on this role generates an RSA key, which is slow (tens per second at best); prefer "ec" or have clients send a CSR to sign/';

/** Names are matched case-insensitively and stored in Vault's spelling. */
function canonicalNames(list: string[], known: readonly string[], field: string): string[] {
  return list.map((raw) => {
    const name = known.find((k) => k.toLowerCase() === raw.toLowerCase().replace(/^extkeyusage/, ''));
    if (!name) throw badRequest(`${field}: unknown usage "${raw.slice(0, 40)}" (known: ${known.join(', ')})`);
    return name;
  });
}

const OID = /^[0-2](\.(0|[1-9]\d{0,9})){1,31}$/;

function checkOids(list: string[]): string[] {
  for (const oid of list) if (!OID.test(oid)) throw badRequest(`ext_key_usage_oids: "${oid.slice(0, 64)}" is not an object identifier such as "1.3.6.1.5.5.7.3.1"`);
  return list;
}

/**
 * Vault's cn_validations: "email" and/or "hostname" (an empty list: both, the default), or "disabled". sealbox
 * checks a common name as Vault's default does (a host name or an email address the role allows), so the default is
 * accepted and the others, which would change that check, are refused.
 */
function checkCnValidations(list: string[] | undefined): void {
  const seen = new Set<string>();
  for (const v of list ?? []) {
    const k = v.toLowerCase();
    if (!['email', 'hostname', 'disabled'].includes(k)) throw badRequest(`cn_validations: unknown value "${v.slice(0, 32)}" (use "email", "hostname" or "disabled")`);
    if (seen.has(k)) throw badRequest(`cn_validations: "${k}" given more than once`);
    seen.add(k);
  }
  if (seen.size > 0 && !(seen.size === 2 && seen.has('email') && seen.has('hostname'))) {
    throw badRequest(`cn_validations: only the default ["email", "hostname"] is supported (sealbox always accepts a common name that is either); got ${JSON.stringify([...seen])}`);
  }
}

/** A role from a write: Vault replaces the whole role on write, so absent fields take their defaults. */
export function buildRole(input: RoleInput): { role: Role; warnings: string[] } {
  const type = input.key_type ?? 'ec';
  let keyType: RoleKeyType;
  let keyBits = input.key_bits ?? 0;
  if (type === 'any') {
    keyType = 'any';
  } else {
    const spec = keySpec(type, keyBits);
    keyType = spec.type;
    keyBits = spec.bits;
  }
  checkSignature(input, keyType);
  checkCnValidations(input.cn_validations);
  const ref = (input.issuer_ref ?? '').trim();
  if (ref !== '' && ref !== 'default') throw badRequest(`issuer_ref: only "default" is supported (a PKI mount has one issuer; it signs with it): got "${ref.slice(0, 64)}"`);
  if ((input.not_after ?? '').trim() !== '') throw badRequest('not_after: a fixed expiry on a role is not supported; send not_after on the issue or sign request, or use ttl');
  const ttl = input.ttl === undefined ? DEFAULT_ROLE_TTL : parseDuration(input.ttl, 'ttl');
  const maxTtl = input.max_ttl === undefined ? 0 : parseDuration(input.max_ttl, 'max_ttl');
  if (maxTtl > 0 && ttl > maxTtl) throw badRequest('"ttl" value must be less than "max_ttl" value');
  const generateLease = input.generate_lease ?? false;
  const noStore = input.no_store ?? false;
  if (generateLease && noStore) throw badRequest('"generate_lease" and "no_store" cannot both be true: a leased certificate must be stored to be revoked');
  const role: Role = {
    ttl,
    maxTtl,
    notBeforeDuration: input.not_before_duration === undefined ? DEFAULT_NOT_BEFORE : parseDuration(input.not_before_duration, 'not_before_duration'),
    allowLocalhost: input.allow_localhost ?? true,
    allowedDomains: input.allowed_domains ?? [],
    allowBareDomains: input.allow_bare_domains ?? false,
    allowSubdomains: input.allow_subdomains ?? false,
    allowGlobDomains: input.allow_glob_domains ?? false,
    allowWildcardCertificates: input.allow_wildcard_certificates ?? true,
    allowAnyName: input.allow_any_name ?? false,
    enforceHostnames: input.enforce_hostnames ?? true,
    allowIpSans: input.allow_ip_sans ?? true,
    allowedUriSans: input.allowed_uri_sans ?? [],
    serverFlag: input.server_flag ?? true,
    clientFlag: input.client_flag ?? true,
    codeSigningFlag: input.code_signing_flag ?? false,
    emailProtectionFlag: input.email_protection_flag ?? false,
    keyType,
    keyBits,
    keyUsage: canonicalNames(input.key_usage ?? ['DigitalSignature', 'KeyAgreement', 'KeyEncipherment'], KEY_USAGE_NAMES, 'key_usage'),
    extKeyUsage: canonicalNames(input.ext_key_usage ?? [], EXT_KEY_USAGE_NAMES, 'ext_key_usage'),
    extKeyUsageOids: checkOids(input.ext_key_usage_oids ?? []),
    useCsrCommonName: input.use_csr_common_name ?? true,
    useCsrSans: input.use_csr_sans ?? true,
    requireCn: input.require_cn ?? true,
    noStore,
    generateLease,
    ou: input.ou ?? [],
    organization: input.organization ?? [],
    country: input.country ?? [],
    locality: input.locality ?? [],
    province: input.province ?? [],
    streetAddress: input.street_address ?? [],
    postalCode: input.postal_code ?? [],
  };
  return { role, warnings: keyType === 'rsa' ? [RSA_ROLE_WARNING] : [] };
}

export function roleWire(r: Role): Record<string, unknown> {
  return {
    ttl: r.ttl,
    max_ttl: r.maxTtl,
    not_before_duration: r.notBeforeDuration,
    allow_localhost: r.allowLocalhost,
    allowed_domains: r.allowedDomains,
    allow_bare_domains: r.allowBareDomains,
    allow_subdomains: r.allowSubdomains,
    allow_glob_domains: r.allowGlobDomains,
    allow_wildcard_certificates: r.allowWildcardCertificates,
    allow_any_name: r.allowAnyName,
    enforce_hostnames: r.enforceHostnames,
    allow_ip_sans: r.allowIpSans,
    allowed_uri_sans: r.allowedUriSans,
    server_flag: r.serverFlag,
    client_flag: r.clientFlag,
    code_signing_flag: r.codeSigningFlag,
    email_protection_flag: r.emailProtectionFlag,
    key_type: r.keyType,
    key_bits: r.keyBits,
    key_usage: r.keyUsage,
    ext_key_usage: r.extKeyUsage,
    ext_key_usage_oids: r.extKeyUsageOids ?? [],
    cn_validations: ['email', 'hostname'],
    issuer_ref: 'default',
    not_after: '',
    use_csr_common_name: r.useCsrCommonName,
    use_csr_sans: r.useCsrSans,
    require_cn: r.requireCn,
    no_store: r.noStore,
    generate_lease: r.generateLease,
    ou: r.ou,
    organization: r.organization,
    country: r.country,
    locality: r.locality,
    province: r.province,
    street_address: r.streetAddress,
    postal_code: r.postalCode,
  };
}
