import { z } from 'zod';
import { ApiError } from './errors.ts';
import type { Client, Query } from './http.ts';

/** Typed calls to the audit API (CONTRACT §3 audit row). Unknown fields are kept, so that `-format=json` shows everything. */

const seqSchema = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/).transform(Number)]);

/** Only seq is certain: the server answers a damaged row (one that verify will name) with just its seq and hash. */
export const entrySchema = z.looseObject({
  seq: seqSchema,
  time: z.string().optional(),
  operation: z.string().optional(),
  path: z.string().optional(),
  accessor: z.string().nullable().optional(),
  outcome: z.string().optional(),
});
export type AuditEntry = z.infer<typeof entrySchema>;

const searchSchema = z.object({ entries: z.array(entrySchema), next: seqSchema.nullable().optional() });
export type SearchPage = { entries: AuditEntry[]; next: number | null };

const verifySchema = z.looseObject({ ok: z.boolean(), checked: z.number().int().nonnegative(), first_bad_seq: seqSchema.nullable().optional() });
export type VerifyResult = { ok: boolean; checked: number; first_bad_seq: number | null } & Record<string, unknown>;

const publicKeySchema = z.looseObject({ algorithm: z.string(), public_key: z.string().min(1), origin: z.string().optional(), vkey: z.string().optional() });

const hex = z.string().regex(/^[0-9a-fA-F]*$/);
export const checkpointSchema = z.object({
  seq: seqSchema,
  hash: hex,
  time: z.string(),
  note: z.string(),
  frontier: hex,
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

const exportSchema = z.object({
  entries: z.array(z.object({ seq: seqSchema, entry: z.string(), hash: hex })),
  checkpoints: z.array(checkpointSchema).optional(),
  prune_mark: z.string().nullable().optional(),
  cadence: z.object({ every: z.number().int(), seconds: z.number().int() }).optional(),
  next: seqSchema.nullable().optional(),
  /** First page only: the log's size when the export began; the export stops there (older brokers omit it). */
  through: z.number().int().nonnegative().optional(),
});
export type ExportPage = z.infer<typeof exportSchema>;

function parse<T>(schema: z.ZodType<T>, data: unknown, what: string): T {
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new ApiError(`${what}: unexpected answer from the server (${issue ? `${issue.path.join('.') || 'data'}: ${issue.message}` : 'invalid'})`);
  }
  return r.data;
}

export interface SearchFilters {
  since?: string;
  until?: string;
  path_prefix?: string;
  accessor?: string;
  operation?: string;
  outcome?: string;
}

export async function searchAuditLog(client: Client, filters: SearchFilters, limit?: number, after?: number): Promise<SearchPage> {
  const q: Query = { ...filters, limit, after };
  const data = parse(searchSchema, await client.read('sys/audit-log', q), 'GET sys/audit-log');
  return { entries: data.entries, next: data.next ?? null };
}

export async function verifyAuditLog(client: Client, q: Query = {}): Promise<VerifyResult> {
  const data = parse(verifySchema, await client.read('sys/audit-log/verify', q), 'GET sys/audit-log/verify');
  return { ...data, first_bad_seq: data.first_bad_seq ?? null };
}

export async function auditPublicKey(client: Client): Promise<{ algorithm: string; public_key: string; origin?: string; vkey?: string }> {
  return parse(publicKeySchema, await client.read('sys/audit-log/public-key'), 'GET sys/audit-log/public-key');
}

export async function exportPage(client: Client, after: number, limit: number, mark: boolean): Promise<ExportPage> {
  const q: Query = { after, limit, ...(mark ? { mark: true } : {}) };
  return parse(exportSchema, await client.read('sys/audit-log/export', q), 'GET sys/audit-log/export');
}
