/**
 * The names a certificate asks for, and Vault's checks of them against a role (validateNames in Vault's PKI
 * cert_util.go): localhost, allowed_domains with bare/subdomain/glob matching, wildcards, enforce_hostnames,
 * IP SANs and URI SANs (globs, e.g. "spiffe://cluster.local/ns/*").
 */
import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { badRequest } from '../../lib/errors.ts';
import { globMatch } from '../../lib/glob.ts';
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
  if (names.uriSans.length > 0 && role.allowedUriSans.length === 0) {
    throw badRequest('URI Subject Alternative Names are not allowed in this role, but were provided via the API');
  }
  checkSanSyntax({ ...sanNames(names), ips: names.ipSans, uris: names.uriSans });
  for (const uri of names.uriSans) {
    if (!role.allowedUriSans.some((p) => uriAllowed(p, uri))) throw badRequest(`URI Subject Alternative Name ${uri.slice(0, 256)} not allowed by this role`);
  }
}

/** Printable ASCII only: DNS names, emails and URIs are IA5Strings in a certificate. */
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * Checks that every SAN can be encoded as a certificate needs it, whatever the role allows (allow_any_name,
 * enforce_hostnames=false): DNS names, emails and URIs in ASCII (an internationalised domain name must be given in
 * its punycode form, which the message names; it is not converted silently), IP addresses without an IPv6 zone,
 * URIs that parse, and spiffe: IDs in their strict form (parseSpiffeId). Throws a 400.
 */
export function checkSanSyntax(sans: { dns: readonly string[]; emails: readonly string[]; ips: readonly string[]; uris: readonly string[] }): void {
  for (const name of [...sans.dns, ...sans.emails]) {
    if (PRINTABLE_ASCII.test(name)) continue;
    const ascii = name.includes('@') ? '' : domainToASCII(name);
    const hint = ascii !== '' && PRINTABLE_ASCII.test(ascii) ? `; use its ASCII (punycode) form "${ascii.slice(0, 256)}"` : '';
    throw badRequest(`subject alternative name "${name.slice(0, 256)}" is not ASCII and cannot go into a certificate${hint}`);
  }
  for (const ip of sans.ips) {
    if (ip.includes('%')) throw badRequest(`the value "${ip.slice(0, 64)}" is not a valid IP address: IPv6 zone identifiers are not allowed`);
    if (isIP(ip) === 0) throw badRequest(`the value "${ip.slice(0, 64)}" is not a valid IP address`);
  }
  for (const uri of sans.uris) {
    if (!PRINTABLE_ASCII.test(uri) || !isUri(uri)) throw badRequest(`the value "${uri.slice(0, 256)}" is not a valid URI`);
    if (/^spiffe:/i.test(uri)) parseSpiffeId(uri);
  }
}

function isUri(s: string): boolean {
  try {
    return new URL(s).protocol.length > 1;
  } catch {
    return false;
  }
}

const SPIFFE_PREFIX = 'spiffe://';
/** SPIFFE ID spec: the characters of a trust domain, and of a path segment. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;

/**
 * Parses a SPIFFE ID strictly (SPIFFE-ID spec §2): the lowercase scheme, a trust domain of [a-z0-9._-] (so no
 * userinfo, no port, no percent-encoding), and a path of non-empty segments of [A-Za-z0-9._-] other than "." and
 * ".."; no query, no fragment, no trailing slash. Throws a 400 that names the problem.
 */
export function parseSpiffeId(uri: string): { trustDomain: string; path: string } {
  const bad = (why: string): never => {
    throw badRequest(`the value "${uri.slice(0, 256)}" is not a valid SPIFFE ID: ${why}`);
  };
  if (!uri.startsWith(SPIFFE_PREFIX)) bad('it must start with "spiffe://" (lowercase)');
  const rest = uri.slice(SPIFFE_PREFIX.length);
  if (/[?#]/.test(rest)) bad('a query or fragment is not allowed');
  if (rest.includes('%')) bad('percent-encoding is not allowed');
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? '' : rest.slice(slash);
  if (trustDomain === '') bad('the trust domain is empty');
  if (trustDomain.includes('@')) bad('userinfo is not allowed');
  if (trustDomain.includes(':')) bad('a port is not allowed');
  if (!TRUST_DOMAIN.test(trustDomain)) bad('the trust domain may hold only lowercase letters, digits, ".", "-" and "_"');
  if (path !== '') {
    for (const segment of path.slice(1).split('/')) {
      if (segment === '') bad('empty path segments (and a trailing "/") are not allowed');
      if (segment === '.' || segment === '..') bad('"." and ".." path segments are not allowed');
      if (!PATH_SEGMENT.test(segment)) bad('path segments may hold only letters, digits, ".", "-" and "_"');
    }
  }
  return { trustDomain, path };
}

/**
 * Whether an allowed_uri_sans pattern admits a URI. A spiffe:// pattern is matched in two parts: its trust domain
 * against the ID's trust domain (a "*" there never reaches into the path) and its path against the ID's path (a
 * "*" there may span segments, as Vault's glob does; the ID has no "." or ".." segments, see parseSpiffeId).
 * "spiffe://*" admits any valid SPIFFE ID. Other patterns are Vault's plain glob.
 */
export function uriAllowed(pattern: string, uri: string): boolean {
  if (!pattern.toLowerCase().startsWith(SPIFFE_PREFIX) || !uri.startsWith(SPIFFE_PREFIX)) return globMatch(pattern, uri);
  const id = parseSpiffeId(uri);
  const rest = pattern.slice(SPIFFE_PREFIX.length);
  if (rest === '*') return true;
  const slash = rest.indexOf('/');
  const domainPattern = (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase();
  const pathPattern = slash < 0 ? '' : rest.slice(slash);
  return globMatch(domainPattern, id.trustDomain) && globMatch(pathPattern, id.path);
}

/** The DNS SANs (and emails) that go into the certificate: the common name first unless excluded, then alt names, de-duplicated. */
export function sanNames(names: RequestedNames): { dns: string[]; emails: string[] } {
  const all = [...(names.excludeCnFromSans || names.commonName === '' ? [] : [names.commonName]), ...names.altNames];
  const unique = [...new Set(all.map((n) => n.toLowerCase()))];
  return { dns: unique.filter((n) => !n.includes('@')), emails: unique.filter((n) => n.includes('@')) };
}
