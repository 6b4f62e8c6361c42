/**
 * login (unauthenticated): role_id + secret_id → the identity and token settings for the pipeline to mint a token.
 * Every failure is the same loginFailed(), counts towards the role ID's lockout and costs about the same work.
 */
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { loginFailed } from '../../../lib/errors.ts';
import { op, type EngineResponse, type LoginResult, type PathDef } from '../../../core/engine.ts';
import { addressAllowed } from '../cidr.ts';
import { credentialField, MAX_CREDENTIAL_LENGTH } from '../input.ts';
import {
  accessorKey,
  decodeRole,
  decodeRoleIdIndex,
  decodeSecretId,
  encode,
  isExpired,
  roleKey,
  secretIdHash,
  secretIdKey,
  type AppRoleDeps,
  type RoleEntry,
  type RoleIdIndex,
} from '../model.ts';

const loginInput = z.object({
  role_id: credentialField,
  secret_id: z.string({ error: 'must be a string' }).max(MAX_CREDENTIAL_LENGTH, { error: `must be at most ${MAX_CREDENTIAL_LENGTH} characters` }).optional(),
});

/** The secret ID of the request, checked and spent. Null when it does not log in. */
type Checked = { metadata: Record<string, string> } | null;

/** Stands in for the role of an unknown role ID, so that the failure path does the same hashing and storage work. */
const DECOY_ROLE = { hmacKey: Buffer.alloc(32).toString('base64') };
/** Not a valid role name, so no real entry can live under it. */
const DECOY_NAME = '#decoy';
/**
 * The lockout identity that failures with an unknown role ID count against: one row per mount, so that random role
 * IDs cannot grow login_failures, and the failure costs the same write as for a real role. Role IDs are trimmed, so
 * none can begin with a space.
 */
const UNKNOWN_ROLE_ID = ' unknown role ID';
/** verify's answer for a role ID that names no role. */
const UNKNOWN = Symbol('unknown role ID');

/** The shortest of the TTLs that are set (> 0); 0 when none is. */
const shortestSet = (...ttls: number[]): number => {
  const set = ttls.filter((x) => x > 0);
  return set.length > 0 ? Math.min(...set) : 0;
};

function loginResult(role: RoleEntry, secretMetadata: Record<string, string>): LoginResult {
  const metadata = { ...secretMetadata, role_name: role.name };
  return {
    policies: role.tokenPolicies,
    displayName: `approle-${role.name}`,
    alias: { name: role.roleId, metadata },
    ttl: role.tokenTtl,
    // token_explicit_max_ttl caps the token like token_max_ttl does, and neither can be passed.
    maxTtl: shortestSet(role.tokenMaxTtl, role.tokenExplicitMaxTtl ?? 0),
    period: role.tokenPeriod,
    numUses: role.tokenNumUses,
    noDefaultPolicy: role.tokenNoDefaultPolicy,
  };
}

export function createLoginPaths(deps: AppRoleDeps, index: RoleIdIndex): PathDef[] {
  /**
   * Checks the secret ID under its lock and spends one use: the last use, like an expired secret ID, deletes it.
   * Failures return null rather than throw, so that the deletion of an expired entry commits.
   */
  async function spendSecretId(role: RoleEntry, secretId: string, remoteAddress: string): Promise<Checked> {
    const key = secretIdKey(role.name, secretIdHash(role, secretId));
    return deps.storage.locked(key, async (s) => {
      const stored = await s.getMany([key, roleKey(role.name)]);
      const entry = decodeSecretId(stored.get(key));
      const current = decodeRole(stored.get(roleKey(role.name)));
      if (!entry || current?.hmacKey !== role.hmacKey) return null;
      const remove = (): Promise<void> => s.delete([key, accessorKey(role.name, entry.accessor)]);
      const now = deps.clock.now();
      if (isExpired(entry, now)) {
        await remove();
        return null;
      }
      if (entry.cidrList.length > 0 && !addressAllowed(remoteAddress, entry.cidrList)) return null;
      if (entry.numUses === 1) await remove();
      else if (entry.numUses > 1) await s.put(key, encode({ ...entry, numUses: entry.numUses - 1, lastUpdatedTime: now.toISOString() }));
      return { metadata: entry.metadata };
    });
  }

  /** The same hashing and a transaction of the same shape as spendSecretId, for an unknown role ID. */
  async function decoyWork(secretId: string): Promise<typeof UNKNOWN> {
    const key = secretIdKey(DECOY_NAME, secretIdHash(DECOY_ROLE, secretId));
    await deps.storage.locked(key, (s) => s.getMany([key, roleKey(DECOY_NAME)]));
    return UNKNOWN;
  }

  /** The role the credentials prove, null, or UNKNOWN when the role ID names no role. Never throws for a credential problem. */
  async function verify(roleId: string, secretId: string, remoteAddress: string): Promise<LoginResult | null | typeof UNKNOWN> {
    const indexKey = (await index.keyer())(roleId);
    const name = decodeRoleIdIndex(await deps.storage.get(indexKey))?.name ?? DECOY_NAME;
    const role = decodeRole(await deps.storage.get(roleKey(name)));
    // The index maps a hash; compare the role IDs themselves as well, in constant time.
    if (!role || !sameString(role.roleId, roleId)) return decoyWork(secretId);
    if (role.secretIdBoundCidrs.length > 0 && !addressAllowed(remoteAddress, role.secretIdBoundCidrs)) return null;
    if (!role.bindSecretId) return loginResult(role, {});
    if (secretId === '') return null;
    const checked = await spendSecretId(role, secretId, remoteAddress);
    return checked ? loginResult(role, checked.metadata) : null;
  }

  async function login(roleId: string, secretId: string, remoteAddress: string): Promise<EngineResponse> {
    await deps.lockout.assertNotLocked(roleId);
    // A storage error propagates as itself: it is not a wrong credential and must not count towards a lockout.
    const result = await verify(roleId, secretId, remoteAddress);
    if (result === UNKNOWN || !result) {
      await deps.lockout.recordFailure(result === UNKNOWN ? UNKNOWN_ROLE_ID : roleId);
      throw loginFailed();
    }
    await deps.lockout.reset(roleId);
    return { login: result };
  }

  return [
    {
      pattern: 'login',
      unauthenticated: true,
      operations: {
        update: op(loginInput, async ({ input, remoteAddress }) => login(input.role_id, (input.secret_id ?? '').trim(), remoteAddress)),
      },
    },
  ];
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
