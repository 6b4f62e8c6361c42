/**
 * Vault's multi-issuer API over sealbox's one CA per mount. The mount's CA is its one issuer, always the default:
 *   issuer_id → a UUID derived from the CA certificate (stable across replicas and restarts; a new CA, a new id)
 *   key_id    → a UUID derived from its public key
 * and its settings (issuer_name, leaf_not_after_behavior, usage, manual_chain, revocation_signature_algorithm,
 * its own AIA/CRL URLs) are kept at `issuer/meta`, for the issuer id they were written for.
 */
import { createHash } from 'node:crypto';
import { badRequest } from '../../lib/errors.ts';
import { checkName } from '../../lib/names.ts';
import type { CaBundle, UrlsConfig } from './model.ts';
import { x509 } from './x509.ts';

export const ISSUER_META_KEY = 'issuer/meta';

export type LeafNotAfterBehavior = 'err' | 'truncate' | 'permit';
export const USAGES = ['crl-signing', 'issuing-certificates', 'ocsp-signing', 'read-only'] as const;

export interface IssuerMeta {
  issuerId: string;
  name: string;
  leafNotAfterBehavior: LeafNotAfterBehavior;
  /** Sorted, always with "read-only". */
  usage: string[];
  manualChain: string[];
  revocationSignatureAlgorithm: string;
  /** The issuer's own AIA and CRL URLs (Vault's issuer-level AIA), used instead of config/urls when set. */
  urls: UrlsConfig | null;
  enableAiaUrlTemplating: boolean;
}

function uuidFrom(tag: string, data: Buffer | string): string {
  const h = createHash('sha256').update(tag).update('\0').update(data).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x40;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export const issuerIdOf = (bundle: CaBundle): string => uuidFrom('sealbox-pki-issuer', bundle.certificate.trim());
export const keyIdOf = (bundle: CaBundle): string =>
  uuidFrom('sealbox-pki-key', Buffer.from(new x509.X509Certificate(bundle.certificate).publicKey.rawData));

export const defaultMeta = (issuerId: string): IssuerMeta => ({
  issuerId,
  name: '',
  leafNotAfterBehavior: 'err',
  usage: [...USAGES],
  manualChain: [],
  revocationSignatureAlgorithm: '',
  urls: null,
  enableAiaUrlTemplating: false,
});

/** The stored settings when they belong to this CA, else the defaults (a new CA starts fresh). */
export function metaFor(bundle: CaBundle, stored: IssuerMeta | null): IssuerMeta {
  const id = issuerIdOf(bundle);
  return stored && stored.issuerId === id ? { ...defaultMeta(id), ...stored } : defaultMeta(id);
}


export function checkIssuerName(name: string): string {
  if (name === '') return name;
  checkName(name, 'issuer_name');
  if (name === 'default') throw badRequest('issuer_name: reserved keyword "default" cannot be used as an issuer name');
  return name;
}

export function checkUsage(list: readonly string[]): string[] {
  for (const u of list) {
    if (!(USAGES as readonly string[]).includes(u)) throw badRequest(`usage: unknown usage "${u.slice(0, 40)}" (known: ${USAGES.join(', ')})`);
  }
  return [...new Set([...list, 'read-only'])].sort();
}

export function checkLeafNotAfterBehavior(v: string): LeafNotAfterBehavior {
  if (v === 'err' || v === 'truncate' || v === 'permit') return v;
  throw badRequest(`leaf_not_after_behavior: must be "err", "truncate" or "permit"`);
}

/** Vault resolves "default", an issuer id, or an issuer name. */
export function refMatches(ref: string, meta: IssuerMeta): boolean {
  return ref === 'default' || ref === meta.issuerId || (meta.name !== '' && ref === meta.name);
}
