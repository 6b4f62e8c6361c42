/**
 * The names a certificate asks for, and Vault's checks of them against a role (validateNames in Vault's PKI
 * cert_util.go): localhost, allowed_domains with bare/subdomain/glob matching, wildcards, enforce_hostnames,
 * IP SANs and URI SANs (globs, e.g. "spiffe://cluster.local/ns/*").
 */
import { isIP } from 'node:net';
import { badRequest } from '../../lib/errors.ts';
import { globMatch } from './glob.ts';
import type { Role } from './role.ts';

export interface RequestedNames {
  commonName: string;
  /** DNS names and email addresses (Vault's alt_names). */
  altNames: string[];
  ipSans: string[];
  uriSans: string[];
  excludeCnFromSans: boolean;
}

const HOSTNAME = /^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])\.?$/;
const MAX_NAME = 253;

const eqFold = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const endsFold = (s: string, suffix: string): boolean => s.toLowerCase().endsWith(suffix.toLowerCase());

/** Whether one name (DNS name or email address) is allowed by the role. */
export function nameAllowed(role: Role, name: string): boolean {
  if (name.length === 0 || name.length > MAX_NAME) return false;
  let sanitized = name;
  let emailDomain = name;
  const isEmail = name.includes('@');
  if (isEmail) {
    const parts = name.split('@');
    if (parts.length !== 2) return false;
    emailDomain = parts[1] ?? '';
    sanitized = emailDomain;
  }
  let isWildcard = false;
  if (sanitized.startsWith('*.')) {
    if (isEmail || !role.allowWildcardCertificates) return false;
    sanitized = sanitized.slice(2);
    isWildcard = true;
  }
  if (role.enforceHostnames && sanitized !== '' && !HOSTNAME.test(sanitized)) return false;
  if (role.allowAnyName) return true;
  if (role.allowLocalhost) {
    if (['localhost', 'localdomain'].includes(name) || (isEmail && ['localhost', 'localdomain'].includes(emailDomain))) return true;
    if (role.allowSubdomains) {
      for (const base of ['localhost', 'localdomain']) {
        if (sanitized.endsWith(`.${base}`) || (isWildcard && sanitized === base)) return true;
      }
    }
  }
  for (const domain of role.allowedDomains) {
    if (role.allowBareDomains && (eqFold(name, domain) || (isEmail && eqFold(emailDomain, domain)))) return true;
    if (role.allowSubdomains && (endsFold(sanitized, `.${domain}`) || (isWildcard && eqFold(sanitized, domain)))) return true;
    if (role.allowGlobDomains && domain.includes('*') && globMatch(domain.toLowerCase(), name.toLowerCase())) return true;
  }
  return false;
}

/** Checks every requested name against the role; throws a 400 in Vault's words for the first one that is not allowed. */
export function checkNames(role: Role, names: RequestedNames): void {
  if (names.commonName === '' && role.requireCn) {
    throw badRequest('the common_name field is required, or must be provided in a CSR with "use_csr_common_name" set to true, unless "require_cn" is set to false');
  }
  if (names.commonName !== '' && !nameAllowed(role, names.commonName)) {
    throw badRequest(`common name ${names.commonName.slice(0, 256)} not allowed by this role`);
  }
  for (const name of names.altNames) {
    if (!nameAllowed(role, name)) throw badRequest(`subject alternate name ${name.slice(0, 256)} not allowed by this role`);
  }
  if (names.ipSans.length > 0 && !role.allowIpSans) {
    throw badRequest(`IP Subject Alternative Names are not allowed in this role, but was provided ${names.ipSans.join(', ').slice(0, 256)}`);
  }
  for (const ip of names.ipSans) {
    if (isIP(ip) === 0) throw badRequest(`the value "${ip.slice(0, 64)}" is not a valid IP address`);
  }
  if (names.uriSans.length > 0 && role.allowedUriSans.length === 0) {
    throw badRequest('URI Subject Alternative Names are not allowed in this role, but were provided via the API');
  }
  for (const uri of names.uriSans) {
    if (!isUri(uri)) throw badRequest(`the value "${uri.slice(0, 256)}" is not a valid URI`);
    if (!role.allowedUriSans.some((p) => globMatch(p, uri))) throw badRequest(`URI Subject Alternative Name ${uri.slice(0, 256)} not allowed by this role`);
  }
}

function isUri(s: string): boolean {
  try {
    return new URL(s).protocol.length > 1 && !/\s/.test(s);
  } catch {
    return false;
  }
}

/** The DNS SANs (and emails) that go into the certificate: the common name first unless excluded, then alt names, de-duplicated. */
export function sanNames(names: RequestedNames): { dns: string[]; emails: string[] } {
  const all = [...(names.excludeCnFromSans || names.commonName === '' ? [] : [names.commonName]), ...names.altNames];
  const unique = [...new Set(all.map((n) => n.toLowerCase()))];
  return { dns: unique.filter((n) => !n.includes('@')), emails: unique.filter((n) => n.includes('@')) };
}
