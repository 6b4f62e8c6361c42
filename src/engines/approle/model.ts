/**
 * AppRole stored model: types, storage keys, load/save helpers and the conversions to Vault's wire shape.
 *
 *   salt                          → 32 random bytes: the mount's key for the role ID index
 *   role/<name>                   → RoleEntry (JSON), including the role's own secret ID HMAC key
 *   role-id/<HMAC(salt, role_id)> → { name }: which role a role ID belongs to
 *   secret-id/<name>/<HMAC(role key, secret_id)> → SecretIdEntry (JSON); the plaintext secret ID is never stored
 *   accessor/<name>/<accessor>    → { hash }: the secret ID entry an accessor names
 *
 * Every value is encrypted by the barrier; keys are stored in the clear, which is why they hold only HMACs.
 * The per-role key means that a secret ID of a deleted role can never match a role later created with the same name.
 */
import { checkName } from '../../lib/names.ts';
import { hmacSha256 } from '../../lib/crypto.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { Random } from '../../lib/random.ts';
import type { EngineStorage, LoginLockout, StorageView } from '../../core/engine.ts';

export interface RoleEntry {
  name: string;
  roleId: string;
  /** Base64 of 32 random bytes: the key of this role's secret ID HMACs. */
  hmacKey: string;
  bindSecretId: boolean;
  secretIdBoundCidrs: string[];
  secretIdNumUses: number;
  /** Seconds; 0: secret IDs do not expire. */
  secretIdTtl: number;
  tokenPolicies: string[];
  tokenTtl: number;
  tokenMaxTtl: number;
  /** Seconds; 0: none. A hard cap on the token's lifetime, renewals included (absent on roles stored before it). */
  tokenExplicitMaxTtl?: number;
  tokenPeriod: number;
  tokenNumUses: number;
  tokenBoundCidrs: string[];
  tokenNoDefaultPolicy: boolean;
}

export interface SecretIdEntry {
  accessor: string;
  /** Uses left; 0: unlimited. */
  numUses: number;
  /** Seconds, as created; 0: no expiry. */
  ttl: number;
  creationTime: string;
  /** RFC 3339, or '' when it does not expire. */
  expirationTime: string;
  lastUpdatedTime: string;
  metadata: Record<string, string>;
  cidrList: string[];
  tokenBoundCidrs: string[];
}

export interface AppRoleDeps {
  storage: EngineStorage;
  lockout: LoginLockout;
  clock: Clock;
  random: Random;
  log: Logger;
}

/** The lock every role write (create, update, delete, role ID, new secret ID) takes: role writes are rare. */
export const ROLES_LOCK = 'roles';
const SALT_KEY = 'salt';

export const roleKey = (name: string): string => `role/${name}`;
export const secretIdKey = (name: string, hash: string): string => `secret-id/${name}/${hash}`;
export const secretIdPrefix = (name: string): string => `secret-id/${name}/`;
export const accessorKey = (name: string, accessor: string): string => `accessor/${name}/${accessor}`;
export const accessorPrefix = (name: string): string => `accessor/${name}/`;

/** The role name from the `:name` segment: the shared name rule (lib/names.ts); case-insensitive as in Vault. */
export const roleName = (params: Readonly<Record<string, string>>): string => checkName(params.name, 'role name').toLowerCase();

export const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const decode = <T>(raw: Buffer): T => JSON.parse(raw.toString('utf8')) as T;
export const decodeRole = (raw: Buffer | null | undefined): RoleEntry | null => (raw ? decode<RoleEntry>(raw) : null);
export const decodeSecretId = (raw: Buffer | null | undefined): SecretIdEntry | null => (raw ? decode<SecretIdEntry>(raw) : null);
export const decodeAccessor = (raw: Buffer | null | undefined): { hash: string } | null => (raw ? decode<{ hash: string }>(raw) : null);
export const decodeRoleIdIndex = (raw: Buffer | null | undefined): { name: string } | null => (raw ? decode<{ name: string }>(raw) : null);

export async function loadRole(s: StorageView, name: string): Promise<RoleEntry | null> {
  return decodeRole(await s.get(roleKey(name)));
}

/** HMAC of a secret ID under the role's key: the hex storage key segment. */
export function secretIdHash(role: Pick<RoleEntry, 'hmacKey'>, secretId: string): string {
  return hmacSha256(Buffer.from(role.hmacKey, 'base64'), secretId).toString('hex');
}

export function isExpired(entry: SecretIdEntry, now: Date): boolean {
  return entry.expirationTime !== '' && Date.parse(entry.expirationTime) <= now.getTime();
}

/** The mount's salt for the role ID index, created once (under a lock, so replicas agree) and cached. */
export function createRoleIdIndex(deps: Pick<AppRoleDeps, 'storage' | 'random'>) {
  let salt: Promise<Buffer> | undefined;
  const loadSalt = (): Promise<Buffer> => {
    salt ??= (async () => {
      const existing = await deps.storage.get(SALT_KEY);
      if (existing) return existing;
      return deps.storage.locked(SALT_KEY, async (s) => {
        const again = await s.get(SALT_KEY);
        if (again) return again;
        const fresh = deps.random.bytes(32);
        await s.put(SALT_KEY, fresh);
        return fresh;
      });
    })();
    salt.catch(() => {
      salt = undefined;
    });
    return salt;
  };
  return {
    /**
     * Resolves to the function that maps a role ID to its index key. Call it before `storage.locked`: the first
     * call may read or write storage, which must not happen from inside another transaction.
     */
    async keyer(): Promise<(roleId: string) => string> {
      const key = await loadSalt();
      return (roleId) => `role-id/${hmacSha256(key, roleId).toString('hex')}`;
    },
  };
}

export type RoleIdIndex = ReturnType<typeof createRoleIdIndex>;

// ---- wire conversion (Vault's snake_case) ----

export function roleWire(role: RoleEntry): Record<string, unknown> {
  return {
    bind_secret_id: role.bindSecretId,
    local_secret_ids: false,
    secret_id_bound_cidrs: role.secretIdBoundCidrs,
    secret_id_num_uses: role.secretIdNumUses,
    secret_id_ttl: role.secretIdTtl,
    token_bound_cidrs: role.tokenBoundCidrs,
    token_explicit_max_ttl: role.tokenExplicitMaxTtl ?? 0,
    token_max_ttl: role.tokenMaxTtl,
    token_no_default_policy: role.tokenNoDefaultPolicy,
    token_num_uses: role.tokenNumUses,
    token_period: role.tokenPeriod,
    token_policies: role.tokenPolicies,
    token_ttl: role.tokenTtl,
    token_type: 'default',
    // The pre-1.2 names, still read by older clients.
    policies: role.tokenPolicies,
    period: role.tokenPeriod,
  };
}

export function secretIdWire(entry: SecretIdEntry): Record<string, unknown> {
  return {
    cidr_list: entry.cidrList,
    creation_time: entry.creationTime,
    expiration_time: entry.expirationTime === '' ? '0001-01-01T00:00:00Z' : entry.expirationTime,
    last_updated_time: entry.lastUpdatedTime,
    metadata: entry.metadata,
    secret_id_accessor: entry.accessor,
    secret_id_num_uses: entry.numUses,
    secret_id_ttl: entry.ttl,
    token_bound_cidrs: entry.tokenBoundCidrs,
  };
}
