/** creds/:name (read): mints a PostgreSQL user for a role, leased (DESIGN §4, §5). */
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { op, type EngineRequest, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import type { DbDeps } from '../deps.ts';
import { loadConfig, loadRole, type CredsInternal } from '../model.ts';
import { roleNameParam } from '../names.ts';
import { createUser } from '../create-user.ts';
import { mintShared } from '../sharing.ts';

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
  // Issue 20: callers of one identity share one user (each through its own lease); callers without an identity do not.
  if (role.credentialSharing === 'identity' && req.caller?.identity) return mintShared(deps, { role, config, identity: req.caller.identity, displayName: req.caller.displayName });

  // VALID UNTIL is the lease's own expiry (the TTL service answers both); renewals move it with the lease.
  const { ttl: lifetime } = deps.ttl.resolve({ ttl: role.defaultTtl, maxTtl: role.maxTtl });
  const made = await createUser(deps, { role, config, displayName: req.caller?.displayName ?? 'token', lifetimeSeconds: lifetime, extra: {} });
  const internal: CredsInternal = { config: config.name, role: name, username: made.username };
  return {
    data: { username: made.username, password: made.password },
    lease: { type: CREDS_SECRET, internal: { ...internal }, ttl: role.defaultTtl, maxTtl: role.maxTtl, renewable: true, intentId: made.intentId },
  };
}

export function createCredsPaths(deps: DbDeps): PathDef[] {
  return [{ pattern: 'creds/:name', issuesLeases: true, operations: { read: op(z.object({}), (req) => mint(deps, req)) } }];
}
