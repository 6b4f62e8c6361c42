/**
 * Token roles (auth/token/roles/:name, Vault's tsRoleEntry): what auth/token/create/:role may mint. Stored sealed
 * in the token mount's core storage (core-storage.ts), never in plain columns.
 */
import { z } from 'zod';
import { parseDuration } from '../../lib/durations.ts';
import { badRequest } from '../../lib/errors.ts';
import { checkName } from '../../lib/names.ts';
import { getJson } from '../../lib/stored-json.ts';
import { boolField, durationField, stringListField } from '../../lib/role-token-fields.ts';
import type { EngineStorage, PathDef } from '../engine.ts';
import { namedRecordPaths } from '../kit/engine-records.ts';

export interface TokenRole {
  name: string;
  allowedPolicies: string[];
  disallowedPolicies: string[];
  allowedPoliciesGlob: string[];
  disallowedPoliciesGlob: string[];
  allowedEntityAliases: string[];
  orphan: boolean;
  renewable: boolean;
  pathSuffix: string;
  /** Seconds; 0: none. */
  period: number;
  explicitMaxTtl: number;
  numUses: number;
  noDefaultPolicy: boolean;
}

const storedList = z.array(z.string()).default([]);

/** A token role as stored: fields added later get defaults here. */
const tokenRoleSchema: z.ZodType<TokenRole, unknown> = z.object({
  name: z.string(),
  allowedPolicies: storedList,
  disallowedPolicies: storedList,
  allowedPoliciesGlob: storedList,
  disallowedPoliciesGlob: storedList,
  allowedEntityAliases: storedList,
  orphan: z.boolean().default(false),
  renewable: z.boolean().default(true),
  pathSuffix: z.string().default(''),
  period: z.number().default(0),
  explicitMaxTtl: z.number().default(0),
  numUses: z.number().default(0),
  noDefaultPolicy: z.boolean().default(false),
});

const PATH_SUFFIX = /^[\w.-]{1,128}$/;

const roleBody = z.object({
  allowed_policies: stringListField.optional(),
  disallowed_policies: stringListField.optional(),
  allowed_policies_glob: stringListField.optional(),
  disallowed_policies_glob: stringListField.optional(),
  allowed_entity_aliases: stringListField.optional(),
  orphan: boolField.optional(),
  renewable: boolField.optional(),
  path_suffix: z.string().max(128).optional(),
  period: durationField.optional(),
  token_period: durationField.optional(),
  explicit_max_ttl: durationField.optional(),
  token_explicit_max_ttl: durationField.optional(),
  token_num_uses: z.union([z.number().int().min(0).max(1_000_000), z.string().regex(/^\d{1,7}$/).transform(Number)]).optional(),
  token_no_default_policy: boolField.optional(),
  token_type: z.enum(['default', 'service', 'default-service'], { error: 'only "default" and "service" tokens are supported' }).optional(),
  token_bound_cidrs: stringListField.optional(),
  bound_cidrs: stringListField.optional(),
});

const policyList = (raw: readonly string[] | undefined, old: string[]): string[] =>
  raw === undefined ? old : [...new Set(raw.map((p) => p.trim().toLowerCase()).filter((p) => p.length > 0))].sort();

const EMPTY_ROLE: Omit<TokenRole, 'name'> = {
  allowedPolicies: [],
  disallowedPolicies: [],
  allowedPoliciesGlob: [],
  disallowedPoliciesGlob: [],
  allowedEntityAliases: [],
  orphan: false,
  renewable: true,
  pathSuffix: '',
  period: 0,
  explicitMaxTtl: 0,
  numUses: 0,
  noDefaultPolicy: false,
};

export function roleName(raw: string): string {
  checkName(raw, 'role name');
  return raw.toLowerCase();
}

const roleWire = (r: TokenRole): Record<string, unknown> => ({
  name: r.name,
  allowed_policies: r.allowedPolicies,
  disallowed_policies: r.disallowedPolicies,
  allowed_policies_glob: r.allowedPoliciesGlob,
  disallowed_policies_glob: r.disallowedPoliciesGlob,
  allowed_entity_aliases: r.allowedEntityAliases,
  orphan: r.orphan,
  renewable: r.renewable,
  path_suffix: r.pathSuffix,
  period: r.period,
  token_period: r.period,
  explicit_max_ttl: r.explicitMaxTtl,
  token_explicit_max_ttl: r.explicitMaxTtl,
  token_num_uses: r.numUses,
  token_no_default_policy: r.noDefaultPolicy,
  token_type: 'default-service',
  token_bound_cidrs: [],
});

