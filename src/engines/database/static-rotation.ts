/**
 * The rotation target for static roles (kind "static-roles"), driven by core's persisted state machine:
 *   create: a new password from the config's password policy, for the user the strategy rotates next
 *           (single: the one user; alternating: the user NOT handed out now). Touches nothing.
 *   set:    ALTER ROLE … WITH PASSWORD '<SCRAM verifier>' (or the role's rotation_statements) on that user.
 *           Running it again with the same pending password is harmless.
 *   test:   logs in as that user over TCP with the new password and runs SELECT 1.
 *   finish: under the role's lock, the new password becomes current (alternating: the current user flips and the
 *           old current becomes previous, still valid until its user is rotated next). A no-op when already done.
 * Then "rotation/finished" is published for static-creds/<name>, the path agents read (and may be allowed to read).
 */
import pg from 'pg';
import type { EngineDeps, RotationTarget } from '../../core/engine.ts';
import { badRequest } from '../../lib/errors.ts';
import type { DbDeps } from './deps.ts';
import { encode, loadConfig, type DbConfig } from './model.ts';
import { scramVerifier } from './scram.ts';
import { renderStatements } from './statements.ts';
import { loadStaticRole, nextUser, staticRoleKey, type StaticCredential, type StaticRole } from './static-model.ts';
import { consumerPathOf, retirePrevious, versionOf } from './static-consumers.ts';
import { loginAs } from './target-login.ts';
import { runInTransaction, statementFailure } from './target-sql.ts';

interface Pending {
  username: string;
  password: string;
  version?: number;
}

function pendingOf(p: Readonly<Record<string, unknown>>): Pending {
  if (typeof p.username !== 'string' || typeof p.password !== 'string') throw new Error('the pending credential is malformed');
  return { username: p.username, password: p.password, ...(typeof p.version === 'number' ? { version: p.version } : {}) };
}

/** The default rotation statement, with both the identifier and the verifier escaped. */
export const defaultRotation = (username: string, verifier: string): string =>
  `ALTER ROLE ${pg.escapeIdentifier(username)} WITH PASSWORD ${pg.escapeLiteral(verifier)}`;

export function createStaticRotation(deps: DbDeps & { publish: EngineDeps['publish'] }): RotationTarget {
  const mustRole = async (name: string): Promise<StaticRole> => {
    const role = await loadStaticRole(deps.storage, name);
    if (!role) throw badRequest(`no static role named "${name}"`);
    return role;
  };
  const mustConfig = async (role: StaticRole): Promise<DbConfig> => {
    const config = await loadConfig(deps.storage, role.dbName);
    if (!config) throw badRequest(`static role "${role.name}": its database config "${role.dbName}" does not exist`);
    return config;
  };

  return {
    async check(name) {
      await mustRole(name);
    },

    async create(ctx) {
      const role = await mustRole(ctx.target);
      const config = await mustConfig(role);
      const password = await deps.passwords.generate(config.passwordPolicy === '' ? undefined : config.passwordPolicy);
      return { username: nextUser(role), password, version: versionOf(role.current) + 1 };
    },

    async set(ctx, raw) {
      const pending = pendingOf(raw);
      const role = await mustRole(ctx.target);
      const config = await mustConfig(role);
      const verifier = await scramVerifier(pending.password, deps.random);
      const statements =
        role.rotationStatements.length > 0
          ? renderStatements(role.rotationStatements, { name: pending.username, username: pending.username, password: verifier })
          : [defaultRotation(pending.username, verifier)];
      await deps.pools.withClient(
        config,
        async (client) => {
          try {
            await runInTransaction(client, statements);
          } catch (err) {
            throw statementFailure(err, config.name, `rotating the password of static role "${role.name}"`);
          }
        },
        () => loadConfig(deps.storage, config.name),
      );
    },

    async test(ctx, raw) {
      const pending = pendingOf(raw);
      const config = await mustConfig(await mustRole(ctx.target));
      const problem = await loginAs(config, pending.username, pending.password);
      if (problem !== null) throw new Error(`the new password of "${pending.username}" does not log in: ${problem}`);
    },

    async finish(ctx, raw) {
      const pending = pendingOf(raw);
      const key = staticRoleKey(ctx.target);
      const done = await deps.storage.locked(key, async (s) => {
        const role = await loadStaticRole(s, ctx.target);
        if (!role) return false; // deleted while it rotated: nothing to hand out
        const current = role.current;
        if (current && current.username === pending.username && current.password === pending.password) return true;
        const next: StaticCredential = { ...pending, rotatedAt: deps.clock.now().toISOString(), version: pending.version ?? versionOf(current) + 1 };
        const previous = role.strategy === 'alternating' && current && current.username !== next.username ? current : null;
        await s.put(key, encode({ ...role, current: next, previous } satisfies StaticRole));
        return true;
      });
      if (!done) return;
      deps.log.info({ static_role: ctx.target, username: pending.username }, 'static role rotated');
      // At least once: a finish that runs again (resumed) publishes again, which only makes agents re-read.
      await deps.publish({ type: 'rotation/finished', path: `static-creds/${ctx.target}` });
    },

    consumerPath: consumerPathOf,

    async retire(ctx, raw) {
      await retirePrevious(deps, ctx, pendingOf(raw).username);
    },
    /** Only an alternating role keeps a previous user working after `finish`; a single user's old password is gone. */
    async retires(ctx) {
      return (await loadStaticRole(deps.storage, ctx.target))?.strategy === 'alternating';
    },
  };
}
