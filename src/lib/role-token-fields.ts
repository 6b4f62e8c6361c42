/**
 * The token settings every Vault auth-method role carries (Vault's tokenutil): token_policies, token_ttl,
 * token_max_ttl, token_period, token_num_uses, …, with the legacy names (policies, ttl, max_ttl, period,
 * num_uses) accepted as aliases. Durations are stored as whole seconds.
 */
import { z } from 'zod';
import { parseDuration } from './durations.ts';
import { badRequest } from './errors.ts';

export interface TokenSettings {
  policies: string[];
  ttl: number;
  maxTtl: number;
  explicitMaxTtl: number;
  period: number;
  numUses: number;
  noDefaultPolicy: boolean;
}

export const DEFAULT_TOKEN_SETTINGS: Readonly<TokenSettings> = Object.freeze({
  policies: [],
  ttl: 0,
  maxTtl: 0,
  explicitMaxTtl: 0,
  period: 0,
  numUses: 0,
  noDefaultPolicy: false,
});

const storedSeconds = z.number().default(0);

/** TokenSettings as stored in a role record; fields added later get defaults here. */
export const tokenSettingsSchema: z.ZodType<TokenSettings, unknown> = z.object({
  policies: z.array(z.string()).default([]),
  ttl: storedSeconds,
  maxTtl: storedSeconds,
  explicitMaxTtl: storedSeconds,
  period: storedSeconds,
  numUses: storedSeconds,
  noDefaultPolicy: z.boolean().default(false),
});

/** Vault's comma string slice: ["a", "b"] or "a,b". */
export const stringListField = z.union(
  [
    z.array(z.string().max(1024)).max(256),
    z
      .string()
      .max(64 * 1024)
      .transform((s) => s.split(',')),
  ],
  { error: 'must be a list of strings or a comma-separated string' },
);

export const durationField = z.union([z.number(), z.string().max(64)], { error: 'must be a duration such as "30m" or a number of seconds' });

const countField = z.union([z.number().int({ error: 'must be a non-negative integer' }).min(0, { error: 'must be a non-negative integer' }).max(1_000_000), z.string().regex(/^\d{1,7}$/).transform(Number)], {
  error: 'must be a non-negative integer',
});

export const boolField = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')], { error: 'must be a boolean' });

/**
 * A list field Vault takes whose feature sealbox does not have: the empty list (what Terraform and other tools send
 * by default) is accepted, anything else is refused rather than stored and ignored (a constraint that looked set).
 */
export const unsupportedListField = (why: string) =>
  stringListField.refine((l) => l.every((s) => s.trim() === ''), { error: why });

/** Token settings sealbox does not have: the empty default is accepted, a real value refused (see unsupportedListField). */
export const unsupportedTokenFieldsShape = {
  token_bound_cidrs: unsupportedListField('binding tokens to source addresses is not supported for this auth method; leave it empty').optional(),
};

export const tokenFieldsShape = {
  ...unsupportedTokenFieldsShape,
  token_policies: stringListField.optional(),
  policies: stringListField.optional(),
  token_ttl: durationField.optional(),
  ttl: durationField.optional(),
  token_max_ttl: durationField.optional(),
  max_ttl: durationField.optional(),
  token_explicit_max_ttl: durationField.optional(),
  token_period: durationField.optional(),
  period: durationField.optional(),
  token_num_uses: countField.optional(),
  num_uses: countField.optional(),
  token_no_default_policy: boolField.optional(),
  // Vault's tokenutil: "" and "default" (its display default is "default-service") mean the mount default; no batch tokens here.
  token_type: z
    .enum(['default', 'service', '', 'default-service'], { error: 'only "default" and "service" tokens are supported' })
    .transform((v) => (v === 'service' ? 'service' : 'default'))
    .optional(),
};

export type TokenFieldsInput = z.output<z.ZodObject<typeof tokenFieldsShape>>;

/** Trimmed, lower-cased, de-duplicated and sorted, as Vault sanitises role policies; `root` is refused. */
export function sanitisePolicies(raw: readonly string[], field: string): string[] {
  const names = [...new Set(raw.map((p) => p.trim().toLowerCase()).filter((p) => p.length > 0))].sort();
  if (names.includes('root')) throw badRequest(`${field}: an auth method role cannot grant the root policy`);
  const bad = names.find((p) => p.length > 128);
  if (bad !== undefined) throw badRequest(`${field}: policy names must be at most 128 characters`);
  return names;
}

/** Applies the given fields over `current` (a role update keeps what it does not mention). */
export function applyTokenFields(current: TokenSettings, input: TokenFieldsInput): TokenSettings {
  const pick = <T>(modern: T | undefined, legacy: T | undefined): T | undefined => modern ?? legacy;
  const dur = (v: string | number | undefined, field: string, old: number): number => (v === undefined ? old : parseDuration(v, field));
  const policies = pick(input.token_policies, input.policies);
  const next: TokenSettings = {
    policies: policies === undefined ? current.policies : sanitisePolicies(policies, 'token_policies'),
    ttl: dur(pick(input.token_ttl, input.ttl), 'token_ttl', current.ttl),
    maxTtl: dur(pick(input.token_max_ttl, input.max_ttl), 'token_max_ttl', current.maxTtl),
    explicitMaxTtl: dur(input.token_explicit_max_ttl, 'token_explicit_max_ttl', current.explicitMaxTtl),
    period: dur(pick(input.token_period, input.period), 'token_period', current.period),
    numUses: pick(input.token_num_uses, input.num_uses) ?? current.numUses,
    noDefaultPolicy: input.token_no_default_policy ?? current.noDefaultPolicy,
  };
  if (next.maxTtl > 0 && next.ttl > next.maxTtl) throw badRequest('ttl should not be greater than max ttl');
  return next;
}

/** The token_* fields of a role read (Vault's PopulateTokenData), plus the legacy `policies`. */
export function tokenSettingsWire(s: TokenSettings): Record<string, unknown> {
  return {
    token_bound_cidrs: [],
    token_explicit_max_ttl: s.explicitMaxTtl,
    token_max_ttl: s.maxTtl,
    token_no_default_policy: s.noDefaultPolicy,
    token_num_uses: s.numUses,
    token_period: s.period,
    token_policies: s.policies,
    policies: s.policies,
    token_ttl: s.ttl,
    token_type: 'default',
  };
}

/** The token part of a LoginResult: the hard cap is the smaller of the max TTLs that are set. */
export function loginTokenFields(s: TokenSettings): {
  policies: string[];
  ttl: number;
  maxTtl: number;
  period: number;
  numUses: number;
  noDefaultPolicy: boolean;
} {
  const caps = [s.maxTtl, s.explicitMaxTtl].filter((n) => n > 0);
  return {
    policies: [...s.policies],
    ttl: s.ttl,
    maxTtl: caps.length > 0 ? Math.min(...caps) : 0,
    period: s.period,
    numUses: s.numUses,
    noDefaultPolicy: s.noDefaultPolicy,
  };
}
