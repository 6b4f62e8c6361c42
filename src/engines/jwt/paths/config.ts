/** config: where the keys come from (PEM keys or a JWKS URL), the bound issuer and the accepted algorithms. */
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { checkJwksUrl, parsePublicKeyPem, parsePublicKeyPems, pemListField, SUPPORTED_ALGS } from '../../../lib/jwt-verify.ts';
import { boolField, stringListField } from '../../../lib/role-token-fields.ts';
import type { PathDef } from '../../../core/engine.ts';
import { singleRecordPaths } from '../../../core/kit/engine-records.ts';
import { CONFIG_KEY, configWire, type JwtConfig, type JwtDeps } from '../model.ts';

/** A field of OIDC login: only its empty default is accepted. */
function oidcOnly<T extends z.ZodType>(schema: T, isEmpty: (v: z.output<T>) => boolean) {
  return schema.refine(isEmpty, { error: 'OIDC login is not supported by sealbox (JWT login only); leave it empty' }).optional();
}

const configInput = z.object({
  jwt_validation_pubkeys: pemListField.optional(),
  jwks_url: z.string().max(2048).optional(),
  jwks_ca_pem: z.string().max(256 * 1024).optional(),
  bound_issuer: z.string().max(2048).optional(),
  jwt_supported_algs: stringListField.optional(),
  default_role: z.string().max(128).optional(),
  oidc_discovery_url: z.string().max(2048).optional(),
  // OIDC (browser login), JWKS pairs and provider configs, which sealbox does not have: the empty defaults that
  // Terraform and other tools send are accepted, a value is refused rather than stored and ignored.
  oidc_discovery_ca_pem: oidcOnly(z.string().max(256 * 1024), (v) => v.trim() === ''),
  oidc_client_id: oidcOnly(z.string().max(2048), (v) => v === ''),
  oidc_client_secret: oidcOnly(z.string().max(2048), (v) => v === ''),
  oidc_response_mode: oidcOnly(z.enum(['', 'query', 'form_post'], { error: 'must be "query" or "form_post"' }), (v) => v === ''),
  oidc_response_types: oidcOnly(stringListField, (v) => v.every((t) => t.trim() === '')),
  provider_config: oidcOnly(z.record(z.string(), z.unknown(), { error: 'must be an object' }), (v) => Object.keys(v).length === 0),
  namespace_in_state: boolField.optional(),
  jwks_pairs: z
    .array(z.unknown(), { error: 'must be a list' })
    .max(0, { error: 'more than one JWKS URL is not supported: use jwks_url (with jwks_ca_pem)' })
    .optional(),
  unsupported_critical_cert_extensions: stringListField
    .refine((v) => v.every((x) => x.trim() === ''), { error: 'accepting unsupported critical certificate extensions is not supported; leave it empty' })
    .optional(),
});
type ConfigInput = z.output<typeof configInput>;

function supportedAlgs(raw: readonly string[]): string[] {
  const algs = [...new Set(raw.map((a) => a.trim()).filter((a) => a.length > 0))];
  const known: readonly string[] = SUPPORTED_ALGS;
  const bad = algs.find((a) => !known.includes(a));
  if (bad !== undefined) throw badRequest(`jwt_supported_algs: unsupported algorithm "${bad.slice(0, 20)}" (supported: ${SUPPORTED_ALGS.join(', ')})`);
  return algs;
}

/** Validates the whole config (Vault replaces it on every write) and checks the JWKS URL by fetching it. */
async function buildConfig(input: ConfigInput): Promise<JwtConfig> {
  if (input.oidc_discovery_url) throw badRequest('oidc_discovery_url is not supported: use jwks_url or jwt_validation_pubkeys');
  const pubkeys = (input.jwt_validation_pubkeys ?? []).filter((p) => p.trim().length > 0);
  const jwksUrl = (input.jwks_url ?? '').trim();
  if ((pubkeys.length > 0) === (jwksUrl !== '')) throw badRequest("exactly one of 'jwt_validation_pubkeys' or 'jwks_url' must be set");
  parsePublicKeyPems(pubkeys, 'jwt_validation_pubkeys');
  const jwksCaPem = (input.jwks_ca_pem ?? '').trim();
  if (jwksCaPem !== '') {
    if (jwksUrl === '') throw badRequest('jwks_ca_pem: only valid with jwks_url');
    if (!jwksCaPem.includes('-----BEGIN CERTIFICATE-----')) throw badRequest('jwks_ca_pem: not a PEM-encoded certificate');
    parsePublicKeyPem(jwksCaPem, 'jwks_ca_pem');
  }
  if (jwksUrl !== '') await checkJwksUrl(jwksUrl, jwksCaPem);
  return {
    jwtValidationPubkeys: pubkeys.map((p) => p.trim()),
    jwksUrl,
    jwksCaPem,
    boundIssuer: input.bound_issuer ?? '',
    jwtSupportedAlgs: supportedAlgs(input.jwt_supported_algs ?? []),
    defaultRole: (input.default_role ?? '').toLowerCase(),
    namespaceInState: input.namespace_in_state ?? true,
  };
}

export function createConfigPaths(deps: JwtDeps): PathDef[] {
  return singleRecordPaths({ storage: deps.storage, pattern: CONFIG_KEY, input: configInput, build: buildConfig, wire: configWire });
}
