/**
 * The rotation target for a connection config's root credentials (kind "root", target = config name), used by
 * root_rotation_schedule / root_rotation_period. It follows rotate-root's rules (paths/rotate.ts), split into steps:
 *   create: a new password from the config's password policy. Touches nothing.
 *   set:    stages it as the config's pendingPassword (committed: connecting falls back to it, so a crash after the
 *           ALTER never locks the broker out), then, under the config's lock and only while it is still staged,
 *           ALTER ROLE on the target. Again with the same password: harmless.
 *   test:   logs in with it.
 *   finish: under the config's lock, pending becomes current.
 * A direct rotate-root or a config write that replaced the staged password before the ALTER makes set stage it
 * again; one that came after the ALTER already settled it (it connected with it), so test and finish stand aside.
 */
import pg from 'pg';
import type { RotationTarget, StorageView } from '../../core/engine.ts';
import { AppError, badRequest } from '../../lib/errors.ts';
import type { DbDeps } from './deps.ts';
import { configKey, encode, loadConfig, type DbConfig } from './model.ts';
import { checkConnection } from './pools.ts';
import { assertRotatable, settlePending, withoutPending } from './paths/rotate.ts';
import { scramVerifier } from './scram.ts';
import { renderStatements } from './statements.ts';
import { runInTransaction, statementFailure } from './target-sql.ts';

const passwordOf = (p: Readonly<Record<string, unknown>>): string => {
  if (typeof p.password !== 'string') throw new Error('the pending root password is malformed');
  return p.password;
};

async function mustLoad(s: StorageView, name: string): Promise<DbConfig> {
  const config = await loadConfig(s, name);
  if (!config) throw badRequest(`no database config named "${name}"`);
  return config;
}

/** Neither current nor staged: a later rotate-root or config write took over after this rotation's ALTER. */
const superseded = (c: DbConfig, password: string): boolean => c.password !== password && c.pendingPassword !== password;

export function createRootRotation(deps: DbDeps): RotationTarget {
  return {
    async check(name) {
      assertRotatable(await mustLoad(deps.storage, name));
    },

    async create(ctx) {
      const config = await mustLoad(deps.storage, ctx.target);
      assertRotatable(config);
      return { password: await deps.passwords.generate(config.passwordPolicy === '' ? undefined : config.passwordPolicy) };
    },

    async set(ctx, raw) {
      const password = passwordOf(raw);
      const key = configKey(ctx.target);
      // 1. Stage (its own transaction: durable before the target changes).
      const staged = await deps.storage.locked(key, async (s) => {
        const config = await mustLoad(s, ctx.target);
        if (config.password === password) return false;
        if (config.pendingPassword === password) return true;
        const settled = await settlePending(config, () => deps.random.uuid());
        if (settled.password === password) {
          await s.put(key, encode(settled));
          return false;
        }
        assertRotatable(settled);
        await s.put(key, encode({ ...settled, pendingPassword: password }));
        return true;
      });
      if (!staged) return;
      // 2. Apply under the lock, only while it is still this rotation's pending password.
      const verifier = await scramVerifier(password, deps.random);
      try {
        await deps.storage.locked(key, async (s) => {
          const config = await mustLoad(s, ctx.target);
          if (config.password === password) return;
          if (config.pendingPassword !== password) {
            throw new AppError('conflict', `root rotation of database config "${ctx.target}" was superseded by a concurrent rotate-root or config write; it will stage again`);
          }
          const statements =
            config.rootRotationStatements.length > 0
              ? renderStatements(config.rootRotationStatements, { name: config.username, username: config.username, password: verifier })
              : [`ALTER ROLE ${pg.escapeIdentifier(config.username)} WITH PASSWORD ${pg.escapeLiteral(verifier)}`];
          deps.pools.evict(ctx.target);
          // Logs in with the current password, or (after an ALTER that ran before a crash) with the staged one.
          await deps.pools.withClient(config, async (client) => {
            try {
              await runInTransaction(client, statements);
            } catch (err) {
              throw statementFailure(err, ctx.target, 'rotating the root password');
            }
          });
        });
      } finally {
        deps.pools.evict(ctx.target);
      }
    },

    async test(ctx, raw) {
      const password = passwordOf(raw);
      const config = await mustLoad(deps.storage, ctx.target);
      if (superseded(config, password)) return;
      const problem = await checkConnection({ ...config, password });
      if (problem !== null) throw new Error(`the new root password does not log in: ${problem}`);
    },

    async finish(ctx, raw) {
      const password = passwordOf(raw);
      const key = configKey(ctx.target);
      await deps.storage.locked(key, async (s) => {
        const config = await mustLoad(s, ctx.target);
        if (config.password === password) return;
        if (config.pendingPassword !== password) {
          deps.log.warn({ config: ctx.target }, 'scheduled root rotation was superseded after it changed the target; keeping the newer password');
          return;
        }
        await s.put(key, encode({ ...withoutPending(config), password, version: deps.random.uuid() }));
      });
      deps.pools.evict(ctx.target);
      deps.log.info({ config: ctx.target }, 'database root credentials rotated (scheduled)');
    },
  };
}
