/**
 * The PKI engine's stored model. Everything lives in the mount's barrier-encrypted storage:
 *
 *   ca/bundle       → CaBundle: the issuing CA (certificate, its parents, its private key as PKCS #8)
 *   ca/pending      → PendingKey: the key of an intermediate CSR awaiting `intermediate/set-signed`
 *   ca/next, ca/previous → CaBundle: the issuer a rotation installs, and the one it replaced (rotation.ts)
 *   config/urls     → UrlsConfig          config/crl → CrlConfig
 *   role/<name>     → Role (role.ts)
 *   certs/<serial>  → StoredCert (serial as "1f-0a-…"); leaf private keys are never stored
 *   revoked/<serial>→ RevokedEntry
 *   crl/current     → StoredCrl: the signed CRL, rebuilt on revoke and when past its refresh point
 */
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Random } from '../../lib/random.ts';
import type { EngineStorage, MountTtl, StorageView } from '../../core/engine.ts';
import type { KeySpec } from './keys.ts';

export interface PkiDeps {
  storage: EngineStorage;
  clock: Clock;
  random: Random;
  log: Logger;
  /** The mount's lease lifetimes (the TTL service): its maxTtl() caps a role without max_ttl, and is a CA's default ttl. */
  ttl: MountTtl;
}

export interface CaBundle {
  /** PEM of the CA certificate. */
  certificate: string;
  /** PEM of its parents, nearest first (empty for a root). */
  parents: string[];
  key: KeySpec;
  /** Base64 PKCS #8. */
  privateKey: string;
  serial: string;
  notAfter: string;
  /**
   * Set on a root installed by issuer rotation, whose `parents` is its cross-signed copy (signed by the old root):
   * ca_chain then lists the cross-signed copy first, so that chain builders trusting only the old root (OpenSSL
   * takes the first matching untrusted issuer) do not stop at the new self-signed root.
   */
  crossSigned?: boolean;
  /**
   * The mount's issuer generation (issue 20): 1 for a root or intermediate installed by hand, one more for each issuer
   * rotation. It is the version consumers acknowledge at cert/ca_chain (absent: 1).
   */
  generation?: number;
  /** Set on the previous issuer (ca/previous) once the rotation's retire step retired it: it signs only its CRL. */
  retiredAt?: string;
}

export interface PendingKey {
  key: KeySpec;
  privateKey: string;
  createdAt: string;
}

export interface UrlsConfig {
  issuingCertificates: string[];
  crlDistributionPoints: string[];
  ocspServers: string[];
  /** Vault's enable_templating: stored and read back; sealbox does not expand {{cluster_path}} templates. */
  enableTemplating?: boolean;
}

export interface CrlConfig {
  /** Seconds from a CRL's thisUpdate to its nextUpdate. */
  expiry: number;
  /** Seconds before nextUpdate at which a fetch (or the scheduled job) rebuilds the CRL. */
  autoRebuildGracePeriod: number;
  /** Vault's `disable`: the CRL is still signed and served, with no entries. */
  disable?: boolean;
  /**
   * The rest of Vault's config/crl fields, stored and read back as written (durations as the strings given, so that
   * Terraform sees no drift). sealbox has no OCSP responder and no delta or unified CRLs: they change nothing here.
   */
  echo?: Record<string, string | boolean | number>;
}

export interface StoredCert {
  certificate: string;
  notAfter: string;
  /** Unix seconds; absent while not revoked. */
  revocationTime?: number;
}

export interface RevokedEntry {
  serial: string;
  revocationTime: number;
  notAfter: string;
}

export interface StoredCrl {
  /** Base64 DER. */
  der: string;
  thisUpdate: string;
  nextUpdate: string;
  number: number;
  /** The CA (by serial) that signed it: a new CA means a new CRL. */
  caSerial: string;
}

export const CA_KEY = 'ca/bundle';
export const PENDING_KEY = 'ca/pending';
export const URLS_KEY = 'config/urls';
export const CRL_CONFIG_KEY = 'config/crl';
export const CRL_KEY = 'crl/current';
export const certKey = (serial: string): string => `certs/${serial}`;
export const revokedKey = (serial: string): string => `revoked/${serial}`;

export const DEFAULT_URLS: UrlsConfig = Object.freeze({ issuingCertificates: [], crlDistributionPoints: [], ocspServers: [] });
export const DEFAULT_CRL_CONFIG: CrlConfig = Object.freeze({ expiry: 72 * 3600, autoRebuildGracePeriod: 12 * 3600 });

export const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
export function decode<T>(raw: Buffer | null | undefined): T | null {
  return raw ? (JSON.parse(raw.toString('utf8')) as T) : null;
}

export async function loadJson<T>(s: StorageView, key: string): Promise<T | null> {
  return decode<T>(await s.get(key));
}

export const unix = (d: Date): number => Math.floor(d.getTime() / 1000);

export const roleKey = (name: string): string => `role/${name}`;
