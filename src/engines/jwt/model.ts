/**
 * jwt auth method: stored model, storage keys and the conversions to Vault's wire shape.
 *
 *   config       → JwtConfig (JSON)
 *   role/<name>  → JwtRole (JSON); role names are lower-cased, as in Vault.
 */
import { checkName, isName } from '../../lib/names.ts';
import { z } from 'zod';
import { decodeJson } from '../../lib/stored-json.ts';
import { DEFAULT_TOKEN_SETTINGS, tokenSettingsSchema, tokenSettingsWire, type TokenSettings } from '../../lib/role-token-fields.ts';
import type { EngineStorage } from '../../core/engine.ts';

export interface JwtConfig {
  jwtValidationPubkeys: string[];
  jwksUrl: string;
  jwksCaPem: string;
  boundIssuer: string;
  /** Empty: every supported asymmetric algorithm. */
  jwtSupportedAlgs: string[];
  defaultRole: string;
  /** OIDC-only (the state parameter); kept so a read returns what was written. Absent in older configs: Vault's default, true. */
  namespaceInState?: boolean;
}

export type BoundClaimValue = string | number | boolean;

export interface JwtRole {
  roleType: 'jwt';
  boundAudiences: string[];
  userClaim: string;
  /** Vault's user_claim_json_pointer; absent in roles stored before it existed (then: a pointer when it starts with "/"). */
  userClaimJsonPointer?: boolean;
  boundSubject: string;
  boundClaimsType: 'string' | 'glob';
  boundClaims: Record<string, BoundClaimValue | BoundClaimValue[]>;
  claimMappings: Record<string, string>;
  /** Seconds; 0 means Vault's default, a negative value none. */
  clockSkewLeeway: number;
  expirationLeeway: number;
  notBeforeLeeway: number;
  token: TokenSettings;
}

const claimValue = z.union([z.string(), z.number(), z.boolean()]);

/** A role as stored (`role/<name>`): fields added later get defaults here. */
export const jwtRoleSchema: z.ZodType<JwtRole, unknown> = z.object({
  roleType: z.literal('jwt').default('jwt'),
  boundAudiences: z.array(z.string()).default([]),
  userClaim: z.string().default(''),
  userClaimJsonPointer: z.boolean().optional(),
  boundSubject: z.string().default(''),
  boundClaimsType: z.enum(['string', 'glob']).default('string'),
  boundClaims: z.record(z.string(), z.union([claimValue, z.array(claimValue)])).default({}),
  claimMappings: z.record(z.string(), z.string()).default({}),
  clockSkewLeeway: z.number().default(60),
  expirationLeeway: z.number().default(150),
  notBeforeLeeway: z.number().default(150),
  token: tokenSettingsSchema,
});

export interface JwtDeps {
  storage: EngineStorage;
}

/** Vault's defaults: clock skew 60 s; a missing exp or nbf is derived with 150 s. */
export const DEFAULT_CLOCK_SKEW = 60;
export const DEFAULT_CLAIM_LEEWAY = 150;

export const CONFIG_KEY = 'config';
export const ROLE_PREFIX = 'role/';
export const roleKey = (name: string): string => `${ROLE_PREFIX}${name}`;

export const isRoleName = isName;

/** The role name from the path, lower-cased; the shared name rule (lib/names.ts). */
export function roleName(params: Readonly<Record<string, string>>): string {
  return checkName((params.name ?? '').toLowerCase(), 'role name');
}

export const newRole = (): JwtRole => ({
  roleType: 'jwt',
  boundAudiences: [],
  userClaim: '',
  userClaimJsonPointer: false,
  boundSubject: '',
  boundClaimsType: 'string',
  boundClaims: {},
  claimMappings: {},
  clockSkewLeeway: DEFAULT_CLOCK_SKEW,
  expirationLeeway: DEFAULT_CLAIM_LEEWAY,
  notBeforeLeeway: DEFAULT_CLAIM_LEEWAY,
  token: { ...DEFAULT_TOKEN_SETTINGS },
});

const decode = <T>(raw: Buffer): T => JSON.parse(raw.toString('utf8')) as T;

export const decodeConfig = (raw: Buffer | null | undefined): JwtConfig | null => (raw ? decode<JwtConfig>(raw) : null);
export const decodeRole = (raw: Buffer | null | undefined): JwtRole | null => (raw ? decodeJson(raw, 'role', jwtRoleSchema) : null);


/** Whether user_claim is read as a JSON pointer (Vault: only with user_claim_json_pointer; otherwise a top-level claim). */
export const userClaimIsPointer = (r: JwtRole): boolean => r.userClaimJsonPointer ?? r.userClaim.startsWith('/');

export function configWire(c: JwtConfig): Record<string, unknown> {
  return {
    bound_issuer: c.boundIssuer,
    default_role: c.defaultRole,
    jwks_ca_pem: c.jwksCaPem,
    jwks_pairs: [],
    jwks_url: c.jwksUrl,
    jwt_supported_algs: c.jwtSupportedAlgs,
    jwt_validation_pubkeys: c.jwtValidationPubkeys,
    namespace_in_state: c.namespaceInState ?? true,
    oidc_client_id: '',
    oidc_discovery_ca_pem: '',
    oidc_discovery_url: '',
    oidc_response_mode: '',
    oidc_response_types: [],
    provider_config: {},
    unsupported_critical_cert_extensions: [],
  };
}

export function roleWire(r: JwtRole): Record<string, unknown> {
  return {
    role_type: r.roleType,
    bound_audiences: r.boundAudiences,
    bound_subject: r.boundSubject,
    bound_claims_type: r.boundClaimsType,
    bound_claims: Object.keys(r.boundClaims).length > 0 ? r.boundClaims : null,
    claim_mappings: Object.keys(r.claimMappings).length > 0 ? r.claimMappings : null,
    user_claim: r.userClaim,
    user_claim_json_pointer: userClaimIsPointer(r),
    groups_claim: '',
    oidc_scopes: [],
    allowed_redirect_uris: [],
    verbose_oidc_logging: false,
    max_age: 0,
    clock_skew_leeway: r.clockSkewLeeway,
    expiration_leeway: r.expirationLeeway,
    not_before_leeway: r.notBeforeLeeway,
    ...tokenSettingsWire(r.token),
  };
}
