/**
 * `cert` auth stored model: one trusted-certificate entry per name under `cert/<name>` (JSON), and its Vault wire shape.
 */
import { X509Certificate } from 'node:crypto';
import type { Clock } from '../../lib/clock.ts';
import { z } from 'zod';
import type { EngineStorage, StorageView } from '../../core/engine.ts';
import { decodeJson, getJson } from '../../lib/stored-json.ts';

const names = z.array(z.string()).default([]);
const seconds = z.number().int().min(0).default(0);

/** A trusted-certificate entry as stored: the schema is its contract (a field added later gets a default). */
export const certEntrySchema = z.object({
  name: z.string(),
  /** PEM: one or more CA or leaf certificates to trust. */
  certificate: z.string(),
  displayName: z.string().default(''),
  allowedNames: names,
  allowedCommonNames: names,
  allowedDnsSans: names,
  allowedEmailSans: names,
  allowedUriSans: names,
  allowedOrganizationalUnits: names,
  tokenPolicies: names,
  /** Seconds; 0 means the broker default. */
  tokenTtl: seconds,
  tokenMaxTtl: seconds,
  /** Seconds, a hard cap like token_max_ttl (absent in entries written before it existed: 0). */
  tokenExplicitMaxTtl: seconds,
  tokenPeriod: seconds,
  tokenNumUses: seconds,
  tokenNoDefaultPolicy: z.boolean().default(false),
});

export type CertEntry = z.output<typeof certEntrySchema>;

export interface CertDeps {
  storage: EngineStorage;
  clock: Clock;
}

/** Vault's GenericNameRegex; names are case-insensitive (stored lower-case). */
export { isName } from '../../lib/names.ts';

export const entryKey = (name: string): string => `cert/${name.toLowerCase()}`;


export const decode = (raw: Buffer, name: string): CertEntry => decodeJson(raw, entryKey(name), certEntrySchema);

export const loadEntry = (storage: StorageView, name: string): Promise<CertEntry | null> => getJson(storage, entryKey(name), certEntrySchema);

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;

/** Every CERTIFICATE block in a PEM text, parsed; throws (node:crypto) when a block does not parse. */
export function parsePemCertificates(pem: string): X509Certificate[] {
  return [...pem.matchAll(PEM_BLOCK)].map((m) => new X509Certificate(Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64')));
}

export function entryWire(e: CertEntry): Record<string, unknown> {
  return {
    certificate: e.certificate,
    display_name: e.displayName,
    allowed_names: e.allowedNames,
    allowed_common_names: e.allowedCommonNames,
    allowed_dns_sans: e.allowedDnsSans,
    allowed_email_sans: e.allowedEmailSans,
    allowed_uri_sans: e.allowedUriSans,
    allowed_organizational_units: e.allowedOrganizationalUnits,
    token_policies: e.tokenPolicies,
    policies: e.tokenPolicies,
    token_ttl: e.tokenTtl,
    token_max_ttl: e.tokenMaxTtl,
    token_explicit_max_ttl: e.tokenExplicitMaxTtl ?? 0,
    token_period: e.tokenPeriod,
    token_num_uses: e.tokenNumUses,
    token_no_default_policy: e.tokenNoDefaultPolicy,
    token_type: 'default',
    token_bound_cidrs: [],
    required_extensions: [],
    allowed_metadata_extensions: [],
    ocsp_enabled: false,
  };
}
