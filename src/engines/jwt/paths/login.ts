/** login (unauthenticated): verifies a JWT against the config's keys and the role's bindings. */
import { z } from 'zod';
import { badRequest, loginFailed, type AppError } from '../../../lib/errors.ts';
import {
  claimString,
  getClaim,
  KeySourceError,
  MAX_JWT_LENGTH,
  parsePublicKeyPems,
  remoteKeySet,
  SUPPORTED_ALGS,
  verifySignature,
  type Claims,
  type KeySource,
} from '../../../lib/jwt-verify.ts';
import { loginTokenFields } from '../../../lib/role-token-fields.ts';
import type { Logger } from '../../../lib/log.ts';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { claimsProblem, mappedMetadata } from '../claims.ts';
import { CONFIG_KEY, decodeConfig, decodeRole, isRoleName, roleKey, userClaimIsPointer, type JwtConfig, type JwtDeps, type JwtRole } from '../model.ts';

const loginInput = z.object({
  role: z.string({ error: 'must be a string' }).max(1024).optional(),
  jwt: z.string({ error: 'must be a string' }).optional(),
});

export interface JwtLoginDeps extends JwtDeps {
  log: Logger;
  now: () => Date;
}

/** One key source per engine instance, rebuilt when the config's keys change (the JWKS stays cached in between). */
function createKeySourceCache(): (config: JwtConfig) => KeySource {
  let cached: { id: string; source: KeySource } | null = null;
  return (config) => {
    const id = JSON.stringify([config.jwtValidationPubkeys, config.jwksUrl, config.jwksCaPem]);
    if (cached?.id !== id) {
      const source: KeySource = config.jwksUrl
        ? { kind: 'remote', getKey: remoteKeySet(config.jwksUrl, config.jwksCaPem) }
        : { kind: 'static', keys: parsePublicKeyPems(config.jwtValidationPubkeys, 'jwt_validation_pubkeys') };
      cached = { id, source };
    }
    return cached.source;
  };
}

async function loadConfigAndRole(deps: JwtDeps, requested: string): Promise<{ config: JwtConfig | null; role: JwtRole | null; name: string }> {
  const name = requested.toLowerCase();
  if (name !== '') {
    if (!isRoleName(name)) return { config: decodeConfig(await deps.storage.get(CONFIG_KEY)), role: null, name };
    const found = await deps.storage.getMany([CONFIG_KEY, roleKey(name)]);
    return { config: decodeConfig(found.get(CONFIG_KEY)), role: decodeRole(found.get(roleKey(name))), name };
  }
  const config = decodeConfig(await deps.storage.get(CONFIG_KEY));
  if (!config || config.defaultRole === '') throw badRequest('missing role');
  return { config, role: decodeRole(await deps.storage.get(roleKey(config.defaultRole))), name: config.defaultRole };
}

export function createLoginPaths(deps: JwtLoginDeps): PathDef[] {
  const keySource = createKeySourceCache();
  const refuse = (role: string, reason: string): AppError => {
    deps.log.info({ role: role.slice(0, 128), reason }, 'jwt login refused');
    return loginFailed();
  };

  async function login(input: z.output<typeof loginInput>): Promise<EngineResponse> {
    const jwt = (input.jwt ?? '').trim();
    if (jwt === '') throw badRequest('missing jwt');
    if (jwt.length > MAX_JWT_LENGTH) throw refuse(input.role ?? '', `jwt is longer than ${MAX_JWT_LENGTH} characters`);
    const { config, role, name } = await loadConfigAndRole(deps, input.role ?? '');
    if (!config) throw refuse(name, 'the auth method is not configured');
    if (!role) throw refuse(name, 'unknown role');

    let claims: Claims | null;
    try {
      claims = await verifySignature(jwt, keySource(config), config.jwtSupportedAlgs.length > 0 ? config.jwtSupportedAlgs : SUPPORTED_ALGS);
    } catch (err) {
      if (!(err instanceof KeySourceError)) throw err;
      deps.log.error({ jwks_url: config.jwksUrl, err: err.message }, 'jwt login: could not fetch the JWKS');
      throw loginFailed();
    }
    if (!claims) throw refuse(name, 'no configured key verified the signature');

    const user = claimString(userClaimIsPointer(role) ? getClaim(claims, role.userClaim) : Object.hasOwn(claims, role.userClaim) ? claims[role.userClaim] : undefined);
    const nowSeconds = Math.floor(deps.now().getTime() / 1000);
    const problem = user ? claimsProblem(config, role, claims, nowSeconds) : `claim "${role.userClaim}" is missing or not a string`;
    const metadata = problem === null ? mappedMetadata(role, claims) : null;
    if (problem !== null || metadata === null || !user) {
      throw refuse(name, problem ?? 'a claim_mappings claim is not a string');
    }
    return {
      login: {
        ...loginTokenFields(role.token),
        displayName: `jwt-${user}`,
        alias: { name: user, metadata: { role: name, ...metadata } },
      },
    };
  }

  return [{ pattern: 'login', unauthenticated: true, operations: { update: op(loginInput, async ({ input }) => login(input)) } }];
}
