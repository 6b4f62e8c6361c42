/** creds/:name (read): mints a PostgreSQL user for a role, leased (DESIGN §4, §5). */
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { op, type EngineRequest, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import type { DbDeps } from '../deps.ts';
import { loadConfig, loadRole, type CredsInternal, type DbConfig } from '../model.ts';
import { roleNameParam } from '../names.ts';
import { scramVerifier } from '../scram.ts';
import { defaultCreation, formatExpiration, renderStatements } from '../statements.ts';
import { classify } from '../target-errors.ts';
import { revokeUser, runInTransaction, statementFailure } from '../target-sql.ts';
import { generateUsername } from '../usernames.ts';

export const CREDS_SECRET = 'creds';

/** Vault's glob match for allowed_roles: "*" matches any run of characters. */
function allowed(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => {
    if (!p.includes('*')) return p === name;
    const re = new RegExp(`^${p.split('*').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return re.test(name);
  });
}

async function mint(deps: DbDeps, req: EngineRequest): Promise<EngineResponse> {
  const name = roleNameParam(req.params);
  const role = await loadRole(deps.cachedReads, name);
  if (!role) throw badRequest(`unknown role: ${name}`);
  const config = await loadConfig(deps.cachedReads, role.dbName);
  if (!config) throw badRequest(`role "${name}": its database config "${role.dbName}" does not exist`);
  if (!allowed(config.allowedRoles, name)) throw badRequest(`role "${name}" is not in the allowed_roles of database config "${config.name}"`);

  const now = deps.clock.now();
  const username = generateUsername(config.usernameTemplate, {
    displayName: req.caller?.displayName ?? 'token',
    roleName: name,
    now,
    random: deps.random,
  });
  const password = await deps.passwords.generate(config.passwordPolicy === '' ? undefined : config.passwordPolicy);
  const verifier = await scramVerifier(password, deps.random);
  // VALID UNTIL is the lease's own expiry (the TTL service answers both); renewals move it with the lease.
  const { ttl } = deps.ttl.resolve({ ttl: role.defaultTtl, maxTtl: role.maxTtl });
  const expiration = formatExpiration(new Date(now.getTime() + ttl * 1000));
  const statements =
    role.creationStatements.length > 0
      ? renderStatements(role.creationStatements, { name: username, username, password: verifier, expiration })
      : [defaultCreation(username, verifier, expiration, role.defaultGroup)];

  const reload = (): Promise<DbConfig | null> => loadConfig(deps.storage, config.name);
  const internal: CredsInternal = { config: config.name, role: name, username };
  // Recorded before the user exists: if this broker dies before the lease is stored, a sweep drops the user.
  const intentId = await deps.intents.record(CREDS_SECRET, { ...internal });
  let interrupted = false;
  try {
    await deps.pools.withClient(
      config,
      async (client) => {
        try {
          await runInTransaction(client, statements);
        } catch (err) {
          interrupted = classify(err) !== 'sql';
          throw statementFailure(err, config.name, 'creating the user');
        }
      },
      reload,
    );
  } catch (err) {
    // Outside withClient, so that the clean-up does not wait for the connection this request held. A user that may
    // exist and could not be dropped keeps its intent: the sweep drops it later.
    if (!interrupted || (await dropQuietly(deps, config, username))) await deps.intents.forget(intentId);
    throw err;
  }

  return {
    data: { username, password },
    lease: { type: CREDS_SECRET, internal: { ...internal }, ttl: role.defaultTtl, maxTtl: role.maxTtl, renewable: true, intentId },
  };
}

/** When the connection failed around COMMIT, the user may exist: drop it, best effort, on a fresh connection. */
async function dropQuietly(deps: DbDeps, config: DbConfig, username: string): Promise<boolean> {
  try {
    await deps.pools.withClient(config, (c) => revokeUser(c, username, null, deps.log));
    return true;
  } catch {
    deps.log.warn({ config: config.name, username }, 'could not drop a database user whose creation was interrupted');
    return false;
  }
}

export function createCredsPaths(deps: DbDeps): PathDef[] {
  return [{ pattern: 'creds/:name', issuesLeases: true, operations: { read: op(z.object({}), (req) => mint(deps, req)) } }];
}
