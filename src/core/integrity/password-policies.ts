import type { Queryable } from '../../storage/db.ts';
import type { PasswordPoliciesStore, StoredPasswordPolicy } from '../../storage/password-policies-store.ts';
import { parsePasswordPolicy } from '../policy/passwords.ts';
import type { RowMac } from './row-mac.ts';
import { passwordPolicyFields } from './rows.ts';

/** The password policies as the broker uses them (sys/policies/password, the generator). */
export interface PasswordPolicies {
  get(name: string): Promise<StoredPasswordPolicy | null>;
  put(p: StoredPasswordPolicy): Promise<void>;
  delete(name: string): Promise<void>;
  list(): Promise<string[]>;
}

/**
 * The password policies store as the broker uses it: every write is signed, every read is checked, and the
 * generation rules are derived from the MAC-checked document, never taken from the stored parsed form.
 */
export function checkedPasswordPolicies(db: Queryable, store: PasswordPoliciesStore, rowMac: RowMac): PasswordPolicies {
  return {
    async get(name: string): Promise<StoredPasswordPolicy | null> {
      const row = await store.get(db, name);
      if (!row) return null;
      rowMac.verify('password_policies', passwordPolicyFields(row), row.mac ?? null);
      return { name: row.name, policy: { document: row.policy.document, ...parsePasswordPolicy(row.policy.document) } };
    },
    async put(p: StoredPasswordPolicy): Promise<void> {
      await store.put(db, { ...p, mac: rowMac.sign('password_policies', passwordPolicyFields(p)) });
    },
    delete: (name) => store.delete(db, name),
    list: () => store.list(db),
  };
}
