/**
 * JWT checks shared by the `jwt` and `kubernetes` auth methods: public keys from PEM, signature
 * verification against static keys or a remote JWKS (jose), and the claim helpers (times, audiences,
 * JSON-pointer claims, Vault's globs). Every check answers a plain boolean or null: the auth methods turn
 * any failure into the one generic login failure.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  compactVerify,
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type CryptoKey,
  type FetchImplementation,
  type FlattenedJWSInput,
  type JWSHeaderParameters,
} from 'jose';
import { z } from 'zod';
import { badRequest } from './errors.ts';

/** Longer JWTs are refused before any parsing. */
export const MAX_JWT_LENGTH = 16 * 1024;

/** Asymmetric algorithms only: an HMAC "key" would be the public key itself. */
export const SUPPORTED_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const MAX_JWKS_BYTES = 1024 * 1024;
const JWKS_TIMEOUT_MS = 5000;

export type Claims = Record<string, unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---- keys ----

/**
 * One PEM public key or X.509 certificate (its public key is used). Private keys are refused: they must
 * never be stored as verification keys.
 */
export function parsePublicKeyPem(pem: string, field: string): KeyObject {
  const text = pem.trim();
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw badRequest(`${field}: expected a public key or certificate, got a private key`);
  try {
    if (text.includes('-----BEGIN CERTIFICATE-----')) return new X509Certificate(text).publicKey;
    const key = createPublicKey(text);
    if (key.type !== 'public') throw new Error('not a public key');
    return key;
  } catch {
    throw badRequest(`${field}: not a PEM-encoded public key or certificate`);
  }
}

/** A list of PEM keys in a request: ["-----BEGIN …", …] or a single PEM string. */
/** Vault's TypeCommaStringSlice: a list, or one string of PEMs separated by commas (a PEM never holds a comma). */
export const pemListField = z.union([z.array(z.string().max(64 * 1024)).max(100), z.string().max(64 * 1024).transform((s) => s.split(','))], {
  error: 'must be a list of PEM-encoded public keys',
});

export function parsePublicKeyPems(pems: readonly string[], field: string): KeyObject[] {
  return pems.map((pem, i) => parsePublicKeyPem(pem, `${field}[${i}]`));
}

// ---- remote JWKS ----

/** Thrown when the key source itself failed (JWKS endpoint down or broken), as opposed to a bad token. */
export class KeySourceError extends Error {}

/** GET with an optional CA bundle, no redirects, a size cap and jose's abort signal; any failure is a KeySourceError. */
function jwksFetch(caPem: string): FetchImplementation {
  return (url, options) =>
    new Promise<Response>((resolve, reject) => {
      const fail = (err: unknown): void => reject(new KeySourceError(err instanceof Error ? err.message : String(err)));
      const target = new URL(url);
      const client = target.protocol === 'https:' ? https : http;
      const req = client.request(
        target,
        {
          method: 'GET',
          headers: Object.fromEntries(options.headers.entries()),
          signal: options.signal,
          ...(caPem && target.protocol === 'https:' ? { ca: caPem } : {}),
        },
        (res) => {
          if (res.statusCode !== 200) {
            res.resume();
            fail(new Error(`HTTP status ${String(res.statusCode)}`));
            return;
          }
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_JWKS_BYTES) req.destroy(new Error(`response is larger than ${MAX_JWKS_BYTES} bytes`));
            else chunks.push(chunk);
          });
          res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: 200 })));
          res.on('error', fail);
        },
      );
      req.on('error', fail);
      req.end();
    });
}

export type KeyGetter = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey | KeyObject>;

/** A cached remote JWKS (jose re-fetches after 10 minutes, or on an unknown `kid` at most every 30 s). */
export function remoteKeySet(url: string, caPem: string): KeyGetter {
  return createRemoteJWKSet(new URL(url), { timeoutDuration: JWKS_TIMEOUT_MS, [customFetch]: jwksFetch(caPem) });
}

/** Fetches the JWKS once (config writes check it as Vault does); throws a 400 saying what is wrong. */
export async function checkJwksUrl(url: string, caPem: string): Promise<void> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw badRequest('jwks_url: not a valid URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw badRequest('jwks_url: must be an http or https URL');
  try {
    const headers = new Headers({ accept: 'application/json, application/jwk-set+json' });
    const res = await jwksFetch(caPem)(parsed.href, { headers, method: 'GET', redirect: 'manual', signal: AbortSignal.timeout(JWKS_TIMEOUT_MS) });
    createLocalJWKSet((await res.json()) as Parameters<typeof createLocalJWKSet>[0]);
  } catch (err) {
    const reason = err instanceof Error ? err.message.slice(0, 200) : 'unknown error';
    throw badRequest(`error checking jwks_url: ${reason}`);
  }
}

// ---- signatures ----

export type KeySource = { kind: 'static'; keys: readonly KeyObject[] } | { kind: 'remote'; getKey: KeyGetter };

const decodePayload = (payload: Uint8Array): Claims | null => {
  try {
    const claims: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    return isObject(claims) ? claims : null;
  } catch {
    return null;
  }
};

