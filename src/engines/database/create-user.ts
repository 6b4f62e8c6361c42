/** Creates one dynamic user on a target (creds/:role, shared or not), with its lease intent recorded first. */
import type { DbDeps } from './deps.ts';
import { loadConfig, type CredsInternal, type DbConfig, type DbRole } from './model.ts';
import { scramVerifier } from './scram.ts';
import { defaultCreation, formatExpiration, renderStatements } from './statements.ts';
import { classify } from './target-errors.ts';
import { revokeUser, runInTransaction, statementFailure } from './target-sql.ts';
import { generateUsername } from './usernames.ts';

const CREDS_SECRET = 'creds';

/**
 * Creates a user on the target for `role`, valid for `lifetimeSeconds`, recording an intent first (with `extra` in
 * its internal data) so that a broker dying before the lease is stored leaves nothing behind.
 */
export async function createUser(
  deps: DbDeps,
  a: { role: DbRole; config: DbConfig; displayName: string; lifetimeSeconds: number; extra: Record<string, unknown> },
): Promise<{ username: string; password: string; intentId: string; expiresAt: Date }> {
  const { role, config } = a;
  const now = deps.clock.now();
  const username = generateUsername(config.usernameTemplate, {
    displayName: a.displayName,
    roleName: role.name,
    now,
    random: deps.random,
  });
  await deps.guard.reserve(config, role.name, username);
  const password = await deps.passwords.generate(config.passwordPolicy === '' ? undefined : config.passwordPolicy);
  const reload = (): Promise<DbConfig | null> => loadConfig(deps.storage, config.name);
  const internal: CredsInternal = { config: config.name, role: role.name, username };
  // Recorded before the user exists: if this broker dies before the lease is stored, a sweep drops the user. The
  // intent's round trip to storage and the SCRAM verifier (libuv's thread pool) overlap; both end before CREATE ROLE.
  const [verified, recorded] = await Promise.allSettled([scramVerifier(password, deps.random), deps.intents.record(CREDS_SECRET, { ...internal, ...a.extra })]);
  if (verified.status === 'rejected' || recorded.status === 'rejected') {
    if (recorded.status === 'fulfilled') await deps.intents.forget(recorded.value).catch(() => undefined);
    await deps.guard.release(config, username).catch(() => undefined);
    throw verified.status === 'rejected' ? verified.reason : (recorded as PromiseRejectedResult).reason;
  }
  const verifier = verified.value;
  const intentId = recorded.value;
  const expiresAt = new Date(now.getTime() + a.lifetimeSeconds * 1000);
  const expiration = formatExpiration(expiresAt);
  const statements =
    role.creationStatements.length > 0
      ? renderStatements(role.creationStatements, { name: username, username, password: verifier, expiration })
      : [defaultCreation(username, verifier, expiration, role.defaultGroup)];

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
    if (!interrupted || (await dropQuietly(deps, config, username))) {
      await deps.intents.forget(intentId);
      await deps.guard.release(config, username).catch(() => undefined);
    }
    throw err;
  }
  return { username, password, intentId, expiresAt };
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

