/**
 * connection_url handling: validation, credential substitution, and the masked form that reads return. Only
 * postgres:// and postgresql:// URLs are accepted, so that a password can only sit in the userinfo or the query.
 */
import { badRequest } from '../../lib/errors.ts';

const SCHEME = /^postgres(?:ql)?:\/\//i;
const MASK = '*****';

/**
 * Parameters that make pg read a local file when it connects (client certificate and key, CA, CRL). A config
 * writer could use them to probe or load files of the broker host, so they are refused.
 */
const FILE_PARAMETERS = new Set(['sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslcrldir']);

/** Fills `{{username}}` and `{{password}}` (URL-encoded) into the template. */
export function buildConnectionString(template: string, username: string, password: string): string {
  return template
    .replace(/\{\{\s*username\s*\}\}/g, encodeURIComponent(username))
    .replace(/\{\{\s*password\s*\}\}/g, encodeURIComponent(password));
}

function isSocketPath(host: string): boolean {
  let decoded = host;
  try {
    decoded = decodeURIComponent(host);
  } catch {
    // Not valid percent-encoding: taken as is.
  }
  return decoded.trimStart().startsWith('/');
}

/**
 * Throws a 400 unless the URL is a postgres:// URL with a TCP host: no unix socket path (a host starting with "/",
 * literally or %2F-encoded, in the authority or in a `host=` parameter) and no parameter that names a local file.
 */
export function validateConnectionUrl(template: string): void {
  if (!SCHEME.test(template)) throw badRequest('connection_url: must be a postgres:// or postgresql:// URL');
  let url: URL;
  try {
    url = new URL(buildConnectionString(template, 'u', 'p'));
  } catch {
    throw badRequest('connection_url: is not a valid URL');
  }
  if (url.hostname === '') throw badRequest('connection_url: must name a host');
  const socket = badRequest('connection_url: unix socket paths are not supported; name a TCP host');
  if (isSocketPath(url.hostname)) throw socket;
  for (const [key, value] of url.searchParams) {
    const name = key.toLowerCase();
    if (FILE_PARAMETERS.has(name)) throw badRequest(`connection_url: the parameter "${name}" (a file on the broker host) is not supported`);
    if (name === 'host' && isSocketPath(value)) throw socket;
  }
}

const isPasswordPlaceholder = (s: string): boolean => /^\{\{\s*password\s*\}\}$/.test(s);

function maskQuery(s: string): string {
  return s.replace(/([?&](?:ssl)?password=)([^&#]*)/gi, (all: string, key: string, pw: string) => (isPasswordPlaceholder(pw) ? all : `${key}${MASK}`));
}

/**
 * The URL with any literal password (in the userinfo, or a `password=` / `sslpassword=` parameter) replaced by
 * *****. The userinfo runs to the LAST "@" of the authority, as URL parsers (pg's included) read it, so a password
 * holding an unencoded "@" is masked whole.
 */
export function maskConnectionUrl(template: string): string {
  const m = /^(postgres(?:ql)?:\/\/)([^/?#]*)([\s\S]*)$/i.exec(template);
  if (!m) return maskQuery(template);
  const [, scheme = '', authority = '', rest = ''] = m;
  let masked = authority;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    const colon = userinfo.indexOf(':');
    const password = colon >= 0 ? userinfo.slice(colon + 1) : '';
    if (password !== '' && !isPasswordPlaceholder(password)) masked = `${userinfo.slice(0, colon)}:${MASK}${authority.slice(at)}`;
  }
  return `${scheme}${masked}${maskQuery(rest)}`;
}

/** host:port/database for messages: never the userinfo or the query. */
export function describeTarget(template: string): string {
  try {
    const url = new URL(buildConnectionString(template, 'u', 'p'));
    return `${url.hostname}${url.port === '' ? '' : `:${url.port}`}${url.pathname === '/' ? '' : url.pathname}`;
  } catch {
    return 'the database';
  }
}