async function tryKey(jwt: string, key: CryptoKey | KeyObject, algorithms: readonly string[]): Promise<Claims | null> {
  try {
    return decodePayload((await compactVerify(jwt, key, { algorithms: [...algorithms] })).payload);
  } catch {
    return null;
  }
}

const KEY_SOURCE_CODES = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JWKS_INVALID']);

async function verifyRemote(jwt: string, getKey: KeyGetter, algorithms: readonly string[]): Promise<Claims | null> {
  try {
    return decodePayload((await compactVerify(jwt, getKey, { algorithms: [...algorithms] })).payload);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS' && Symbol.asyncIterator in (err as object)) {
      for await (const key of err as AsyncIterable<CryptoKey>) {
        const claims = await tryKey(jwt, key, algorithms);
        if (claims) return claims;
      }
      return null;
    }
    const sourceFailed =
      err instanceof KeySourceError ||
      (typeof code === 'string' && KEY_SOURCE_CODES.has(code)) ||
      (code === 'ERR_JOSE_GENERIC' && err instanceof Error && err.message.includes('JSON Web Key Set'));
    if (sourceFailed) throw new KeySourceError(err instanceof Error ? err.message : 'JWKS unavailable');
    return null;
  }
}

/**
 * The token's claims if its signature verifies with one of the keys and an allowed algorithm, else null.
 * Throws KeySourceError only when a remote JWKS could not be fetched.
 */
export async function verifySignature(jwt: string, source: KeySource, algorithms: readonly string[]): Promise<Claims | null> {
  if (jwt.length === 0 || jwt.length > MAX_JWT_LENGTH) return null;
  if (source.kind === 'remote') return verifyRemote(jwt, source.getKey, algorithms);
  for (const key of source.keys) {
    const claims = await tryKey(jwt, key, algorithms);
    if (claims) return claims;
  }
  return null;
}

// ---- claims ----

export interface TimeRules {
  /** Seconds of clock skew allowed on exp, nbf and iat. */
  clockSkew: number;
  /**
   * Vault's jwt rules: at least one of iat, nbf, exp is required; a missing exp is the latest of iat/nbf
   * plus `expirationLeeway`, a missing nbf is iat, or else exp minus `notBeforeLeeway`.
   */
  synthesize?: { expirationLeeway: number; notBeforeLeeway: number };
}

/** Whether exp, nbf and iat allow the token at `nowSeconds`. A time claim that is not a number fails. */
export function timesValid(claims: Claims, nowSeconds: number, rules: TimeRules): boolean {
  const read = (name: string): number | undefined | null => {
    const v = claims[name];
    if (v === undefined) return undefined;
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  };
  const iat = read('iat');
  let nbf = read('nbf');
  let exp = read('exp');
  if (iat === null || nbf === null || exp === null) return false;
  if (rules.synthesize) {
    if (iat === undefined && nbf === undefined && exp === undefined) return false;
    if (exp === undefined) exp = Math.max(iat ?? 0, nbf ?? 0) + rules.synthesize.expirationLeeway;
    if (nbf === undefined) nbf = iat ?? exp - rules.synthesize.notBeforeLeeway;
  }
  if (exp !== undefined && nowSeconds - rules.clockSkew > exp) return false;
  if (nbf !== undefined && nowSeconds + rules.clockSkew < nbf) return false;
  if (iat !== undefined && nowSeconds + rules.clockSkew < iat) return false;
  return true;
}

/** Vault's leeway fields: negative disables the leeway, 0 means the default. */
export const effectiveLeeway = (value: number, fallback: number): number => (value < 0 ? 0 : value === 0 ? fallback : value);

/** The `aud` claim as a list (a string or a list of strings); null when it is malformed. */
export function audiences(claims: Claims): string[] | null {
  const aud = claims.aud;
  if (aud === undefined) return [];
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a): a is string => typeof a === 'string')) return aud;
  return null;
}

/** A claim by name, or by RFC 6901 JSON pointer when the name starts with "/" (Vault's rule). */
export function getClaim(claims: Claims, name: string): unknown {
  if (!name.startsWith('/')) return Object.hasOwn(claims, name) ? claims[name] : undefined;
  let current: unknown = claims;
  for (const raw of name.slice(1).split('/')) {
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      if (!/^(0|[1-9]\d*)$/.test(token)) return undefined;
      current = current[Number(token)];
    } else if (isObject(current)) {
      current = Object.hasOwn(current, token) ? current[token] : undefined;
    } else {
      return undefined;
    }
  }
  return current;
}

/** Strings, numbers and booleans as strings (Vault's normalizeValue); anything else is null. */
export function claimString(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return null;
}

/** Vault's glob: `*` matches any run of characters (including none); everything else is literal. */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes('*')) return pattern === value;
  const parts = pattern.split('*');
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (!value.startsWith(first) || value.length < first.length + last.length || !value.endsWith(last)) return false;
  let at = first.length;
  const end = value.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = value.indexOf(part, at);
    if (found < 0 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** Whether `value` matches one of the patterns (exact, or Vault globs). */
export const matchesAny = (patterns: readonly string[], value: string): boolean => patterns.some((p) => globMatch(p, value));
