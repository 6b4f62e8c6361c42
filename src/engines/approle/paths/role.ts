/** role/:name (read, create or update, delete), LIST role, role/:name/role-id (read, set a custom one). */
import { z } from 'zod';
import { AppError, badRequest, notFound } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { op, type EngineRequest, type EngineResponse, type PathDef, type StorageView } from '../../../core/engine.ts';
import { validateCidrs } from '../cidr.ts';
import { boolField, credentialField, durationField, nonNegativeInt, stringListField } from '../input.ts';
import {
  accessorPrefix,
  decodeRoleIdIndex,
  encode,
  loadRole,
  roleKey,
  roleName,
  roleWire,
  ROLES_LOCK,
  secretIdPrefix,
  type AppRoleDeps,
  type RoleEntry,
  type RoleIdIndex,
} from '../model.ts';

const roleInput = z.object({
  role_id: credentialField.optional(),
  bind_secret_id: boolField.optional(),
  secret_id_bound_cidrs: stringListField.optional(),
  /** Deprecated name of secret_id_bound_cidrs. */
  bound_cidr_list: stringListField.optional(),
  secret_id_num_uses: nonNegativeInt.optional(),
  secret_id_ttl: durationField.optional(),
  token_policies: stringListField.optional(),
  /** Deprecated name of token_policies. */
  policies: stringListField.optional(),
  token_ttl: durationField.optional(),
  token_max_ttl: durationField.optional(),
  token_explicit_max_ttl: durationField.optional(),
  /** Vault's token types: sealbox issues service tokens only, so batch types are refused. */
  token_type: z.enum(['', 'default', 'service', 'default-service', 'batch', 'default-batch']).optional(),
  token_period: durationField.optional(),
  /** Deprecated name of token_period. */
  period: durationField.optional(),
  token_num_uses: nonNegativeInt.optional(),
  token_bound_cidrs: stringListField.optional(),
  token_no_default_policy: boolField.optional(),
  /** Vault: secret IDs kept out of performance replication. Read back false; true is refused (see applyRole). */
  local_secret_ids: boolField.optional(),
});
type RoleInput = z.output<typeof roleInput>;

const roleIdInput = z.object({ role_id: credentialField });

type IndexKey = (roleId: string) => string;

function normalisePolicies(policies: string[]): string[] {
  const out = [...new Set(policies.map((p) => p.toLowerCase()))];
  if (out.includes('root')) throw badRequest('token_policies: an AppRole cannot grant the root policy');
  for (const p of out) if (!/^[a-z0-9_.\-/+*]{1,128}$/.test(p)) throw badRequest(`token_policies: "${p.slice(0, 64)}" is not a valid policy name`);
  return out;
}

const seconds = (value: string | number | undefined, field: string, current: number): number =>
  value === undefined ? current : parseDuration(value, field);

/** Applies the given fields to a role (or to a new one), then checks the role as a whole. */
function applyRole(role: RoleEntry, input: RoleInput): RoleEntry {
  const next: RoleEntry = { ...role };
  if (input.bind_secret_id !== undefined) next.bindSecretId = input.bind_secret_id;
  const boundCidrs = input.secret_id_bound_cidrs ?? input.bound_cidr_list;
  if (boundCidrs !== undefined) next.secretIdBoundCidrs = validateCidrs(boundCidrs, 'secret_id_bound_cidrs');
  if (input.secret_id_num_uses !== undefined) next.secretIdNumUses = input.secret_id_num_uses;
  next.secretIdTtl = seconds(input.secret_id_ttl, 'secret_id_ttl', role.secretIdTtl);
  const policies = input.token_policies ?? input.policies;
  if (policies !== undefined) next.tokenPolicies = normalisePolicies(policies);
  next.tokenTtl = seconds(input.token_ttl, 'token_ttl', role.tokenTtl);
  next.tokenMaxTtl = seconds(input.token_max_ttl, 'token_max_ttl', role.tokenMaxTtl);
  next.tokenExplicitMaxTtl = seconds(input.token_explicit_max_ttl, 'token_explicit_max_ttl', role.tokenExplicitMaxTtl ?? 0);
  if (input.local_secret_ids === true) throw badRequest('local_secret_ids: not supported (sealbox has no performance replication; every replica shares the secret IDs): send false');
  if (input.token_type === 'batch' || input.token_type === 'default-batch') throw badRequest(`token_type: sealbox issues service tokens only; "${input.token_type}" is not supported`);
  next.tokenPeriod = seconds(input.token_period ?? input.period, 'token_period', role.tokenPeriod);
  if (input.token_num_uses !== undefined) next.tokenNumUses = input.token_num_uses;
  if (input.token_bound_cidrs !== undefined) {
    next.tokenBoundCidrs = validateCidrs(input.token_bound_cidrs, 'token_bound_cidrs');
    if (next.tokenBoundCidrs.length > 0) throw badRequest('token_bound_cidrs: binding tokens to source addresses is not enforced by sealbox yet, so it is refused rather than stored and ignored; leave it empty (secret_id_bound_cidrs and cidr_list are enforced)');
  }
  if (input.token_no_default_policy !== undefined) next.tokenNoDefaultPolicy = input.token_no_default_policy;

  if (next.tokenMaxTtl > 0 && next.tokenTtl > next.tokenMaxTtl) throw badRequest('token_ttl cannot be greater than token_max_ttl');
  // Vault also accepts token_bound_cidrs as the only constraint; sealbox does not enforce token_bound_cidrs yet,
  // so a role without a secret ID must be bound to source addresses that the login itself checks.
  if (!next.bindSecretId && next.secretIdBoundCidrs.length === 0) {
    throw badRequest('at least one constraint should be enabled on the role: bind_secret_id or secret_id_bound_cidrs');
  }
  return next;
}

