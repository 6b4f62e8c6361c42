/** certs/:name (read, write, delete) and LIST certs: the trusted certificates and the constraints of each. */
import { z } from 'zod';
import type { PathDef } from '../../../core/engine.ts';
import { namedRecordPaths } from '../../../core/kit/engine-records.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { badRequest } from '../../../lib/errors.ts';
import { tokenFieldsShape, unsupportedListField, unsupportedTokenFieldsShape } from '../../../lib/role-token-fields.ts';
import { checkName } from '../../../lib/names.ts';
import { hasClientAuthUsage } from '../verify.ts';
import { certEntrySchema, entryWire, parsePemCertificates, type CertDeps, type CertEntry } from '../model.ts';

const MAX_LIST = 256;
const MAX_PEM_CHARS = 256 * 1024;

/** Vault's comma-string-slice: a JSON array of strings or one comma-separated string. Trimmed, empty items dropped, deduplicated. */
const stringList = z
  .union([z.array(z.string().max(1024)).max(MAX_LIST), z.string().max(64 * 1024)], {
    error: 'must be a list of strings or a comma-separated string',
  })
  .transform((v) => [...new Set((typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s.length > 0))]);

const duration = z.union([z.number(), z.string().max(64)], { error: 'must be a duration such as "30m" or a number of seconds' });
const bool = z.union([z.boolean(), z.enum(['true', 'false']).transform((s) => s === 'true')], { error: 'must be a boolean' });
const count = z.union([z.number().int().min(0).max(1_000_000), z.string().regex(/^\d{1,7}$/).transform(Number)], {
  error: 'must be a non-negative integer',
});

const certInput = z.object({
  certificate: z.string().max(MAX_PEM_CHARS, { error: `must be at most ${MAX_PEM_CHARS} characters of PEM` }).optional(),
  display_name: z.string().max(128).optional(),
  allowed_names: stringList.optional(),
  allowed_common_names: stringList.optional(),
  allowed_dns_sans: stringList.optional(),
  allowed_email_sans: stringList.optional(),
  allowed_uri_sans: stringList.optional(),
  allowed_organizational_units: stringList.optional(),
  token_policies: stringList.optional(),
  policies: stringList.optional(),
  token_ttl: duration.optional(),
  ttl: duration.optional(),
  token_max_ttl: duration.optional(),
  max_ttl: duration.optional(),
  token_period: duration.optional(),
  period: duration.optional(),
  token_num_uses: count.optional(),
  token_no_default_policy: bool.optional(),
  token_explicit_max_ttl: duration.optional(),
  /** Vault's deprecated name of token_ttl, in seconds. */
  lease: count.optional(),
  token_type: tokenFieldsShape.token_type,
  ...unsupportedTokenFieldsShape,
  bound_cidrs: unsupportedListField('binding logins to source addresses is not supported; leave it empty').optional(),
  // Vault's other certificate constraints and OCSP: what tools send by default is accepted; a real value is refused,
  // not stored and ignored (it would look like a constraint that holds).
  required_extensions: unsupportedListField('checking certificate extensions is not supported; leave it empty').optional(),
  allowed_metadata_extensions: unsupportedListField('copying certificate extensions into metadata is not supported; leave it empty').optional(),
  ocsp_enabled: bool.refine((v) => !v, { error: 'OCSP checking is not supported (sealbox checks CRLs only)' }).optional(),
  ocsp_ca_certificates: z.string().max(MAX_PEM_CHARS).refine((v) => v.trim() === '', { error: 'OCSP checking is not supported; leave it empty' }).optional(),
  ocsp_servers_override: unsupportedListField('OCSP checking is not supported; leave it empty').optional(),
  ocsp_fail_open: bool.optional(),
  ocsp_query_all_servers: bool.optional(),
});
type CertInput = z.output<typeof certInput>;

const certName = (name: string): string => checkName(name, 'certificate name').toLowerCase();

