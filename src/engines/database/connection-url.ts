/**
 * connection_url handling: validation, credential substitution, and the masked form that reads return. Only
 * postgres:// and postgresql:// URLs are accepted, so that a password can only sit in the userinfo or the query.
 */
import { badRequest } from '../../lib/errors.ts';

const SCHEME = /^postgres(?:ql)?:\/\//i;
const MASK = '*****';

/** Fills `{{username}}` and `{{password}}` (URL-encoded) into the template. */
export function buildConnectionString(template: string, username: string, password: string): string {
  return template
    .replace(/\{\{\s*username\s*\}\}/g, encodeURIComponent(username))
    .replace(/\{\{\s*password\s*\}\}/g, encodeURIComponent(password));
}

/** Throws a 400 unless the URL is a postgres:// URL with a host. */
export function validateConnectionUrl(template: string): void {
  if (!SCHEME.test(template)) throw badRequest('connection_url: must be a postgres:// or postgresql:// URL');
  let url: URL;
  try {
    url = new URL(buildConnectionString(template, 'u', 'p'));
  } catch {
    throw badRequest('connection_url: is not a valid URL');
  }
  if (url.hostname === '') throw badRequest('connection_url: must name a host');
}

/** The URL with any literal password (userinfo or `password=` parameter) replaced by *****. */
export function maskConnectionUrl(template: string): string {
  const masked = template.replace(/^(postgres(?:ql)?:\/\/[^:@/?#]*):([^@/?#]*)@/i, (all: string, head: string, pw: string) =>
    /^\{\{\s*password\s*\}\}$/.test(pw) ? all : `${head}:${MASK}@`,
  );
  return masked.replace(/([?&]password=)([^&#]*)/gi, (all: string, key: string, pw: string) =>
    /^\{\{\s*password\s*\}\}$/.test(pw) ? all : `${key}${MASK}`,
  );
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