function newRole(deps: AppRoleDeps, name: string): RoleEntry {
  return {
    name,
    roleId: deps.random.uuid(),
    hmacKey: deps.random.bytes(32).toString('base64'),
    bindSecretId: true,
    secretIdBoundCidrs: [],
    secretIdNumUses: 0,
    secretIdTtl: 0,
    tokenPolicies: [],
    tokenTtl: 0,
    tokenMaxTtl: 0,
    tokenPeriod: 0,
    tokenNumUses: 0,
    tokenBoundCidrs: [],
    tokenNoDefaultPolicy: false,
  };
}

/** Stores the role and keeps the role ID index in step; a role ID that belongs to another role is refused. */
async function saveRole(s: StorageView, indexKey: IndexKey, role: RoleEntry, previousRoleId: string | null): Promise<void> {
  const key = indexKey(role.roleId);
  const owner = decodeRoleIdIndex(await s.get(key));
  if (owner && owner.name !== role.name) throw new AppError('conflict', 'role_id already in use');
  if (previousRoleId !== null && previousRoleId !== role.roleId) await s.delete([indexKey(previousRoleId)]);
  await s.put(roleKey(role.name), encode(role));
  if (!owner) await s.put(key, encode({ name: role.name }));
}

async function writeRole(deps: AppRoleDeps, index: RoleIdIndex, name: string, input: RoleInput): Promise<EngineResponse> {
  const indexKey = await index.keyer();
  return deps.storage.locked(ROLES_LOCK, async (s) => {
    const existing = await loadRole(s, name);
    const role = applyRole(existing ?? newRole(deps, name), input);
    if (input.role_id !== undefined) role.roleId = input.role_id;
    await saveRole(s, indexKey, role, existing?.roleId ?? null);
    return {};
  });
}

async function deleteRole(deps: AppRoleDeps, index: RoleIdIndex, name: string): Promise<EngineResponse> {
  const indexKey = await index.keyer();
  await deps.storage.locked(ROLES_LOCK, async (s) => {
    const role = await loadRole(s, name);
    if (!role) return;
    await s.deletePrefix(secretIdPrefix(name));
    await s.deletePrefix(accessorPrefix(name));
    await s.delete([indexKey(role.roleId), roleKey(name)]);
  });
  return {};
}

async function readRole(deps: AppRoleDeps, name: string): Promise<RoleEntry> {
  const role = await loadRole(deps.storage, name);
  if (!role) throw notFound();
  return role;
}

async function setRoleId(deps: AppRoleDeps, index: RoleIdIndex, name: string, roleId: string): Promise<EngineResponse> {
  const indexKey = await index.keyer();
  return deps.storage.locked(ROLES_LOCK, async (s) => {
    const role = await loadRole(s, name);
    if (!role) throw notFound(`role "${name}" does not exist`);
    await saveRole(s, indexKey, { ...role, roleId }, role.roleId);
    return {};
  });
}

export function createRolePaths(deps: AppRoleDeps, index: RoleIdIndex): PathDef[] {
  const empty = z.object({});
  /** Decides create versus update for ACLs; runs before authorisation, so a bad name is simply "absent" here. */
  const exists = async (req: EngineRequest): Promise<boolean> => {
    let name: string;
    try {
      name = roleName(req.params);
    } catch {
      return false;
    }
    return (await loadRole(deps.storage, name)) !== null;
  };
  return [
    {
      pattern: 'role',
      operations: {
        list: op(empty, async () => {
          const keys = await deps.storage.list('role/');
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        }),
      },
    },
    {
      pattern: 'role/:name',
      exists,
      operations: {
        read: op(empty, async ({ params }) => ({ data: roleWire(await readRole(deps, roleName(params))) })),
        update: op(roleInput, async ({ params, input }) => writeRole(deps, index, roleName(params), input)),
        delete: op(empty, async ({ params }) => deleteRole(deps, index, roleName(params))),
      },
    },
    {
      pattern: 'role/:name/role-id',
      operations: {
        read: op(empty, async ({ params }) => ({ data: { role_id: (await readRole(deps, roleName(params))).roleId } })),
        update: op(roleIdInput, async ({ params, input }) => setRoleId(deps, index, roleName(params), input.role_id)),
      },
    },
  ];
}
