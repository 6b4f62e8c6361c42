/**
 * Rows with no integrity MAC (written before migration 0008), for their one-time adoption (core/integrity/adopt.ts).
 * Table and column names come from the caller's fixed list of MAC'd tables, never from input.
 */
import type { Queryable } from './db.ts';

const IDENT = /^[a-z_][a-z0-9_]*$/;
const ident = (name: string): string => {
  if (!IDENT.test(name)) throw new Error(`unsigned-rows-store: not an identifier: ${name}`);
  return name;
};

export function createUnsignedRowsStore() {
  return {
    /** The rows of `table` without a MAC, locked for the transaction `q`, with the named columns. */
    async lockUnsigned(q: Queryable, table: string, columns: readonly string[]): Promise<Record<string, unknown>[]> {
      const r = await q.query<Record<string, unknown>>(`SELECT ${columns.map(ident).join(', ')} FROM ${ident(table)} WHERE mac IS NULL FOR UPDATE`);
      return r.rows;
    },
    async setMac(q: Queryable, table: string, pkColumn: string, pk: unknown, mac: Buffer | null): Promise<void> {
      await q.query(`UPDATE ${ident(table)} SET mac = $1 WHERE ${ident(pkColumn)} = $2`, [mac, pk]);
    },
  };
}

export type UnsignedRowsStore = ReturnType<typeof createUnsignedRowsStore>;
