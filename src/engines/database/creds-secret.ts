/**
 * The `creds` secret type: how the lease manager renews and revokes a minted user. `lease.internal` holds
 * CredsInternal ({config, role, username}); the role is read again at renew/revoke time for its statements.
 */
import { AppError, badRequest } from '../../lib/errors.ts';
import type { LeaseInfo, SecretType } from '../../core/engine.ts';
import type { DbDeps } from './deps.ts';
import { loadConfig, loadRole, type CredsInternal, type DbConfig, type DbRole } from './model.ts';
import { defaultRenew, formatExpiration, renderStatements, SAFE_USERNAME } from './statements.ts';
import { releaseShared, renewShared } from './shared-release.ts';
import { controlsTransaction, revokeUser, revokeUsers, roleExists, runInTransaction, statementFailure, type UserRevocation } from './target-sql.ts';

function internalOf(lease: LeaseInfo): CredsInternal {
  const { config, role, username, shared } = lease.internal;
  if (typeof config !== 'string' || typeof role !== 'string' || typeof username !== 'string' || !SAFE_USERNAME.test(username)) {
    throw new AppError('internal', 'database lease: malformed internal data');
  }
  const s = shared as { key?: unknown; ticket?: unknown } | undefined;
  if (s && typeof s.key === 'string' && typeof s.ticket === 'string') return { config, role, username, shared: { key: s.key, ticket: s.ticket } };
  return { config, role, username };
}

/** Users per statement list in a batched revocation (issue 18). */
const BATCH_USERS = 500;

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** The role's revocation statements for a user (rendered), or null for the default revocation. */
const revocationOf = (role: DbRole | null, username: string): string[] | null =>
  role && role.revocationStatements.length > 0 ? renderStatements(role.revocationStatements, { name: username, username }) : null;

async function load(deps: DbDeps, internal: CredsInternal): Promise<{ config: DbConfig; role: DbRole | null }> {
  const config = await loadConfig(deps.storage, internal.config);
  if (!config) throw badRequest(`database config "${internal.config}" no longer exists`);
  const role = await loadRole(deps.storage, internal.role);
  // A role re-created for another config does not speak for this user.
  return { config, role: role && role.dbName === internal.config ? role : null };
}

export function createCredsSecret(deps: DbDeps): SecretType {
  const reload = (name: string) => () => loadConfig(deps.storage, name);

  async function revoke(lease: LeaseInfo): Promise<void> {
    const internal = internalOf(lease);
    const { config, role } = await load(deps, internal);
    const { username } = internal;
    const custom = revocationOf(role, username);
    if (internal.shared) return releaseShared(deps, { ...internal, shared: internal.shared }, custom);
    await deps.pools.withClient(
      config,
      async (client) => {
        try {
          await revokeUser(client, username, custom, deps.log);
        } catch (err) {
          throw statementFailure(err, config.name, `revoking user "${username}"`);
        }
      },
      reload(config.name),
    );
    await deps.guard.release(config, username);
  }

  /** Each lease on its own (the per-lease path): its own error, or null. */
  const oneByOne = async (leases: readonly LeaseInfo[]): Promise<(Error | null)[]> => {
    const out: (Error | null)[] = [];
    for (const lease of leases) out.push(await revoke(lease).then(() => null, asError));
    return out;
  };

  /**
   * The users of one config in one statement list per BATCH_USERS (target-sql.ts revokeUsers). A list that fails
   * revoked nobody: its leases are then revoked one by one, so that each gets its own outcome.
   */
  async function revokeOnTarget(configName: string, members: readonly { lease: LeaseInfo; internal: CredsInternal }[]): Promise<(Error | null)[]> {
    const config = await loadConfig(deps.storage, configName);
    if (!config) return members.map(() => badRequest(`database config "${configName}" no longer exists`));
    const roles = new Map<string, Promise<DbRole | null>>();
    const roleOf = (name: string): Promise<DbRole | null> => {
      let r = roles.get(name);
      if (!r) {
        r = loadRole(deps.storage, name).then((x) => (x && x.dbName === configName ? x : null));
        roles.set(name, r);
      }
      return r;
    };
    const out: (Error | null)[] = members.map(() => null);
    // A custom list that manages its own transaction cannot be joined with others: that user goes on its own.
    const joined: { at: number; user: UserRevocation }[] = [];
    for (const [at, m] of members.entries()) {
      const custom = revocationOf(await roleOf(m.internal.role), m.internal.username);
      if (custom && controlsTransaction(custom)) out[at] = await revoke(m.lease).then(() => null, asError);
      else joined.push({ at, user: { username: m.internal.username, custom } });
    }
    for (let i = 0; i < joined.length; i += BATCH_USERS) {
      const chunk = joined.slice(i, i + BATCH_USERS);
      const users = chunk.map((c) => c.user);
      try {
        await deps.pools.withClient(config, (client) => revokeUsers(client, users, deps.log), reload(config.name));
        await deps.guard.releaseMany(config, users.map((u) => u.username));
      } catch (err) {
        deps.log.warn({ config: config.name, users: users.length, reason: statementFailure(err, config.name, 'a batched revocation').message }, 'batched revocation failed; revoking its users one by one');
        const each = await oneByOne(chunk.map((c) => (members[c.at] as { lease: LeaseInfo }).lease));
        chunk.forEach((c, k) => {
          out[c.at] = each[k] ?? null;
        });
      }
    }
    return out;
  }

  return {
    async renew(lease) {
      const internal = internalOf(lease);
      const { config, role } = await load(deps, internal);
      const { username } = internal;
      if (internal.shared) return renewShared(deps, config, username);
      const expiration = formatExpiration(lease.expiresAt);
      const statements =
        role && role.renewStatements.length > 0
          ? renderStatements(role.renewStatements, { name: username, username, expiration })
          : [defaultRenew(username, expiration)];
      await deps.pools.withClient(
        config,
        async (client) => {
          try {
            if (!(await roleExists(client, username))) throw badRequest(`database user "${username}" no longer exists`);
            await runInTransaction(client, statements);
          } catch (err) {
            throw statementFailure(err, config.name, 'renewing the user');
          }
        },
        reload(config.name),
      );
    },
    revoke,
    /**
     * The expiry worker's batches (issue 18): the leases are grouped by config (one target each) and each group is
     * revoked in a few round trips. Shared users and custom lists that manage their own transaction take the
     * per-lease path; a malformed lease fails alone.
     */
    async revokeMany(leases) {
      const out: (Error | null)[] = leases.map(() => null);
      const groups = new Map<string, { at: number; lease: LeaseInfo; internal: CredsInternal }[]>();
      const single: number[] = [];
      for (const [at, lease] of leases.entries()) {
        let internal: CredsInternal;
        try {
          internal = internalOf(lease);
        } catch (err) {
          out[at] = asError(err);
          continue;
        }
        if (internal.shared) {
          single.push(at);
          continue;
        }
        const g = groups.get(internal.config) ?? [];
        g.push({ at, lease, internal });
        groups.set(internal.config, g);
      }
      for (const [configName, members] of groups) {
        // A failure outside the target's statements (storage): every lease of the group gets it, and is retried.
        const results = await revokeOnTarget(configName, members).catch((err: unknown) => members.map(() => asError(err)));
        results.forEach((r, k) => {
          out[(members[k] as { at: number }).at] = r;
        });
      }
      for (const at of single) out[at] = await revoke(leases[at] as LeaseInfo).then(() => null, asError);
      return out;
    },
  };
}
