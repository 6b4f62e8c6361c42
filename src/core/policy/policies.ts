import { AppError, badRequest } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Db } from '../../storage/db.ts';
import type { PoliciesStore } from '../../storage/policies-store.ts';
import { checkName } from '../../lib/names.ts';
import { compileAcl, type Acl } from './acl/compile.ts';
import { parametersAllowed } from './acl/parameters.ts';
import { parsePolicy, type PolicyRule } from './acl/parse.ts';
import { expandTemplates, isTemplated } from './acl/templates.ts';
import type { RowMac } from '../integrity/row-mac.ts';
import { policyFields } from '../integrity/rows.ts';
import type { Authorizer, Capability } from './policy.ts';
import type { TokenEntry } from '../tokens/tokens.ts';

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
# Acknowledge a version applied (issue 20); the handler also requires read on the acknowledged path.
path "sys/consumers/ack" {
  capabilities = ["update"]
}
# The mount of a path and its options, as the vault CLI's "kv" commands ask for them.
path "sys/internal/ui/mounts/*" {
  capabilities = ["read"]
}
`;

const CHANNEL = 'sealbox_policies';
const ACL_CACHE_MAX = 5000;

export function normalizePolicyName(name: string): string {
  const n = name.toLowerCase();
  checkName(n, 'policy name');
  return n;
}

/** ACL policies: storage, parsing, and compiled evaluation cached per policy set (and identity, when templated). */
export function createPolicies(deps: { db: Db; store: PoliciesStore; log: Logger; rowMac: RowMac }) {
  const rulesCache = new Map<string, PolicyRule[] | null>();
  const aclCache = new Map<string, Acl>();
  // Each token entry's ACL, for `aclCached`: valid while no policy changed since (the generation is bumped by clear).
  let generation = 0;
  const byEntry = new WeakMap<TokenEntry, { generation: number; acl: Acl }>();
  const clear = (): void => {
    generation++;
    rulesCache.clear();
    aclCache.clear();
  };

  const rulesFor = async (names: readonly string[]): Promise<PolicyRule[][]> => {
    const missing = names.filter((n) => !rulesCache.has(n));
    if (missing.length > 0) {
      const rows = await deps.store.getMany(deps.db, missing);
      // Derived, never trusted: the rules come from the MAC-checked document. A row that fails throws a 500 and
      // nothing is cached, so every request that needs it fails (and logs) until it checks again.
      const parsed = rows.map((r) => {
        deps.rowMac.verify('policies', policyFields(r), r.mac);
        return [r.name, parsePolicy(r.document)] as const;
      });
      for (const n of missing) rulesCache.set(n, null);
      for (const [n, rules] of parsed) rulesCache.set(n, rules);
    }
    return names.map((n) => rulesCache.get(n) ?? []);
  };

  const aclFor = async (token: TokenEntry): Promise<Acl> => {
    const known = byEntry.get(token);
    if (known && known.generation === generation) return known.acl;
    const seen = generation;
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
    if (seen === generation) byEntry.set(token, { generation, acl });
    return acl;
  };

  const changed = async (): Promise<void> => {
    clear();
    await deps.db.notify(CHANNEL, 'changed');
  };

  return {
    aclFor,
    /** The ACL `aclFor` last gave for this very entry object, if no policy changed since; undefined otherwise. */
    aclCached(token: TokenEntry): Acl | undefined {
      const known = byEntry.get(token);
      return known && known.generation === generation ? known.acl : undefined;
    },
    async listenForChanges(): Promise<void> {
      await deps.db.listen(CHANNEL, () => clear());
    },
    async ensureDefault(): Promise<void> {
      const row = { name: 'default', document: DEFAULT_POLICY };
      await deps.store.put(deps.db, { ...row, rules: parsePolicy(DEFAULT_POLICY), mac: deps.rowMac.sign('policies', policyFields(row)) }, true);
    },
    async put(rawName: string, document: string): Promise<void> {
      const name = normalizePolicyName(rawName);
      if (name === 'root' || name === 'response-wrapping') throw badRequest(`cannot update the ${name} policy`);
      await deps.store.put(deps.db, { name, document, rules: parsePolicy(document), mac: deps.rowMac.sign('policies', policyFields({ name, document })) });
      await changed();
    },
    async get(rawName: string): Promise<{ name: string; document: string } | null> {
      const name = normalizePolicyName(rawName);
      if (name === 'root') return { name, document: '' };
      const row = await deps.store.get(deps.db, name);
      if (row) deps.rowMac.verify('policies', policyFields(row), row.mac);
      return row && { name: row.name, document: row.document };
    },
    async list(): Promise<string[]> {
      return [...new Set([...(await deps.store.names(deps.db)), 'root'])].sort();
    },
    async delete(rawName: string): Promise<void> {
      const name = normalizePolicyName(rawName);
      if (name === 'root' || name === 'default') throw new AppError('bad_request', `cannot delete the ${name} policy`);
      await deps.store.delete(deps.db, name);
      await changed();
    },
  };
}

export type Policies = ReturnType<typeof createPolicies>;

function decide(caps: ReadonlySet<Capability>, capability: Capability, needsSudo: boolean): boolean {
  if (caps.has('deny')) return false;
  if (needsSudo && !caps.has('sudo')) return false;
  return caps.has(capability);
}

/** Vault's ACL semantics: root may do anything; otherwise the most specific rule decides, deny wins, sudo where required. */
export function createAclAuthorizer(
  policies: Policies,
): Authorizer & { capabilities(token: TokenEntry, path: string): Promise<string[]>; mountAccess(token: TokenEntry, mountPath: string): Promise<boolean> } {
  return {
    /** Vault's hasMountAccess: some capability on some path of the mount (sys/internal/ui/mounts answers only then). */
    async mountAccess(token, mountPath) {
      if (token.policies.includes('root')) return true;
      return (await policies.aclFor(token)).anyUnder(mountPath);
    },
    async allowed(token, path, capability, needsSudo) {
      if (token.policies.includes('root')) return true;
      return decide((await policies.aclFor(token)).capabilities(path), capability, needsSudo);
    },
    allowedNow(token, path, capability, needsSudo) {
      if (token.policies.includes('root')) return true;
      const acl = policies.aclCached(token);
      return acl && decide(acl.capabilities(path), capability, needsSudo);
    },
    async check(token, path, capability, needsSudo, data) {
      if (token.policies.includes('root')) return { allowed: true };
      const perms = (await policies.aclFor(token)).permissions(path);
      const caps = perms.caps;
      if (caps.has('deny') || (needsSudo && !caps.has('sudo')) || !caps.has(capability)) return { allowed: false };
      const bounds = {
        ...(perms.minWrappingTtl ? { minWrappingTtl: perms.minWrappingTtl } : {}),
        ...(perms.maxWrappingTtl ? { maxWrappingTtl: perms.maxWrappingTtl } : {}),
      };
      // Vault: merged bounds that cross (min above max) can be met by no request.
      if (bounds.minWrappingTtl && bounds.maxWrappingTtl && bounds.maxWrappingTtl < bounds.minWrappingTtl) return { allowed: false };
      const constrained = capability === 'read' || capability === 'create' || capability === 'update' || capability === 'patch';
      if (constrained && !parametersAllowed(perms, data)) return { allowed: false };
      return { allowed: true, ...bounds };
    },
    async capabilities(token, path) {
      if (token.policies.includes('root')) return ['root'];
      const caps = (await policies.aclFor(token)).capabilities(path);
      return caps.size === 0 ? ['deny'] : [...caps].sort();
    },
  };
}
