/** The role's claim checks for a JWT whose signature already verified (Vault's jwt login rules). */
import { audiences, claimString, effectiveLeeway, getClaim, globMatch, timesValid, type Claims } from '../../lib/jwt-verify.ts';
import { DEFAULT_CLAIM_LEEWAY, DEFAULT_CLOCK_SKEW, type BoundClaimValue, type JwtConfig, type JwtRole } from './model.ts';

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Every bound claim must be present and match one of its values (exactly, or as a glob). */
function boundClaimsMatch(role: JwtRole, claims: Claims): boolean {
  return Object.entries(role.boundClaims).every(([name, expected]) => {
    const actual = getClaim(claims, name);
    if (actual === undefined || actual === null) return false;
    const actualValues = (Array.isArray(actual) ? actual : [actual]).map(claimString).filter((v): v is string => v !== null);
    return asList<BoundClaimValue>(expected).some((exp) => {
      const want = String(exp);
      return actualValues.some((got) => (role.boundClaimsType === 'glob' ? globMatch(want, got) : got === want));
    });
  });
}

/** Why the claims are refused, for the operator's log; null when they pass. */
export function claimsProblem(config: JwtConfig, role: JwtRole, claims: Claims, nowSeconds: number): string | null {
  if (config.boundIssuer !== '' && claims.iss !== config.boundIssuer) return 'issuer does not match bound_issuer';
  const timesOk = timesValid(claims, nowSeconds, {
    clockSkew: effectiveLeeway(role.clockSkewLeeway, DEFAULT_CLOCK_SKEW),
    synthesize: {
      expirationLeeway: effectiveLeeway(role.expirationLeeway, DEFAULT_CLAIM_LEEWAY),
      notBeforeLeeway: effectiveLeeway(role.notBeforeLeeway, DEFAULT_CLAIM_LEEWAY),
    },
  });
  if (!timesOk) return 'token is expired, not yet valid, or has no usable exp/nbf/iat';
  const aud = audiences(claims);
  if (aud === null) return 'malformed aud claim';
  if (role.boundAudiences.length === 0 && aud.length > 0) return 'audience claim found in JWT but no audiences bound to the role';
  if (role.boundAudiences.length > 0 && !role.boundAudiences.some((a) => aud.includes(a))) return 'aud claim does not match any bound audience';
  if (role.boundSubject !== '' && claims.sub !== role.boundSubject) return 'sub claim does not match bound subject';
  if (!boundClaimsMatch(role, claims)) return 'claims do not match bound_claims';
  return null;
}

/** claim_mappings → metadata; a mapped claim that is not a string, number or boolean fails the login (Vault). */
export function mappedMetadata(role: JwtRole, claims: Claims): Record<string, string> | null {
  const metadata: Record<string, string> = {};
  for (const [claim, key] of Object.entries(role.claimMappings)) {
    const value = getClaim(claims, claim);
    if (value === undefined || value === null) continue;
    const text = claimString(value);
    if (text === null) return null;
    metadata[key] = text;
  }
  return metadata;
}
