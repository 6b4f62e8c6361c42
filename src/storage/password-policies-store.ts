import type { Db } from './db.ts';

/** sys/policies/password/:name (migrations/0005): generation rules as parsed JSON, plus the document as written. */
export interface StoredPasswordPolicy {
  name: string;
  policy: { document: string; length: number; rules: { charset: string; minChars: number }[] };
}

export function createPasswordPoliciesStore(db: Db) {
  return {
    async get(name: string): Promise<StoredPasswordPolicy | null> {
      const r = await db.query<{ name: string; policy: StoredPasswordPolicy['policy'] }>(`SELECT name, policy FROM password_policies WHERE name = $1`, [name]);
      return r.rows[0] ?? null;
    },
    async put(p: StoredPasswordPolicy): Promise<void> {
      await db.query(
        `INSERT INTO password_policies (name, policy) VALUES ($1, $2::jsonb)
         ON CONFLICT (name) DO UPDATE SET policy = EXCLUDED.policy, updated_at = now()`,
        [p.name, JSON.stringify(p.policy)],
      );
    },
    async delete(name: string): Promise<void> {
      await db.query(`DELETE FROM password_policies WHERE name = $1`, [name]);
    },
    async list(): Promise<string[]> {
      const r = await db.query<{ name: string }>(`SELECT name FROM password_policies ORDER BY name`);
      return r.rows.map((x) => x.name);
    },
  };
}

export type PasswordPoliciesStore = ReturnType<typeof createPasswordPoliciesStore>;
