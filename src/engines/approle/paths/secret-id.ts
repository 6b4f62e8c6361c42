/**
 * role/:name/secret-id (generate; LIST → accessors), secret-id/lookup, secret-id/destroy,
 * secret-id-accessor/lookup, secret-id-accessor/destroy. Secret IDs travel only in request bodies, never in URLs.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import { isCidrSubset, validateCidrs } from '../cidr.ts';
import { credentialField, durationField, metadataField, nonNegativeInt, normaliseMetadata, stringListField } from '../input.ts';
import {
  accessorKey,
  accessorPrefix,
  decodeAccessor,
  decodeSecretId,
  encode,
  isExpired,
  loadRole,
  ROLES_LOCK,
  secretIdHash,
  secretIdKey,
  secretIdWire,
  roleName,
  type AppRoleDeps,
  type RoleEntry,
  type SecretIdEntry,
} from '../model.ts';

const generateInput = z.object({
  metadata: metadataField.optional(),
  cidr_list: stringListField.optional(),
  token_bound_cidrs: stringListField.optional(),
  ttl: durationField.optional(),
  num_uses: nonNegativeInt.optional(),
});
type GenerateInput = z.output<typeof generateInput>;
/** custom-secret-id: the caller chooses the secret ID (Terraform's vault_approle_auth_backend_role_secret_id). */
const customInput = generateInput.extend({ secret_id: credentialField });

const secretIdInput = z.object({ secret_id: credentialField });
const accessorInput = z.object({ secret_id_accessor: credentialField });

async function requireRole(deps: AppRoleDeps, name: string): Promise<RoleEntry> {
  const role = await loadRole(deps.storage, name);
  if (!role) throw notFound(`role "${name}" does not exist`);
  return role;
}

/** The secret ID's settings from the request and the role's limits, as Vault checks them. */
function newSecretIdEntry(deps: AppRoleDeps, role: RoleEntry, input: GenerateInput): SecretIdEntry {
  const cidrList = validateCidrs(input.cidr_list ?? [], 'cidr_list');
  if (!isCidrSubset(cidrList, role.secretIdBoundCidrs)) throw badRequest("cidr_list must be a subset of the role's secret_id_bound_cidrs");
  const tokenBoundCidrs = validateCidrs(input.token_bound_cidrs ?? [], 'token_bound_cidrs');
  if (tokenBoundCidrs.length > 0) throw badRequest('token_bound_cidrs: binding tokens to source addresses is not enforced by sealbox yet, so it is refused rather than stored and ignored; leave it empty (secret_id_bound_cidrs and cidr_list are enforced)');
  if (!isCidrSubset(tokenBoundCidrs, role.tokenBoundCidrs)) throw badRequest("token_bound_cidrs must be a subset of the role's token_bound_cidrs");

  const numUses = input.num_uses ?? role.secretIdNumUses;
  if (role.secretIdNumUses > 0 && (numUses === 0 || numUses > role.secretIdNumUses)) {
    throw badRequest("num_uses cannot be higher than the role's secret_id_num_uses");
  }
  const ttl = input.ttl === undefined ? role.secretIdTtl : parseDuration(input.ttl, 'ttl');
  if (role.secretIdTtl > 0 && (ttl === 0 || ttl > role.secretIdTtl)) throw badRequest("ttl cannot be longer than the role's secret_id_ttl");

  const now = deps.clock.now();
  return {
    accessor: deps.random.uuid(),
    numUses,
    ttl,
    creationTime: now.toISOString(),
    expirationTime: ttl > 0 ? new Date(now.getTime() + ttl * 1000).toISOString() : '',
    lastUpdatedTime: now.toISOString(),
    metadata: normaliseMetadata(input.metadata),
    cidrList,
    tokenBoundCidrs,
  };
}

async function generate(deps: AppRoleDeps, name: string, input: GenerateInput, custom?: string): Promise<EngineResponse> {
  const role = await requireRole(deps, name);
  if (!role.bindSecretId) throw badRequest('bind_secret_id is not set on the role');
  const entry = newSecretIdEntry(deps, role, input);
  const secretId = custom ?? deps.random.uuid();
  await deps.storage.locked(ROLES_LOCK, async (s) => {
    // Re-read under the lock: the role may have been deleted or re-created (with a new key) meanwhile.
    const current = await loadRole(s, name);
    if (current?.hmacKey !== role.hmacKey) throw notFound(`role "${name}" does not exist`);
    if (custom !== undefined && (await s.get(secretIdKey(name, secretIdHash(role, secretId))))) throw badRequest('SecretID is already registered');
    await s.put(secretIdKey(name, secretIdHash(role, secretId)), encode(entry));
    await s.put(accessorKey(name, entry.accessor), encode({ hash: secretIdHash(role, secretId) }));
  });
  return {
    data: { secret_id: secretId, secret_id_accessor: entry.accessor, secret_id_ttl: entry.ttl, secret_id_num_uses: entry.numUses },
  };
}

