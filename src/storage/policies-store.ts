import { toBuffer, type Queryable } from './db.ts';

/**
 * A stored ACL policy: the document as written and its integrity MAC. The `rules` column (the parsed form) is still
 * written for operators who query it, but never read: the broker derives the rules from the MAC-checked document.
 */
export interface PolicyRow {
  name: string;
  document: string;
  mac: Buffer | null;
}

interface Raw {
  name: string;
  document: string;
  mac: Uint8Array | null;
}

const toRow = (r: Raw): PolicyRow => ({ name: r.name, document: r.document, mac: r.mac ? toBuffer(r.mac) : null });

export function createPoliciesStore() {
  return {
    async get(q: Queryable, name: string): Promise<PolicyRow | null> {
      const r = await q.query<Raw>('SELECT name, document, mac FROM policies WHERE name = $1', [name]);
      return r.rows[0] ? toRow(r.rows[0]) : null;
    },
    async getMany(q: Queryable, names: readonly string[]): Promise<PolicyRow[]> {
      const r = await q.query<Raw>('SELECT name, document, mac FROM policies WHERE name = ANY($1::text[])', [names]);
      return r.rows.map(toRow);
    },
    async names(q: Queryable): Promise<string[]> {
      const r = await q.query<{ name: string }>('SELECT name FROM policies ORDER BY name');
      return r.rows.map((row) => row.name);
    },
    async put(q: Queryable, p: PolicyRow & { rules: unknown }, onlyIfAbsent = false): Promise<void> {
      await q.query(
        `INSERT INTO policies (name, document, rules, mac) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO ${onlyIfAbsent ? 'NOTHING' : 'UPDATE SET document = EXCLUDED.document, rules = EXCLUDED.rules, mac = EXCLUDED.mac, updated_at = now()'}`,
        [p.name, p.document, JSON.stringify(p.rules), p.mac],
      );
    },
    async delete(q: Queryable, name: string): Promise<boolean> {
      const r = await q.query('DELETE FROM policies WHERE name = $1', [name]);
      return r.rowCount === 1;
    },
  };
}

export type PoliciesStore = ReturnType<typeof createPoliciesStore>;
