/**
 * Static roles and their consumers (issue 20):
 *   - versions: each finished rotation numbers the credential it hands out (1, 2, …), which consumers acknowledge;
 *   - retire:   once the live consumers of static-creds/<name> have the new version (or the grace ran out), the
 *               previous user of an alternating role gets a random password nobody holds (its login is refused); a
 *               single-user role has no previous credential (its old password died at `set`);
 *   - in flight: while a single-user rotation is between `set` and `finish`, static-creds serves the password the
 *               target accepts (at `set` and `test`, the pending one if it logs in, else the current one; at
 *               `finish`, the tested pending one), so a crash between the two never leaves clients with a dead password.
 */
import pg from 'pg';
import type { RotationContext } from '../../core/engine.ts';
import type { DbDeps } from './deps.ts';
import { encode, loadConfig } from './model.ts';
import { scramVerifier } from './scram.ts';
import { loadStaticRole, STATIC_KIND, staticRoleKey, type StaticCredential, type StaticRole } from './static-model.ts';
import { loginAs } from './target-login.ts';
import { runInTransaction, statementFailure } from './target-sql.ts';

/** The version a stored credential carries (credentials from before versions were numbered count as 1). */
export const versionOf = (c: StaticCredential | null): number => (c ? (c.version ?? 1) : 0);

export const consumerPathOf = (name: string): string => `static-creds/${name}`;

/** The static-creds/<name> version consumers may acknowledge, or null when `path` is not a static-creds path with credentials. */
export async function staticCredsVersion(deps: DbDeps, path: string): Promise<number | null> {
  const m = /^static-creds\/([^/]+)$/.exec(path);
  if (!m?.[1]) return null;
  const role = await loadStaticRole(deps.storage, m[1]).catch(() => null);
  return role?.current ? versionOf(role.current) : null;
}

/** Retires the previous user of an alternating role (idempotent: a second run sets yet another unknown password). */
export async function retirePrevious(deps: DbDeps, ctx: RotationContext, pendingUser: string): Promise<void> {
  const role = await loadStaticRole(deps.storage, ctx.target);
  if (!role || role.strategy !== 'alternating') return;
  const old = role.usernames.find((u) => u !== pendingUser);
  if (!old) return;
  const config = await loadConfig(deps.storage, role.dbName);
  if (!config) return;
  const unknown = deps.random.bytes(32).toString('base64url');
  const verifier = await scramVerifier(unknown, deps.random);
  await deps.pools.withClient(
    config,
    async (client) => {
      try {
        await runInTransaction(client, [`ALTER ROLE ${pg.escapeIdentifier(old)} WITH PASSWORD ${pg.escapeLiteral(verifier)}`]);
      } catch (err) {
        throw statementFailure(err, config.name, `retiring the previous user of static role "${role.name}"`);
      }
    },
    () => loadConfig(deps.storage, config.name),
  );
  await deps.storage.locked(staticRoleKey(ctx.target), async (s) => {
    const now = await loadStaticRole(s, ctx.target);
    if (now?.previous && now.previous.username === old) await s.put(staticRoleKey(ctx.target), encode({ ...now, previous: null } satisfies StaticRole));
  });
  deps.log.info({ static_role: ctx.target, username: old }, 'previous user of a static role retired');
}

/** What static-creds hands out now: the stored current credential, or the pending one of a run in flight once the target has it. */
export async function servedCredential(deps: DbDeps, role: StaticRole): Promise<StaticCredential | null> {
  const current = role.current;
  if (role.strategy !== 'single') return current;
  const flight = await deps.rotations.inFlight?.(STATIC_KIND, role.name);
  if (!flight || !['set', 'test', 'finish'].includes(flight.step)) return current;
  const { username, password, version } = flight.pending;
  if (typeof username !== 'string' || typeof password !== 'string') return current;
  // Its rotation is under way: it counts as rotated now (last_vault_rotation moves forward, as it will at finish).
  const pending: StaticCredential = { username, password, rotatedAt: deps.clock.now().toISOString(), version: typeof version === 'number' ? version : versionOf(current) };
  if (flight.step === 'finish') return pending;
  // `set` may or may not have reached the target (a crash between ALTER ROLE and recording it), and a `test` that keeps
  // failing means the pending password may not work: ask the target, as `test` does.
  const config = await loadConfig(deps.storage, role.dbName);
  if (!config) return current;
  return (await loginAs(config, username, password)) === null ? pending : current;
}