/** Policy names as Vault sanitises them: lower-case, unique, sorted; `root` can never come from a login. */
function policyList(list: string[]): string[] {
  const policies = [...new Set(list.map((p) => p.toLowerCase()))].sort();
  if (policies.includes('root')) throw badRequest('token_policies: an auth method cannot grant the root policy');
  return policies;
}

/** The certificate PEM must hold at least one certificate; a trusted leaf (not a CA) must allow TLS client authentication. */
function checkCertificate(pem: string): void {
  let certs;
  try {
    certs = parsePemCertificates(pem);
  } catch {
    throw badRequest('certificate: failed to parse certificate: not a valid PEM-encoded X.509 certificate');
  }
  if (certs.length === 0) throw badRequest('certificate: failed to parse certificate: no PEM "CERTIFICATE" block found');
  for (const c of certs) {
    if (!c.ca && !hasClientAuthUsage(c)) {
      throw badRequest('certificate: non-CA certificates should have TLS client authentication set as an extended key usage');
    }
  }
}

function durationOf(primary: string | number | undefined, legacy: string | number | undefined, field: string, current: number): number {
  const v = primary ?? legacy;
  return v === undefined ? current : parseDuration(v, field);
}

function applyInput(name: string, existing: CertEntry | null, input: CertInput): CertEntry {
  const base: CertEntry = existing ?? {
    name,
    certificate: '',
    displayName: '',
    allowedNames: [],
    allowedCommonNames: [],
    allowedDnsSans: [],
    allowedEmailSans: [],
    allowedUriSans: [],
    allowedOrganizationalUnits: [],
    tokenPolicies: [],
    tokenTtl: 0,
    tokenMaxTtl: 0,
    tokenExplicitMaxTtl: 0,
    tokenPeriod: 0,
    tokenNumUses: 0,
    tokenNoDefaultPolicy: false,
  };
  const policies = input.token_policies ?? input.policies;
  const next: CertEntry = {
    ...base,
    certificate: input.certificate ?? base.certificate,
    displayName: input.display_name ?? base.displayName,
    allowedNames: input.allowed_names ?? base.allowedNames,
    allowedCommonNames: input.allowed_common_names ?? base.allowedCommonNames,
    allowedDnsSans: input.allowed_dns_sans ?? base.allowedDnsSans,
    allowedEmailSans: input.allowed_email_sans ?? base.allowedEmailSans,
    allowedUriSans: input.allowed_uri_sans ?? base.allowedUriSans,
    allowedOrganizationalUnits: input.allowed_organizational_units ?? base.allowedOrganizationalUnits,
    tokenPolicies: policies ? policyList(policies) : base.tokenPolicies,
    tokenTtl: durationOf(input.token_ttl, input.ttl ?? input.lease, 'token_ttl', base.tokenTtl),
    tokenExplicitMaxTtl: durationOf(input.token_explicit_max_ttl, undefined, 'token_explicit_max_ttl', base.tokenExplicitMaxTtl ?? 0),
    tokenMaxTtl: durationOf(input.token_max_ttl, input.max_ttl, 'token_max_ttl', base.tokenMaxTtl),
    tokenPeriod: durationOf(input.token_period, input.period, 'token_period', base.tokenPeriod),
    tokenNumUses: input.token_num_uses ?? base.tokenNumUses,
    tokenNoDefaultPolicy: input.token_no_default_policy ?? base.tokenNoDefaultPolicy,
  };
  if (next.displayName === '') next.displayName = name;
  if (next.tokenMaxTtl !== 0 && next.tokenTtl > next.tokenMaxTtl) throw badRequest('token_ttl should not be longer than token_max_ttl');
  if (next.certificate === '') throw badRequest('certificate: missing required field: the PEM CA or client certificate to trust');
  if (input.certificate !== undefined) checkCertificate(next.certificate);
  return next;
}

export function createCertsPaths(deps: CertDeps): PathDef[] {
  return namedRecordPaths<CertEntry, typeof certInput>({
    storage: deps.storage,
    collection: 'certs',
    prefix: 'cert/',
    name: certName,
    input: certInput,
    record: certEntrySchema,
    apply: (current, input, name) => applyInput(name, current, input),
    wire: entryWire,
  });
}