export function tokenRolePaths(storage: EngineStorage): PathDef[] {
  return namedRecordPaths<TokenRole, typeof roleBody>({
    storage,
    collection: 'roles',
    prefix: 'roles/',
    name: roleName,
    input: roleBody,
    record: tokenRoleSchema,
    apply: (current, input, name) => {
      const cur: TokenRole = current ?? { name, ...EMPTY_ROLE };
      if ((input.token_bound_cidrs ?? input.bound_cidrs ?? []).some((c) => c.trim() !== '')) {
        throw badRequest('token_bound_cidrs: CIDR-bound tokens are not supported');
      }
      const suffix = input.path_suffix === undefined ? cur.pathSuffix : input.path_suffix.trim();
      if (suffix !== '' && (!PATH_SUFFIX.test(suffix) || suffix.includes('..'))) throw badRequest('path_suffix: use letters, digits, "_", "-" and "."');
      const dur = (v: string | number | undefined, field: string, old: number): number => (v === undefined ? old : parseDuration(v, field));
      const next: TokenRole = {
        name,
        allowedPolicies: policyList(input.allowed_policies, cur.allowedPolicies),
        disallowedPolicies: policyList(input.disallowed_policies, cur.disallowedPolicies),
        allowedPoliciesGlob: policyList(input.allowed_policies_glob, cur.allowedPoliciesGlob),
        disallowedPoliciesGlob: policyList(input.disallowed_policies_glob, cur.disallowedPoliciesGlob),
        allowedEntityAliases: input.allowed_entity_aliases === undefined ? cur.allowedEntityAliases : [...new Set(input.allowed_entity_aliases.map((a) => a.trim()).filter((a) => a !== ''))],
        orphan: input.orphan ?? cur.orphan,
        renewable: input.renewable ?? cur.renewable,
        pathSuffix: suffix,
        period: dur(input.token_period ?? input.period, 'token_period', cur.period),
        explicitMaxTtl: dur(input.token_explicit_max_ttl ?? input.explicit_max_ttl, 'token_explicit_max_ttl', cur.explicitMaxTtl),
        numUses: input.token_num_uses ?? cur.numUses,
        noDefaultPolicy: input.token_no_default_policy ?? cur.noDefaultPolicy,
      };
      if (next.allowedPolicies.includes('root') || next.allowedPoliciesGlob.some((g) => globMatch(g, 'root'))) {
        throw badRequest('allowed_policies: a token role cannot grant the root policy');
      }
      return next;
    },
    wire: roleWire,
  });
}

export async function loadTokenRole(storage: EngineStorage, rawName: string): Promise<TokenRole | null> {
  return getJson(storage, `roles/${roleName(rawName)}`, tokenRoleSchema);
}

/** Vault's StrListContainsGlob: "*" anywhere in the pattern matches any run of characters. */
function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
  return re.test(value);
}

/**
 * The policies a token created against `role` gets (Vault's resolveTokenPolicies, role branch), or null when the
 * role sets no allowed/disallowed lists (then the usual parent-subset rules apply). Throws a 400 on a policy the
 * role does not allow.
 */
export function rolePolicies(role: TokenRole, requested: readonly string[] | undefined, noDefault: boolean, parentPolicies: readonly string[]): string[] | null {
  const lists = role.allowedPolicies.length + role.disallowedPolicies.length + role.allowedPoliciesGlob.length + role.disallowedPoliciesGlob.length;
  if (lists === 0) return null;
  const addDefault = !noDefault && !role.noDefaultPolicy && !role.disallowedPolicies.includes('default') && !role.disallowedPoliciesGlob.some((g) => globMatch(g, 'default'));
  const sanitise = (ps: readonly string[]): string[] => {
    const set = new Set(ps.map((p) => p.trim().toLowerCase()).filter((p) => p !== ''));
    if (addDefault) set.add('default');
    return [...set].sort();
  };
  let final = requested && requested.length > 0 ? sanitise(requested) : [];
  if (role.allowedPolicies.length > 0 || role.allowedPoliciesGlob.length > 0) {
    const allowed = sanitise(role.allowedPolicies);
    if (final.length === 0) final = allowed;
    else {
      const bad = final.find((p) => !allowed.includes(p) && !role.allowedPoliciesGlob.some((g) => globMatch(g, p)));
      if (bad !== undefined) throw badRequest(`token policies (${JSON.stringify(final)}) must be subset of the role's allowed policies (${JSON.stringify(allowed)}) or glob policies (${JSON.stringify(role.allowedPoliciesGlob)})`);
    }
  } else if (final.length === 0) final = sanitise(parentPolicies.filter((p) => p !== 'root'));
  const disallowed = final.find((p) => role.disallowedPolicies.includes(p) || role.disallowedPoliciesGlob.some((g) => globMatch(g, p)));
  if (disallowed !== undefined) throw badRequest(`token policy "${disallowed}" is disallowed by this role`);
  if (final.includes('root')) throw badRequest('a token role cannot grant the root policy');
  return noDefault ? final.filter((p) => p !== 'default') : final;
}
