/** Reads the service account from a token's claims, in the legacy (Secret-based) or the projected format. */
import type { Claims } from '../../lib/jwt-verify.ts';

export interface ServiceAccount {
  namespace: string;
  name: string;
  /** '' when the token does not carry one. */
  uid: string;
  /** Legacy Secret-based token ("kubernetes.io/serviceaccount/…" claims). */
  legacy: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Projected tokens: `"kubernetes.io": {"namespace", "serviceaccount": {"name", "uid"}}`. Legacy tokens:
 * `kubernetes.io/serviceaccount/namespace`, `…/service-account.name`, `…/service-account.uid`.
 * Null when neither names a namespace and a service account.
 */
export function serviceAccountFrom(claims: Claims): ServiceAccount | null {
  const projected = claims['kubernetes.io'];
  let sa: ServiceAccount;
  if (isObject(projected)) {
    const account = isObject(projected.serviceaccount) ? projected.serviceaccount : {};
    sa = { namespace: text(projected.namespace), name: text(account.name), uid: text(account.uid), legacy: false };
  } else {
    sa = {
      namespace: text(claims['kubernetes.io/serviceaccount/namespace']),
      name: text(claims['kubernetes.io/serviceaccount/service-account.name']),
      uid: text(claims['kubernetes.io/serviceaccount/service-account.uid']),
      legacy: true,
    };
  }
  if (sa.namespace === '' || sa.name === '') return null;
  // A token whose subject names another service account is not a service-account token we can trust.
  if (claims.sub !== undefined && claims.sub !== `system:serviceaccount:${sa.namespace}:${sa.name}`) return null;
  return sa;
}
