/**
 * rotate-root/:name: gives the broker's own database user a new password that nobody is shown. The new password
 * is stored (as pending) before the target changes, so that a crash half-way never locks the broker out.
 * reset/:name: closes the config's connections and opens one again.
 */
import pg from 'pg';
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { op, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import type { DbDeps } from '../deps.ts';
import { configKey, encode, loadConfig, type DbConfig } from '../model.ts';
import { configNameParam } from '../names.ts';
import { scramVerifier } from '../scram.ts';
import { renderStatements } from '../statements.ts';
import { classify } from '../target-errors.ts';
import { runInTransaction, statementFailure } from '../target-sql.ts';

const empty = z.object({});

async function mustLoad(deps: DbDeps, name: string): Promise<DbConfig> {
  const config = await loadConfig(deps.storage, name);
  if (!config) throw badRequest(`no database config named "${name}"`);
  return config;
}

/** Read-modify-write of a stored config under its lock. */
async function update(deps: DbDeps, name: string, change: (c: DbConfig) => DbConfig): Promise<void> {
  await deps.storage.locked(configKey(name), async (s) => {
    const current = await loadConfig(s, name);
    if (!current) throw badRequest(`database config "${name}" was deleted during the rotation`);
    await s.put(configKey(name), encode(change(current)));
  });
}

async function rotateRoot(deps: DbDeps, name: string): Promise<EngineResponse> {
  const config = await mustLoad(deps, name);
  if (config.username === '' || config.password === '') {
    throw badRequest('unable to rotate root credentials: the config needs username and password (with {{username}} and {{password}} in connection_url)');
  }
  const password = await deps.passwords.generate(config.passwordPolicy === '' ? undefined : config.passwordPolicy);
  const verifier = await scramVerifier(password, deps.random);
  const statements =
    config.rootRotationStatements.length > 0
      ? renderStatements(config.rootRotationStatements, { name: config.username, username: config.username, password: verifier })
      : [`ALTER ROLE ${pg.escapeIdentifier(config.username)} WITH PASSWORD ${pg.escapeLiteral(verifier)}`];

  await update(deps, name, (c) => ({ ...c, pendingPassword: password }));
  try {
    await deps.pools.withClient(config, async (client) => {
      try {
        await runInTransaction(client, statements);
      } catch (err) {
        // Refused by the target: the old password still holds, so the pending one is dropped.
        if (classify(err) === 'sql') await update(deps, name, ({ pendingPassword: _drop, ...c }) => c).catch(() => {});
        throw statementFailure(err, name, 'rotating the root password');
      }
    });
  } finally {
    deps.pools.evict(name);
  }
  await update(deps, name, ({ pendingPassword: _drop, ...c }) => ({ ...c, password, version: deps.random.uuid() }));
  deps.log.info({ config: name }, 'database root credentials rotated');
  return {};
}

async function reset(deps: DbDeps, name: string): Promise<EngineResponse> {
  const config = await mustLoad(deps, name);
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
