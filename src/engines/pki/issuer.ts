/**
 * The issuing CA as the engine uses it: the stored bundle, its parsed certificate and its imported signing key.
 * Importing a key costs more than signing with it, so the last one is kept, keyed by a hash of the stored key;
 * every request still reads the bundle from storage, so replicas see a new CA at once.
 */
import type { Algorithm, CryptoKey, EcdsaParams } from './x509.ts';
import { createHash } from 'node:crypto';
import { badRequest } from '../../lib/errors.ts';
import { importSigningKey, signingAlgorithm, type KeySpec } from './keys.ts';
import type { CaBundle } from './model.ts';
import { x509 } from './x509.ts';

export interface Issuer {
  bundle: CaBundle;
  cert: x509.X509Certificate;
  signingKey: CryptoKey;
  signingAlgorithm: Algorithm | EcdsaParams;
  /** The CA certificate and its parents, nearest first, as PEM. */
  chain: string[];
}

export const NO_CA = 'no default issuer currently configured: generate a root with root/generate/internal or import a signed intermediate with intermediate/set-signed';

export function createIssuerCache(): { issuer(bundle: CaBundle | null): Promise<Issuer> } {
  let cached: { id: string; issuer: Issuer } | null = null;
  return {
    async issuer(bundle) {
      if (!bundle) throw badRequest(NO_CA);
      const id = createHash('sha256').update(bundle.privateKey).update('\0').update(bundle.certificate).update('\0').update(bundle.parents.join('')).digest('hex');
      if (cached?.id === id) return cached.issuer;
      const issuer: Issuer = {
        bundle,
        cert: new x509.X509Certificate(bundle.certificate),
        signingKey: await importSigningKey(Buffer.from(bundle.privateKey, 'base64'), bundle.key),
        signingAlgorithm: signingAlgorithm(bundle.key),
        chain: [bundle.certificate, ...bundle.parents],
      };
      cached = { id, issuer };
      return issuer;
    },
  };
}

export type IssuerCache = ReturnType<typeof createIssuerCache>;

/** The algorithm a key of `spec` signs with (for self-signed roots, before a bundle exists). */
export const algorithmFor = (spec: KeySpec): Algorithm | EcdsaParams => signingAlgorithm(spec);
