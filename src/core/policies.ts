import { AppError, badRequest } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Db } from '../storage/db.ts';
import type { PoliciesStore } from '../storage/policies-store.ts';
import { compileAcl, type Acl } from './acl/compile.ts';
import { parsePolicy, type PolicyRule } from './acl/parse.ts';
import { expandTemplates, isTemplated } from './acl/templates.ts';
import type { Authorizer } from './policy.ts';
import type { TokenEntry } from './tokens.ts';

/** Vault's built-in `default` policy (the part that applies here). Editable, never deletable. */
export const DEFAULT_POLICY = `# Tokens may look up, renew and revoke themselves, and ask what they may do.
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
path "sys/capabilities-self" {
  capabilities = ["update"]
}
# Wrap values, and look up and unwrap response-wrapping tokens (the token is the capability, as in Vault).
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "sys/wrapping/lookup" {
  capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
  capabilities = ["update"]
}
# Renew and look up a lease by its id (the id is the capability, as in Vault).
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/leases/lookup" {
  capabilities = ["update"]
}
path "sys/renew" {
  capabilities = ["update"]
}
# The mount of a path and its options, as the vault CLI's "kv" commands ask for them.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
`;

const CHANNEL = 'sealbox_policies';
const NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/;
const ACL_CACHE_MAX = 5000;

export function normalizePolicyName(name: string): string {
  const n = name.toLowerCase();
  if (!NAME.test(n)) throw badRequest(`invalid policy name "${name.slice(0, 60)}": use letters, digits, '_', '-' and '.'`);
  return n;
}

/** ACL policies: storage, parsing, and compiled evaluation cached per policy set (and identity, when templated). */
export function createPolicies(deps: { db: Db; store: PoliciesStore; log: Logger }) {
  const rulesCache = new Map<string, PolicyRule[] | null>();
  const aclCache = new Map<string, Acl>();
  const clear = (): void => {
    rulesCache.clear();
    aclCache.clear();
  };

  const rulesFor = async (names: readonly string[]): Promise<PolicyRule[][]> => {
    const missing = names.filter((n) => !rulesCache.has(n));
    if (missing.length > 0) {
      const rows = await deps.store.getMany(missing);
      for (const n of missing) rulesCache.set(n, null);
      for (const r of rows) rulesCache.set(r.name, r.rules as PolicyRule[]);
    }
    return names.map((n) => rulesCache.get(n) ?? []);
  };

  const aclFor = async (token: TokenEntry): Promise<Acl> => {
    const names = token.policies.filter((p) => p !== 'root');
    const sets = await rulesFor(names);
    const templated = sets.some((rules) => rules.some(isTemplated));
    const key = templated ? `${names.join(',')}|${token.entityName}|${JSON.stringify(token.alias)}` : names.join(',');
    let acl = aclCache.get(key);
    if (!acl) {
      const rules = sets.flat();
      acl = compileAcl(templated ? expandTemplates(rules, token) : rules);
      if (aclCache.size >= ACL_CACHE_MAX) aclCache.clear();
      aclCache.set(key, acl);
    }
    return acl;
  };

  const changed = async (): Promise<void> => {
    clear();
    await deps.db.notify(CHANNEL, 'changed');
  };

  return {
    aclFor,
    async listenForChanges(): Promise<void> {
      await deps.db.listen(CHANNEL, () => clear());
    },
    async ensureDefault(): Promise<void> {
      await deps.store.put({ name: 'default', document: DEFAULT_POLICY, rules: parsePolicy(DEFAULT_POLICY) }, true);
    },
    async put(rawName: string, document: string): Promise<void> {
      const name = normalizePolicyName(rawName);
      if (name === 'root' || name === 'response-wrapping') throw badRequest(`cannot update the ${name} policy`);
      await deps.store.put({ name, document, rules: parsePolicy(document) });
      await changed();
    },
    async get(rawName: string): Promise<{ name: string; document: string } | null> {
      const name = normalizePolicyName(rawName);
      if (name === 'root') return { name, document: '' };
      return deps.store.get(name);
    },
    async list(): Promise<string[]> {
      return [...new Set([...(await deps.store.names()), 'root'])].sort();
    },
    async delete(rawName: string): Promise<void> {
      const name = normalizePolicyName(rawName);
      if (name === 'root' || name === 'default') throw new AppError('bad_request', `cannot delete the ${name} policy`);
      await deps.store.delete(name);
      await changed();
    },
  };
}

export type Policies = ReturnType<typeof createPolicies>;

/** Vault's ACL semantics: root may do anything; otherwise the most specific rule decides, deny wins, sudo where required. */
export function createAclAuthorizer(policies: Policies): Authorizer & { capabilities(token: TokenEntry, path: string): Promise<string[]> } {
  return {
    async allowed(token, path, capability, needsSudo) {
      if (token.policies.includes('root')) return true;
      const caps = (await policies.aclFor(token)).capabilities(path);
      if (caps.has('deny')) return false;
      if (needsSudo && !caps.has('sudo')) return false;
      return caps.has(capability);
    },
    async wrappingLimits(token, path) {
      if (token.policies.includes('root')) return null;
      return (await policies.aclFor(token)).wrappingLimits?.(path) ?? null;
    },
    async capabilities(token, path) {
      if (token.policies.includes('root')) return ['root'];
      const caps = (await policies.aclFor(token)).capabilities(path);
      return caps.size === 0 ? ['deny'] : [...caps].sort();
    },
  };
}
