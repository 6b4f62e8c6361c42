/**
 * Client-certificate chain verification with node:crypto: the leaf, optionally through intermediates the client
 * presented, must chain to one of an entry's trusted certificates (or be one of them), with every certificate on the
 * way within its validity period and allowed for TLS client authentication.
 */
import type { X509Certificate } from 'node:crypto';

const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const EKU_ANY = '2.5.29.37.0';
/** Longest chain followed through presented intermediates. */
const MAX_DEPTH = 8;

/** True when the certificate has no extended key usage, or one that allows TLS client authentication. */
export function hasClientAuthUsage(cert: X509Certificate): boolean {
  // node:crypto's `keyUsage` is the extended key usage OID list (undefined when the extension is absent).
  const eku: readonly string[] | undefined = cert.keyUsage;
  return eku === undefined || eku.includes(EKU_CLIENT_AUTH) || eku.includes(EKU_ANY);
}

export function withinValidity(cert: X509Certificate, now: Date): boolean {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const t = now.getTime();
  return Number.isFinite(from) && Number.isFinite(to) && from <= t && t <= to;
}

/** Whether `issuer` (a CA) issued and signed `cert`. */
function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  if (!issuer.ca || !cert.checkIssued(issuer)) return false;
  try {
    return cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

const same = (a: X509Certificate, b: X509Certificate): boolean => a.raw.equals(b.raw);

/**
 * True when `leaf` is trusted through `anchors`: it is an anchor itself, or a chain leaf → presented
 * intermediates → anchor verifies, each link signed by a CA certificate and every certificate valid at `now`.
 */
export function chainsToAnchor(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  now: Date,
): boolean {
  if (!withinValidity(leaf, now) || !hasClientAuthUsage(leaf)) return false;
  const used = new Set<X509Certificate>();
  let current = leaf;
  for (let depth = 0; depth <= MAX_DEPTH; depth++) {
    if (anchors.some((a) => same(a, current))) return true;
    if (anchors.some((a) => withinValidity(a, now) && signedBy(current, a))) return true;
    const next = intermediates.find(
      (i) => !used.has(i) && !same(i, current) && withinValidity(i, now) && hasClientAuthUsage(i) && signedBy(current, i),
    );
    if (!next) return false;
    used.add(next);
    current = next;
  }
  return false;
}
