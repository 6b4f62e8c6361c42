/**
 * kubernetes auth method: stored model, storage keys and the conversions to Vault's wire shape.
 *
 *   config       → K8sConfig (JSON)
 *   role/<name>  → K8sRole (JSON)
 */
import { checkName, isName } from '../../lib/names.ts';
import { z } from 'zod';
import { decodeJson } from '../../lib/stored-json.ts';
import { DEFAULT_TOKEN_SETTINGS, tokenSettingsSchema, tokenSettingsWire, type TokenSettings } from '../../lib/role-token-fields.ts';
import type { EngineStorage } from '../../core/engine.ts';

export interface K8sConfig {
  /** The API server asked for TokenReviews when pemKeys is empty (with pemKeys, tokens are verified locally). */
  kubernetesHost: string;
  kubernetesCaCert: string;
  pemKeys: string[];
  /** The Bearer token of TokenReview calls; '' (or absent in configs stored before it existed): see reviewerFor. */
  tokenReviewerJwt?: string;
  issuer: string;
  /** null: not set, which means "validate only when an issuer is configured". */
  disableIssValidation: boolean | null;
  disableLocalCaJwt: boolean;
}

export type AliasNameSource = 'serviceaccount_uid' | 'serviceaccount_name';

export interface K8sRole {
  boundServiceAccountNames: string[];
  boundServiceAccountNamespaces: string[];
  audience: string;
  aliasNameSource: AliasNameSource;
  token: TokenSettings;
}

/** A role as stored (`role/<name>`): fields added later get defaults here. */
export const k8sRoleSchema: z.ZodType<K8sRole, unknown> = z.object({
  boundServiceAccountNames: z.array(z.string()).default([]),
  boundServiceAccountNamespaces: z.array(z.string()).default([]),
  audience: z.string().default(''),
  aliasNameSource: z.enum(['serviceaccount_uid', 'serviceaccount_name']).default('serviceaccount_uid'),
  token: tokenSettingsSchema,
});

export interface K8sDeps {
  storage: EngineStorage;
}

/** The issuer of legacy (Secret-based) service-account tokens. */
export const LEGACY_ISSUER = 'kubernetes/serviceaccount';
/** Seconds of clock skew allowed on exp, nbf and iat (go-jose's default, as in Vault). */
export const CLOCK_SKEW = 60;

export const CONFIG_KEY = 'config';
export const ROLE_PREFIX = 'role/';
export const roleKey = (name: string): string => `${ROLE_PREFIX}${name}`;

export const isRoleName = isName;

/** The role name from the path: the shared name rule (lib/names.ts). */
export const roleName = (params: Readonly<Record<string, string>>): string => checkName(params.name, 'role name');

export const newRole = (): K8sRole => ({
  boundServiceAccountNames: [],
  boundServiceAccountNamespaces: [],
  audience: '',
  aliasNameSource: 'serviceaccount_uid',
  token: { ...DEFAULT_TOKEN_SETTINGS },
});

const decode = <T>(raw: Buffer): T => JSON.parse(raw.toString('utf8')) as T;

export const decodeConfig = (raw: Buffer | null | undefined): K8sConfig | null => (raw ? decode<K8sConfig>(raw) : null);
export const decodeRole = (raw: Buffer | null | undefined): K8sRole | null => (raw ? decodeJson(raw, 'role', k8sRoleSchema) : null);


/** Without an explicit setting, the issuer is validated exactly when one is configured. */
export const issValidationDisabled = (c: K8sConfig): boolean => c.disableIssValidation ?? c.issuer === '';

export function configWire(c: K8sConfig): Record<string, unknown> {
  return {
    kubernetes_host: c.kubernetesHost,
    kubernetes_ca_cert: c.kubernetesCaCert,
    pem_keys: c.pemKeys,
    issuer: c.issuer,
    disable_iss_validation: issValidationDisabled(c),
    disable_local_ca_jwt: c.disableLocalCaJwt,
    use_annotations_as_alias_metadata: false,
    token_reviewer_jwt_set: (c.tokenReviewerJwt ?? '') !== '',
  };
}

export function roleWire(r: K8sRole): Record<string, unknown> {
  return {
    bound_service_account_names: r.boundServiceAccountNames,
    bound_service_account_namespaces: r.boundServiceAccountNamespaces,
    bound_service_account_namespace_selector: '',
    audience: r.audience,
    alias_name_source: r.aliasNameSource,
    ...tokenSettingsWire(r.token),
  };
}