/**
 * Reads a secret ID entry under its lock; an expired one is deleted (with its accessor) and reported as absent.
 * `then` runs inside the same transaction with the live entry.
 */
async function withLiveEntry(
  deps: AppRoleDeps,
  name: string,
  hash: string,
  then: (entry: SecretIdEntry, remove: () => Promise<void>) => Promise<EngineResponse>,
): Promise<EngineResponse> {
  const key = secretIdKey(name, hash);
  return deps.storage.locked(key, async (s) => {
    const entry = decodeSecretId(await s.get(key));
    if (!entry) return {};
    const remove = (): Promise<void> => s.delete([key, accessorKey(name, entry.accessor)]);
    if (isExpired(entry, deps.clock.now())) {
      await remove();
      return {};
    }
    return then(entry, remove);
  });
}

async function hashOfAccessor(deps: AppRoleDeps, name: string, accessor: string): Promise<string> {
  const found = decodeAccessor(await deps.storage.get(accessorKey(name, accessor)));
  if (!found) throw notFound(`no secret ID with accessor "${accessor.slice(0, 64)}" on role "${name}"`);
  return found.hash;
}

const validAccessor = (accessor: string): string => {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(accessor)) throw badRequest('secret_id_accessor: not a secret ID accessor');
  return accessor;
};

async function listAccessors(deps: AppRoleDeps, name: string): Promise<EngineResponse> {
  await requireRole(deps, name);
  const keys = await deps.storage.list(accessorPrefix(name));
  if (keys.length === 0) throw notFound();
  return { data: { keys } };
}

export function createSecretIdPaths(deps: AppRoleDeps): PathDef[] {
  const empty = z.object({});
  const found = (entry: SecretIdEntry): Promise<EngineResponse> => Promise.resolve({ data: secretIdWire(entry) });
  const destroy = async (_entry: SecretIdEntry, remove: () => Promise<void>): Promise<EngineResponse> => {
    await remove();
    return {};
  };
  return [
    {
      pattern: 'role/:name/secret-id',
      operations: {
        update: op(generateInput, async ({ params, input }) => generate(deps, roleName(params), input)),
        list: op(empty, async ({ params }) => listAccessors(deps, roleName(params))),
      },
    },
    {
      pattern: 'role/:name/custom-secret-id',
      operations: {
        update: op(customInput, async ({ params, input }) => generate(deps, roleName(params), input, input.secret_id)),
      },
    },
    {
      pattern: 'role/:name/secret-id/lookup',
      operations: {
        update: op(secretIdInput, async ({ params, input }) => {
          const name = roleName(params);
          const role = await requireRole(deps, name);
          return withLiveEntry(deps, name, secretIdHash(role, input.secret_id), found);
        }),
      },
    },
    {
      pattern: 'role/:name/secret-id/destroy',
      operations: {
        update: op(secretIdInput, async ({ params, input }) => {
          const name = roleName(params);
          const role = await requireRole(deps, name);
          return withLiveEntry(deps, name, secretIdHash(role, input.secret_id), destroy);
        }),
      },
    },
    {
      pattern: 'role/:name/secret-id-accessor/lookup',
      operations: {
        update: op(accessorInput, async ({ params, input }) => {
          const name = roleName(params);
          await requireRole(deps, name);
          const hash = await hashOfAccessor(deps, name, validAccessor(input.secret_id_accessor));
          const r = await withLiveEntry(deps, name, hash, found);
          if (!r.data) throw notFound(`no secret ID with accessor "${input.secret_id_accessor}" on role "${name}"`);
          return r;
        }),
      },
    },
    {
      pattern: 'role/:name/secret-id-accessor/destroy',
      operations: {
        update: op(accessorInput, async ({ params, input }) => {
          const name = roleName(params);
          await requireRole(deps, name);
          const hash = await hashOfAccessor(deps, name, validAccessor(input.secret_id_accessor));
          return withLiveEntry(deps, name, hash, destroy);
        }),
      },
    },
  ];
}
