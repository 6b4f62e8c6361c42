import type { Logger } from '../../lib/log.ts';
import type { Db } from '../../storage/db.ts';
import type { UnsignedRowsStore } from '../../storage/unsigned-rows-store.ts';
import { ROW_MAC_FIELDS, type MacFields, type MacTable, type MacValue, type RowMac } from './row-mac.ts';

/** Columns the driver returns as strings (bigint, double precision) that the stores read as numbers. */
const NUMERIC = new Set(['leases.ttl_seconds', 'rotations.period_seconds', 'rotations.grace_seconds', 'lease_count_quotas.max_leases', 'rate_limit_quotas.rate']);

const normalise = (table: string, column: string, v: unknown): MacValue => {
  if (v === null || v === undefined) return null;
  if (NUMERIC.has(`${table}.${column}`)) return Number(v);
  // rows.ts binds a password policy's document only (its rules are parsed from it).
  if (table === 'password_policies' && column === 'policy') return String((v as { document?: unknown }).document ?? '');
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (v instanceof Date) return new Date(v);
  return v as MacValue;
};

/**
 * Rows written before migration 0008 have no MAC. The process that applied 0008 computes them at its first unseal
 * (trust on first use: the rows are taken as they stand then). Any other process leaves them alone, and readers refuse
 * them, so that a writer who clears a MAC cannot get the broker to re-sign what it changed. Returns rows adopted per table.
 */
export async function adoptUnsignedRows(deps: { db: Db; store: UnsignedRowsStore; rowMac: RowMac; log: Logger }): Promise<Record<string, number>> {
  const adopted: Record<string, number> = {};
  if (!deps.rowMac.enabled) return adopted;
  await deps.db.tx(async (q) => {
    for (const table of Object.keys(ROW_MAC_FIELDS) as MacTable[]) {
      if (table === 'token_tombstones') continue;
      const cols: readonly string[] = ROW_MAC_FIELDS[table];
      const pk = cols[0] ?? 'id';
      const rows = await deps.store.lockUnsigned(q, table, cols);
      for (const row of rows) {
        const fields = cols.map((c) => normalise(table, c, row[c])) as unknown as MacFields<typeof table>;
        await deps.store.setMac(q, table, pk, row[pk], deps.rowMac.sign(table, fields));
      }
      if (rows.length > 0) adopted[table] = rows.length;
    }
  });
  if (Object.keys(adopted).length > 0) deps.log.warn({ adopted }, 'rows written before row integrity (migration 0008) were adopted: their MACs were computed now');
  return adopted;
}
