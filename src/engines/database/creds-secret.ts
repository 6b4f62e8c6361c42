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
import { revokeUser, roleExists, runInTransaction, statementFailure } from './target-sql.ts';

function internalOf(lease: LeaseInfo): CredsInternal {
  const { config, role, username, shared } = lease.internal;
  if (typeof config !== 'string' || typeof role !== 'string' || typeof username !== 'string' || !SAFE_USERNAME.test(username)) {
    throw new AppError('internal', 'database lease: malformed internal data');
  }
  const s = shared as { key?: unknown; ticket?: unknown } | undefined;
  if (s && typeof s.key === 'string' && typeof s.ticket === 'string') return { config, role, username, shared: { key: s.key, ticket: s.ticket } };
  return { config, role, username };
}

async function load(deps: DbDeps, internal: CredsInternal): Promise<{ config: DbConfig; role: DbRole | null }> {
  const config = await loadConfig(deps.storage, internal.config);
  if (!config) throw badRequest(`database config "${internal.config}" no longer exists`);
  const role = await loadRole(deps.storage, internal.role);
  // A role re-created for another config does not speak for this user.
  return { config, role: role && role.dbName === internal.config ? role : null };
}

export function createCredsSecret(deps: DbDeps): SecretType {
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
        () => loadConfig(deps.storage, config.name),
      );
    },
    async revoke(lease) {
      const internal = internalOf(lease);
      const { config, role } = await load(deps, internal);
      const { username } = internal;
      const custom = role && role.revocationStatements.length > 0 ? renderStatements(role.revocationStatements, { name: username, username }) : null;
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
        () => loadConfig(deps.storage, config.name),
      );
      await deps.guard.release(config, username);
    },
  };
}
