/** role/:name (read, write, delete) and LIST role: which JWTs may log in and what token they get. */
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { applyTokenFields, boolField, durationField, stringListField, tokenFieldsShape } from '../../../lib/role-token-fields.ts';
import type { PathDef } from '../../../core/engine.ts';
import { namedRecordPaths } from '../../../core/kit/engine-records.ts';
import { jwtRoleSchema, newRole, ROLE_PREFIX, roleName, roleWire, userClaimIsPointer, type BoundClaimValue, type JwtDeps, type JwtRole } from '../model.ts';

const scalar = z.union([z.string().max(1024), z.number(), z.boolean()]);
const boundClaimsField = z
  .record(z.string().min(1).max(256), z.union([scalar, z.array(scalar).max(256)]), { error: 'must be an object of claim names to values' })
  .refine((m) => Object.keys(m).length <= 64, { error: 'at most 64 bound claims' });
/** Vault's TypeKVPairs: an object (values weakly decoded to strings), or "key=value" pairs as a list or one string. */
const kvValue = z.union([z.string().max(128), z.number(), z.boolean()]).transform(String);
const kvPair = z
  .string()
  .max(512)
  .regex(/^[^=]+=/, { error: 'must be "claim=key" pairs' })
  .transform((p): [string, string] => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]);
const claimMappingsField = z
  .union(
    [
      z.record(z.string().min(1).max(256), kvValue),
      z.array(kvPair).max(64).transform((pairs) => Object.fromEntries(pairs)),
      kvPair.transform((pair) => Object.fromEntries([pair])),
    ],
    { error: 'must be an object of claim names to metadata keys, or a list of "claim=key" pairs' },
  )
  .refine((m) => Object.keys(m).length <= 64, { error: 'at most 64 claim mappings' })
  .refine((m) => Object.values(m).every((v) => v.length > 0 && v.length <= 128), { error: 'metadata keys must be 1 to 128 characters' });

/** Vault's TypeSignedDurationSecond: an integer (floats truncated) or a duration, either possibly negative; -1 disables. */
const leewayField = z.union([z.number().min(-1_000_000).max(1_000_000), z.string().max(64)], {
  error: 'must be a number of seconds or a duration such as "2m"',
});

/** An OIDC-only list (browser login, which sealbox does not have): the empty default is accepted, a value refused. */
const oidcOnlyList = stringListField.refine((l) => l.every((v) => v.trim() === ''), { error: 'only used by OIDC roles, which sealbox does not support' });

const roleInput = z.object({
  role_type: z.enum(['jwt', 'oidc', ''], { error: 'must be "jwt" or "oidc"' }).optional(),
  bound_audiences: stringListField.optional(),
  user_claim: z.string().max(256).optional(),
  user_claim_json_pointer: boolField.optional(),
  bound_subject: z.string().max(1024).optional(),
  bound_claims_type: z.enum(['string', 'glob'], { error: 'must be "string" or "glob"' }).optional(),
  bound_claims: boundClaimsField.optional(),
  claim_mappings: claimMappingsField.optional(),
  clock_skew_leeway: leewayField.optional(),
  expiration_leeway: leewayField.optional(),
  not_before_leeway: leewayField.optional(),
  // Group aliases need an identity store, which sealbox does not have.
  groups_claim: z.literal('', { error: 'group aliases are not supported (sealbox has no identity store); leave it empty' }).optional(),
  allowed_redirect_uris: oidcOnlyList.optional(),
  oidc_scopes: oidcOnlyList.optional(),
  verbose_oidc_logging: boolField.refine((v) => !v, { error: 'only OIDC logins are logged verbosely, and sealbox does not support OIDC roles' }).optional(),
  max_age: durationField.optional(),
  ...tokenFieldsShape,
});
type RoleInput = z.output<typeof roleInput>;

function leeway(value: string | number | undefined, field: string, current: number): number {
  if (value === undefined) return current;
  if (typeof value === 'number') return Math.trunc(value);
  const text = value.trim();
  if (/^[+-]?\d+$/.test(text)) return Number(text);
  return text.startsWith('-') ? -parseDuration(text.slice(1), field) : parseDuration(text, field);
}

function checkClaimMappings(mappings: Record<string, string>): Record<string, string> {
  const targets = new Set<string>();
  for (const target of Object.values(mappings)) {
    if (target === 'role') throw badRequest('claim_mappings: metadata key "role" is reserved and may not be a mapping destination');
    if (targets.has(target)) throw badRequest(`claim_mappings: multiple claims are mapped to metadata key "${target.slice(0, 64)}"`);
    targets.add(target);
  }
  return mappings;
}

/** Applies the given fields over the stored role (or a new one) and checks the result as Vault does. */
export function applyRole(current: JwtRole, input: RoleInput): JwtRole {
  // Vault: an absent or empty role_type means "oidc"; sealbox has JWT login only, so it means "jwt" here.
  if (input.role_type === 'oidc') throw badRequest('role_type: "oidc" roles (browser login) are not supported; use "jwt"');
  if (input.max_age !== undefined && parseDuration(input.max_age, 'max_age') !== 0) {
    throw badRequest('max_age: only used by OIDC roles, which sealbox does not support');
  }
  const role: JwtRole = {
    roleType: 'jwt',
    boundAudiences: input.bound_audiences ? [...new Set(input.bound_audiences.map((a) => a.trim()).filter(Boolean))] : current.boundAudiences,
    userClaim: input.user_claim ?? current.userClaim,
    userClaimJsonPointer: input.user_claim_json_pointer ?? userClaimIsPointer(current),
    boundSubject: input.bound_subject ?? current.boundSubject,
    boundClaimsType: input.bound_claims_type ?? current.boundClaimsType,
    boundClaims: (input.bound_claims as Record<string, BoundClaimValue | BoundClaimValue[]> | undefined) ?? current.boundClaims,
    claimMappings: input.claim_mappings ? checkClaimMappings(input.claim_mappings) : current.claimMappings,
    clockSkewLeeway: leeway(input.clock_skew_leeway, 'clock_skew_leeway', current.clockSkewLeeway),
    expirationLeeway: leeway(input.expiration_leeway, 'expiration_leeway', current.expirationLeeway),
    notBeforeLeeway: leeway(input.not_before_leeway, 'not_before_leeway', current.notBeforeLeeway),
    token: applyTokenFields(current.token, input),
  };
  if (role.userClaim === '') throw badRequest('a user claim must be defined on the role (user_claim)');
  if (role.boundClaimsType === 'glob') {
    const nonString = Object.entries(role.boundClaims).find(([, v]) => (Array.isArray(v) ? v : [v]).some((x) => typeof x !== 'string'));
    if (nonString) throw badRequest(`bound_claims: claim "${nonString[0].slice(0, 64)}" must be a string or list of strings with bound_claims_type "glob"`);
  }
  if (role.boundAudiences.length === 0 && role.boundSubject === '' && Object.keys(role.boundClaims).length === 0) {
    throw badRequest('must have at least one bound constraint when creating/updating a role (bound_audiences, bound_subject or bound_claims)');
  }
  return role;
}

export function createRolePaths(deps: JwtDeps): PathDef[] {
  return namedRecordPaths<JwtRole, typeof roleInput>({
    storage: deps.storage,
    collection: 'role',
    prefix: ROLE_PREFIX,
    name: (raw) => roleName({ name: raw }),
    input: roleInput,
    record: jwtRoleSchema,
    apply: (current, input) => applyRole(current ?? newRole(), input),
    wire: roleWire,
  });
}
