/**
 * The issuing CA as the engine uses it: the stored bundle, its parsed certificate and its imported signing key.
 * Importing a key costs more than signing with it, so the last one is kept with what its leaves share (LeafSigner),
 * keyed by a hash of the stored key, certificate and parents: every request still reads the bundle from storage, so
 * a new CA (rotation, a new root or intermediate, on this replica or another) is used from the next request on.
 */
import type { Algorithm, CryptoKey, EcdsaParams } from './x509.ts';
import { createHash } from 'node:crypto';
import { badRequest } from '../../lib/errors.ts';
import { authorityKeyId } from './certificate.ts';
import { createLeafSigner, type LeafSigner } from './leaf-der.ts';
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
  /** The same chain as base64 DER (format "der" answers). */
  chainDer: string[];
  /** What its leaves share, encoded once (leaf-der.ts). */
  leaf: LeafSigner;
}

export const NO_CA = 'no default issuer currently configured: generate a root with root/generate/internal or import a signed intermediate with intermediate/set-signed';

export function createIssuerCache(): { issuer(bundle: CaBundle | null): Promise<Issuer> } {
  let cached: { id: string; issuer: Issuer } | null = null;
  return {
    async issuer(bundle) {
      if (!bundle) throw badRequest(NO_CA);
      const id = createHash('sha256').update(bundle.privateKey).update('\0').update(bundle.certificate).update('\0').update(bundle.parents.join('')).digest('hex');
      if (cached?.id === id) return cached.issuer;
      const cert = new x509.X509Certificate(bundle.certificate);
      const pkcs8 = Buffer.from(bundle.privateKey, 'base64');
      const chain = [bundle.certificate, ...bundle.parents];
      const issuer: Issuer = {
        bundle,
        cert,
        signingKey: await importSigningKey(pkcs8, bundle.key),
        signingAlgorithm: signingAlgorithm(bundle.key),
        chain,
        chainDer: chain.map((pem) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '')),
        leaf: createLeafSigner(cert, bundle.key, pkcs8, await authorityKeyId(cert)),
      };
      cached = { id, issuer };
      return issuer;
    },
  };
}

export type IssuerCache = ReturnType<typeof createIssuerCache>;

/** The algorithm a key of `spec` signs with (for self-signed roots, before a bundle exists). */
export const algorithmFor = (spec: KeySpec): Algorithm | EcdsaParams => signingAlgorithm(spec);
