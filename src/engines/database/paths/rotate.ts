/**
 * rotate-root/:name: gives the broker's own database user a new password that nobody is shown.
 * reset/:name: closes the config's connections and opens one again.
 *
 * A rotation runs in two steps, each under the config's storage lock:
 *  1. stage: the new password is stored (committed) as the config's pendingPassword before the target changes,
 *     so that a crash at any later point never locks the broker out (connecting falls back to it);
 *  2. apply: under one lock for the whole change, and only if the pending password is still this rotation's,
 *     ALTER ROLE on the target, then promote pending to current in the same transaction.
 * Config writes take the same lock, so a rotation and a config edit never interleave, and of two concurrent
 * rotations the one staged later wins while the earlier one gives up without touching the target (409).
 */
import pg from 'pg';
import { z } from 'zod';
import { AppError, badRequest } from '../../../lib/errors.ts';
import { op, type EngineResponse, type PathDef, type StorageView } from '../../../core/engine.ts';
import type { DbDeps } from '../deps.ts';
import { configKey, encode, loadConfig, type DbConfig } from '../model.ts';
import { configNameParam } from '../names.ts';
import { checkConnection } from '../pools.ts';
import { scramVerifier } from '../scram.ts';
import { renderStatements } from '../statements.ts';
import { classify, unavailable } from '../target-errors.ts';
import { runInTransaction, statementFailure } from '../target-sql.ts';

const empty = z.object({});

async function mustLoad(s: StorageView, name: string): Promise<DbConfig> {
  const config = await loadConfig(s, name);
  if (!config) throw badRequest(`no database config named "${name}"`);
  return config;
}

export function assertRotatable(config: DbConfig): void {
  if (config.username === '' || config.password === '') {
    throw badRequest('unable to rotate root credentials: the config needs username and password (with {{username}} and {{password}} in connection_url)');
  }
}

export const withoutPending = ({ pendingPassword: _drop, ...c }: DbConfig): DbConfig => c;

/**
 * A pending password left by an earlier rotation, settled before it is replaced: if the target refuses the current
 * password but takes the pending one, that rotation changed the target and then stopped, so pending becomes current.
 * If the current one works, pending was never applied (no apply step can run while this lock is held) and may go.
 */
export async function settlePending(config: DbConfig, newVersion: () => string): Promise<DbConfig> {
  if (config.pendingPassword === undefined) return config;
  const current = await checkConnection(config);
  if (current === null) return withoutPending(config);
  const pending = await checkConnection({ ...config, password: config.pendingPassword });
  if (pending === null) return { ...withoutPending(config), password: config.pendingPassword, version: newVersion() };
  throw unavailable(config.name, `${current}; an earlier rotate-root left a pending password that is not accepted either`);
}

async function rotateRoot(deps: DbDeps, name: string): Promise<EngineResponse> {
  const key = configKey(name);
  const initial = await mustLoad(deps.storage, name);
  assertRotatable(initial);
  const password = await deps.passwords.generate(initial.passwordPolicy === '' ? undefined : initial.passwordPolicy);
  const verifier = await scramVerifier(password, deps.random);

  // 1. Stage (its own transaction: the pending password must be durable before the target changes).
  await deps.storage.locked(key, async (s) => {
    const config = await settlePending(await mustLoad(s, name), () => deps.random.uuid());
    assertRotatable(config);
    await s.put(key, encode({ ...config, pendingPassword: password }));
  });

  // 2. Apply, under the lock for the whole change. Inside, only `s` and the target are used.
  let failure: AppError | null = null;
  try {
    await deps.storage.locked(key, async (s) => {
      const config = await loadConfig(s, name);
      if (!config) throw badRequest(`database config "${name}" was deleted during the rotation`);
      if (config.pendingPassword !== password) {
        throw new AppError('conflict', `rotate-root of database config "${name}" was superseded by a concurrent rotation or config write; nothing was changed by this request`);
      }
      const statements =
        config.rootRotationStatements.length > 0
          ? renderStatements(config.rootRotationStatements, { name: config.username, username: config.username, password: verifier })
          : [`ALTER ROLE ${pg.escapeIdentifier(config.username)} WITH PASSWORD ${pg.escapeLiteral(verifier)}`];
      // A fresh pool that logs in with the current password (not one left on a fallback to an older pending one).
      deps.pools.evict(name);
      try {
        await deps.pools.withClient(withoutPending(config), async (client) => {
          try {
            await runInTransaction(client, statements);
          } catch (err) {
            // Refused by the target: the old password still holds, so the pending one is dropped (committed below).
            if (classify(err) === 'sql') failure = statementFailure(err, name, 'rotating the root password');
            else throw statementFailure(err, name, 'rotating the root password');
          }
        });
      } catch (err) {
        // Could not connect, or the connection failed mid-statement: the target may have the new password, so
        // pending stays (connecting falls back to it; the next rotation settles it).
        throw err instanceof AppError ? err : statementFailure(err, name, 'rotating the root password');
      }
      if (failure) {
        await s.put(key, encode(withoutPending(config)));
        return;
      }
      await s.put(key, encode({ ...withoutPending(config), password, version: deps.random.uuid() }));
    });
  } finally {
    deps.pools.evict(name);
  }
  if (failure) throw failure;
  deps.log.info({ config: name }, 'database root credentials rotated');
  return {};
}

async function reset(deps: DbDeps, name: string): Promise<EngineResponse> {
  const config = await mustLoad(deps.storage, name);
  deps.pools.evict(name);
  await deps.pools.withClient(config, async (client) => {
    await client.query('SELECT 1');
  });
  return {};
}

export function createRotatePaths(deps: DbDeps): PathDef[] {
  return [
    { pattern: 'rotate-root/:name', operations: { update: op(empty, ({ params }) => rotateRoot(deps, configNameParam(params))) } },
    { pattern: 'reset/:name', operations: { update: op(empty, ({ params }) => reset(deps, configNameParam(params))) } },
  ];
}
