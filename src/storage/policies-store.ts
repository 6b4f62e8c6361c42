import type { Queryable } from './db.ts';

export interface PolicyRow {
  name: string;
  document: string;
  rules: { path: string; capabilities: string[] }[];
}

export function createPoliciesStore(db: Queryable) {
  return {
    async get(name: string): Promise<PolicyRow | null> {
      const r = await db.query<PolicyRow>('SELECT name, document, rules FROM policies WHERE name = $1', [name]);
      return r.rows[0] ?? null;
    },
    async getMany(names: readonly string[]): Promise<PolicyRow[]> {
      const r = await db.query<PolicyRow>('SELECT name, document, rules FROM policies WHERE name = ANY($1::text[])', [names]);
      return r.rows;
    },
    async names(): Promise<string[]> {
      const r = await db.query<{ name: string }>('SELECT name FROM policies ORDER BY name');
      return r.rows.map((row) => row.name);
    },
    async put(p: PolicyRow, onlyIfAbsent = false): Promise<void> {
      await db.query(
        `INSERT INTO policies (name, document, rules) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO ${onlyIfAbsent ? 'NOTHING' : 'UPDATE SET document = EXCLUDED.document, rules = EXCLUDED.rules, updated_at = now()'}`,
        [p.name, p.document, JSON.stringify(p.rules)],
      );
    },
    async delete(name: string): Promise<boolean> {
      const r = await db.query('DELETE FROM policies WHERE name = $1', [name]);
      return r.rowCount === 1;
    },
  };
}

export type PoliciesStore = ReturnType<typeof createPoliciesStore>;
