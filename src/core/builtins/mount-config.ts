/** A mount's `config` as Vault's sys/mounts and sys/auth accept it (enable and tune), parsed and stored normalised. */
import { z } from 'zod';
import { parseDuration } from '../../lib/durations.ts';
import { badRequest } from '../../lib/errors.ts';

const duration = z
  .union([z.number(), z.string().max(64)], { error: 'must be a duration such as "768h" or a number of seconds' })
  .nullable()
  .optional();
const stringList = z
  .union([z.array(z.string().max(256)).max(64), z.string().max(4096)], { error: 'must be a list of strings or a comma-separated string' })
  .nullable()
  .optional();

/** The fields of Vault's mount config; any other key (`options`, `plugin_name` …) is dropped. */
export const mountConfigFields = {
  default_lease_ttl: duration,
  max_lease_ttl: duration,
  force_no_cache: z.boolean().nullable().optional(),
  audit_non_hmac_request_keys: stringList,
  audit_non_hmac_response_keys: stringList,
  listing_visibility: z.enum(['', 'unauth', 'hidden'], { error: 'must be "unauth", "hidden" or ""' }).nullable().optional(),
  passthrough_request_headers: stringList,
  allowed_response_headers: stringList,
  // Checked, not stored: every value sealbox accepts means service tokens, which is all it issues.
  token_type: z.string().max(32).nullable().optional(),
};
export const mountConfigInput = z.object(mountConfigFields);
export type MountConfigInput = z.output<typeof mountConfigInput>;

const LIST_FIELDS = ['audit_non_hmac_request_keys', 'audit_non_hmac_response_keys', 'passthrough_request_headers', 'allowed_response_headers'] as const;

const toList = (v: string | string[]): string[] => [...new Set((typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter(Boolean))];

/** Reads a stored TTL; rows written before config was normalised may hold Vault's strings ("0s", ""). */
function storedSeconds(v: unknown): number {
  if (v === undefined || v === null || v === '') return 0;
  try {
    return parseDuration(v, 'ttl');
  } catch {
    return 0;
  }
}

/** The config as sys/mounts renders it: integer TTLs (0: the broker default), a boolean, and lists only when set. */
export function renderMountConfig(stored: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {
    default_lease_ttl: storedSeconds(stored.default_lease_ttl),
    max_lease_ttl: storedSeconds(stored.max_lease_ttl),
    force_no_cache: stored.force_no_cache === true,
  };
  for (const f of LIST_FIELDS) {
    const v = stored[f];
    if (Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string')) out[f] = v;
  }
  if (stored.listing_visibility === 'unauth' || stored.listing_visibility === 'hidden') out.listing_visibility = stored.listing_visibility;
  return out;
}

/** Vault's mount token_type: "", "default-service" and "service" (what sealbox issues); the batch ones are refused. */
function checkTokenType(v: string | null | undefined, prefix: string): void {
  const t = (v ?? '').trim();
  if (t === '' || t === 'default-service' || t === 'service') return;
  if (t === 'batch' || t === 'default-batch') throw badRequest(`${prefix}token_type: "${t}" is not supported; sealbox issues service tokens only ("service" or "default-service")`);
  throw badRequest(`${prefix}token_type: invalid value "${t.slice(0, 32)}" (use "default-service", "default-batch", "service" or "batch")`);
}

/**
 * Applies the given fields over the stored config and returns the normalised result. Absent, null and "" TTLs
 * leave the current value; "system" resets it to the default (Vault's tune). `prefix` names the fields in errors.
 */
export function applyMountConfig(current: Record<string, unknown>, input: MountConfigInput, prefix = ''): Record<string, unknown> {
  const next = renderMountConfig(current);
  checkTokenType(input.token_type, prefix);
  for (const f of ['default_lease_ttl', 'max_lease_ttl'] as const) {
    const v = input[f];
    if (v === undefined || v === null || v === '') continue;
    next[f] = v === 'system' ? 0 : parseDuration(v, `${prefix}${f}`);
  }
  const def = next.default_lease_ttl as number;
  const max = next.max_lease_ttl as number;
  if (max > 0 && def > max) throw badRequest(`${prefix}default_lease_ttl: must not be longer than max_lease_ttl`);
  if (typeof input.force_no_cache === 'boolean') next.force_no_cache = input.force_no_cache;
  for (const f of LIST_FIELDS) {
    const v = input[f];
    if (v === undefined || v === null) continue;
    const list = toList(v);
    if (list.length > 0) next[f] = list;
    else delete next[f];
  }
  if (input.listing_visibility === '') delete next.listing_visibility;
  else if (input.listing_visibility) next.listing_visibility = input.listing_visibility;
  return next;
}
