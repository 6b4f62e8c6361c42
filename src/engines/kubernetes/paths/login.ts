/**
 * login (unauthenticated): a service-account JWT, verified locally with pem_keys, or (without pem_keys) read, matched
 * against the role's bindings and then checked by the Kubernetes API with a TokenReview, as Vault does.
 */
import { z } from 'zod';
import { badRequest, loginFailed, type AppError } from '../../../lib/errors.ts';
import { audiences, MAX_JWT_LENGTH, matchesAny, parsePublicKeyPems, SUPPORTED_ALGS, timesValid, verifySignature, type Claims, type KeySource } from '../../../lib/jwt-verify.ts';
import { loginTokenFields } from '../../../lib/role-token-fields.ts';
import type { Logger } from '../../../lib/log.ts';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import {
  CLOCK_SKEW,
  CONFIG_KEY,
  decodeConfig,
  decodeRole,
  isRoleName,
  issValidationDisabled,
  LEGACY_ISSUER,
  roleKey,
  type K8sConfig,
  type K8sDeps,
  type K8sRole,
} from '../model.ts';
import { serviceAccountFrom, type ServiceAccount } from '../service-account.ts';
import type { LocalCredentials } from '../local-credentials.ts';
import { reviewToken } from '../token-review.ts';

const loginInput = z.object({
  role: z.string({ error: 'must be a string' }).max(1024).optional(),
  jwt: z.string({ error: 'must be a string' }).optional(),
});

export interface K8sLoginDeps extends K8sDeps {
  log: Logger;
  now: () => Date;
  local: LocalCredentials;
}

const b64json = (part: string): unknown => {
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
};

/** The claims of a JWT whose signature the Kubernetes API will judge (TokenReview); null when it is not a JWT. */
export function unverifiedClaims(jwt: string): Claims | null {
  const parts = jwt.split('.');
  if (parts.length !== 3) return null;
  const header = b64json(parts[0] ?? '');
  const claims = b64json(parts[1] ?? '');
  const alg = typeof header === 'object' && header !== null ? (header as { alg?: unknown }).alg : undefined;
  if (typeof alg !== 'string' || !(SUPPORTED_ALGS as readonly string[]).includes(alg)) return null;
  return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? (claims as Claims) : null;
}

function createKeySourceCache(): (config: K8sConfig) => KeySource {
  let cached: { id: string; source: KeySource } | null = null;
  return (config) => {
    const id = JSON.stringify(config.pemKeys);
    if (cached?.id !== id) cached = { id, source: { kind: 'static', keys: parsePublicKeyPems(config.pemKeys, 'pem_keys') } };
    return cached.source;
  };
}

/**
 * Issuer rule: disable_iss_validation skips it; a configured issuer is required (legacy tokens may also
 * carry the fixed legacy issuer); with neither, any issuer is accepted (Vault's default).
 */
function issuerOk(config: K8sConfig, sa: ServiceAccount, claims: Claims): boolean {
  if (issValidationDisabled(config)) return true;
  const expected = config.issuer === '' ? LEGACY_ISSUER : config.issuer;
  return claims.iss === expected || (sa.legacy && claims.iss === LEGACY_ISSUER);
}

/** Why the token is refused, for the operator's log; null when it passes. */
function problem(config: K8sConfig, role: K8sRole, sa: ServiceAccount, claims: Claims, nowSeconds: number): string | null {
  if (!timesValid(claims, nowSeconds, { clockSkew: CLOCK_SKEW })) return 'token is expired or not yet valid';
  if (!issuerOk(config, sa, claims)) return 'issuer does not match';
  if (role.audience !== '' && !(audiences(claims) ?? []).includes(role.audience)) return 'aud claim does not include the role audience';
  if (!matchesAny(role.boundServiceAccountNamespaces, sa.namespace)) return 'namespace not authorized';
  if (!matchesAny(role.boundServiceAccountNames, sa.name)) return 'service account name not authorized';
  if (role.aliasNameSource === 'serviceaccount_uid' && sa.uid === '') return 'token has no service account uid';
  return null;
}

export function createLoginPaths(deps: K8sLoginDeps): PathDef[] {
  const keySource = createKeySourceCache();
  const refuse = (role: string, reason: string): AppError => {
    deps.log.info({ role: role.slice(0, 128), reason }, 'kubernetes login refused');
    return loginFailed();
  };

  /** Vault's serviceAccount.lookup: TokenReview, then the reviewed account must be the JWT's. Null when it passes. */
  async function review(config: K8sConfig, role: K8sRole, sa: ServiceAccount, jwt: string, claims: Claims): Promise<string | null> {
    const useLocal = !config.disableLocalCaJwt;
    const reviewer = config.tokenReviewerJwt || (useLocal ? await deps.local.jwt() : '');
    const caCert = config.kubernetesCaCert || (useLocal ? await deps.local.caCert() : '');
    const result = await reviewToken({
      host: config.kubernetesHost,
      caCert,
      bearer: reviewer || jwt,
      jwt,
      audiences: role.audience !== '' ? [role.audience] : (audiences(claims) ?? []),
    });
    if (result.kind === 'refused') return result.reason;
    if (result.name !== sa.name) return 'JWT names did not match';
    if (result.uid !== sa.uid) return 'JWT UIDs did not match';
    if (result.namespace !== sa.namespace) return 'JWT namespaces did not match';
    return null;
  }

  async function login(input: z.output<typeof loginInput>): Promise<EngineResponse> {
    const jwt = (input.jwt ?? '').trim();
    const name = input.role ?? '';
    if (name === '') throw badRequest('missing role');
    if (jwt === '') throw badRequest('missing jwt');
    if (jwt.length > MAX_JWT_LENGTH) throw refuse(name, `jwt is longer than ${MAX_JWT_LENGTH} characters`);
    if (!isRoleName(name)) throw refuse(name, 'unknown role');
    const found = await deps.storage.getMany([CONFIG_KEY, roleKey(name)]);
    const config = decodeConfig(found.get(CONFIG_KEY));
    const role = decodeRole(found.get(roleKey(name)));
    if (!config) throw refuse(name, 'the auth method is not configured');
    if (!role) throw refuse(name, 'unknown role');

    const local = config.pemKeys.length > 0;
    const claims = local ? await verifySignature(jwt, keySource(config), SUPPORTED_ALGS) : unverifiedClaims(jwt);
    if (!claims) throw refuse(name, local ? 'no pem_keys key verified the signature' : 'not a JWT');
    const sa = serviceAccountFrom(claims);
    if (!sa) throw refuse(name, 'not a service-account token');

    const why = problem(config, role, sa, claims, Math.floor(deps.now().getTime() / 1000));
    if (why !== null) {
      throw refuse(name, why);
    }
    if (!local) {
      const mismatch = await review(config, role, sa, jwt, claims);
      if (mismatch !== null) throw refuse(name, mismatch);
    }
    return {
      login: {
        ...loginTokenFields(role.token),
        displayName: `kubernetes-${sa.namespace}-${sa.name}`,
        alias: {
          name: role.aliasNameSource === 'serviceaccount_name' ? `${sa.namespace}/${sa.name}` : sa.uid,
          metadata: {
            service_account_name: sa.name,
            service_account_namespace: sa.namespace,
            service_account_uid: sa.uid,
            role: name,
          },
        },
      },
    };
  }

  return [{ pattern: 'login', unauthenticated: true, operations: { update: op(loginInput, async ({ input }) => login(input)) } }];
}
