/**
 * The retire step of an issuer rotation (issue 20). Consumers of a PKI mount's trust (trust bundles, agents, cert-manager
 * trust distribution) acknowledge the chain they applied at `<mount>/cert/ca_chain`, whose `version` is the mount's
 * issuer generation (1 for the first root, one more per rotation). After `finish`, the previous issuer keeps signing
 * leaves through `issuer/previous/{issue,sign}/:role` until every live consumer acknowledged the new generation or
 * the grace ended; then it is retired: it refuses to sign leaves but keeps signing its CRL (issuer/previous/crl) so
 * that what it issued can be checked for revocation until it expires.
 *
 * The previous issuer signs a leaf only while BOTH hold: it is not marked retired in ca/previous (barrier-encrypted),
 * and the rotation is in its retire step for exactly this pair of issuers with its sealed deadline ahead. The deadline
 * comes from the run's sealed pending value (RotationRegistry.inFlight), so moving the rotation row's columns by SQL
 * cannot extend it.
 */
import type { RotationRegistry, StorageView } from '../../core/engine.ts';
import { badRequest } from '../../lib/errors.ts';
import { issuerIdOf } from './issuer-meta.ts';
import { CA_KEY, decode, encode, type CaBundle, type PkiDeps } from './model.ts';

export const CHAIN_CONSUMER_PATH = 'cert/ca_chain';
/** Kept here (not in rotation.ts) so that rotation.ts and the issue paths share them without a cycle. */
export const PREVIOUS_CA_KEY = 'ca/previous';
export const PREVIOUS_REF = 'previous';

/** The issuer generation a bundle carries (bundles from before generations were numbered count as 1). */
export const generationOf = (b: CaBundle): number => b.generation ?? 1;

/** cert/ca_chain → the current issuer generation, for acknowledgements; null for any other path or without a CA. */
export async function chainVersion(s: StorageView, path: string): Promise<number | null> {
  if (path !== CHAIN_CONSUMER_PATH) return null;
  const bundle = decode<CaBundle>(await s.get(CA_KEY));
  return bundle ? generationOf(bundle) : null;
}

/** The pending value's fields the signing check compares (see rotation.ts's Pending). */
interface RotationPair {
  serial: string;
  replaces: string;
}

function pairOf(pending: Readonly<Record<string, unknown>>): RotationPair | null {
  const bundle = pending.bundle as { serial?: unknown } | undefined;
  return typeof bundle?.serial === 'string' && typeof pending.replaces === 'string' ? { serial: bundle.serial, replaces: pending.replaces } : null;
}

export type RetireDeps = Pick<PkiDeps, 'storage' | 'clock'> & { rotations: Pick<RotationRegistry, 'inFlight'>; kind: string; target: string };

/** "previous" or the previous issuer's id. */
export const isPreviousRef = (ref: string, previous: CaBundle | null): boolean => ref === PREVIOUS_REF || (previous !== null && ref === issuerIdOf(previous));

/**
 * The previous issuer, if it may still sign a leaf now; otherwise a 400 that says it was retired (or that there is
 * none). Only the CRL of a retired issuer is still signed (previousIssuerCrl).
 */
export async function previousSigner(deps: RetireDeps): Promise<CaBundle> {
  const found = await deps.storage.getMany([CA_KEY, PREVIOUS_CA_KEY]);
  const previous = decode<CaBundle>(found.get(PREVIOUS_CA_KEY));
  const current = decode<CaBundle>(found.get(CA_KEY));
  if (!previous || !current) throw badRequest('this mount has no previous issuer: it has not rotated its issuer');
  const id = issuerIdOf(previous);
  const now = deps.clock.now();
  const crl = 'its CRL is still served at issuer/previous/crl';
  if (previous.retiredAt) throw badRequest(`issuer ${id} (the previous issuer) was retired at ${previous.retiredAt}: it no longer signs certificates; ${crl}`);
  if (Date.parse(previous.notAfter) <= now.getTime()) throw badRequest(`issuer ${id} (the previous issuer) has expired`);
  const flight = await deps.rotations.inFlight?.(deps.kind, deps.target);
  const pair = flight ? pairOf(flight.pending) : null;
  const overlap =
    flight?.step === 'retire' && pair?.serial === current.serial && pair.replaces === previous.serial && flight.retireAt !== null && flight.retireAt.getTime() > now.getTime();
  if (!overlap) throw badRequest(`issuer ${id} (the previous issuer) was retired when its rotation's retire step ended: it no longer signs certificates; ${crl}`);
  return previous;
}

/**
 * The retire step's action: marks ca/previous retired when it is still the issuer this run replaced. Idempotent (a
 * resumed step finds it marked, or finds a later rotation's previous issuer and leaves it alone).
 */
export async function retirePreviousIssuer(deps: Pick<PkiDeps, 'storage' | 'clock' | 'log'>, replaces: string): Promise<void> {
  // Under the CA lock, as every other writer of ca/previous (finish, root/generate, DELETE root).
  await deps.storage.locked(CA_KEY, async (s) => {
    const previous = decode<CaBundle>(await s.get(PREVIOUS_CA_KEY));
    if (!previous || previous.serial !== replaces || previous.retiredAt) return;
    await s.put(PREVIOUS_CA_KEY, encode({ ...previous, retiredAt: deps.clock.now().toISOString() } satisfies CaBundle));
    deps.log.info({ serial: previous.serial }, 'pki previous issuer retired: it signs only its CRL now');
  });
}
