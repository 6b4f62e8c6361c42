import { toBuffer, type Queryable } from './db.ts';

/** sys/policies/password/:name (migrations/0005): generation rules as parsed JSON, plus the document as written. */
export interface StoredPasswordPolicy {
  name: string;
  policy: { document: string; length: number; rules: { charset: string; minChars: number }[] };
  /** The row's integrity MAC (core/integrity/row-mac.ts); absent on a row about to be written. */
  mac?: Buffer | null;
}

export function createPasswordPoliciesStore() {
  return {
    async get(q: Queryable, name: string): Promise<StoredPasswordPolicy | null> {
      const r = await q.query<{ name: string; policy: StoredPasswordPolicy['policy']; mac: Uint8Array | null }>(
        `SELECT name, policy, mac FROM password_policies WHERE name = $1`,
        [name],
      );
      const row = r.rows[0];
      return row ? { name: row.name, policy: row.policy, mac: row.mac ? toBuffer(row.mac) : null } : null;
    },
    async put(q: Queryable, p: StoredPasswordPolicy): Promise<void> {
      await q.query(
        `INSERT INTO password_policies (name, policy, mac) VALUES ($1, $2::jsonb, $3)
         ON CONFLICT (name) DO UPDATE SET policy = EXCLUDED.policy, mac = EXCLUDED.mac, updated_at = now()`,
        [p.name, JSON.stringify(p.policy), p.mac ?? null],
      );
    },
    async delete(q: Queryable, name: string): Promise<void> {
      await q.query(`DELETE FROM password_policies WHERE name = $1`, [name]);
    },
    async list(q: Queryable): Promise<string[]> {
      const r = await q.query<{ name: string }>(`SELECT name FROM password_policies ORDER BY name`);
      return r.rows.map((x) => x.name);
    },
  };
}

export type PasswordPoliciesStore = ReturnType<typeof createPasswordPoliciesStore>;
