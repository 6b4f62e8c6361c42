/**
 * What the engine does on a target PostgreSQL: run statement lists in one transaction, and the default revocation
 * (terminate sessions, reassign and drop owned objects, drop the role). Identifiers and literals are escaped;
 * values go in bind parameters wherever the statement allows them.
 */
import pg from 'pg';
import { AppError, badRequest } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { classify, pgMessage, unavailable } from './target-errors.ts';

/** Whether a statement list manages transactions itself (BEGIN/COMMIT…): it cannot be joined into a larger list. */
export const controlsTransaction = (statements: readonly string[]): boolean =>
  statements.some((s) => /^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|END|SAVEPOINT)\b/i.test(s));

/**
 * Runs the statements as one transaction in one round trip: a multi-statement simple query is atomic in
 * PostgreSQL (an implicit transaction), so a failure anywhere rolls back what the earlier ones created. Lists that
 * manage transactions themselves (BEGIN/COMMIT) are run one by one inside an explicit transaction instead.
 */
export async function runInTransaction(client: pg.PoolClient, statements: readonly string[]): Promise<void> {
  if (!controlsTransaction(statements)) {
    await client.query(statements.join(';\n'));
    return;
  }
  await client.query('BEGIN');
  try {
    for (const s of statements) await client.query(s);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * Maps a failure of statements on the target to an AppError: a statement the target refuses is the operator's to
 * fix (400, with PostgreSQL's message); anything about the connection is a 503.
 */
export function statementFailure(err: unknown, configName: string, what: string): AppError {
  if (err instanceof AppError) return err;
  const failure = classify(err);
  if (failure === 'sql') {
    const code = (err as { code?: string }).code ?? '';
    return badRequest(`${what} failed on database "${configName}": ${pgMessage(err)} (SQLSTATE ${code})`);
  }
  if (failure === 'timeout') return unavailable(configName, `${what} did not finish in time`);
  return unavailable(configName, `${what} was interrupted: the connection failed`);
}

async function roleOid(client: pg.PoolClient, username: string): Promise<number | null> {
  const r = await client.query<{ oid: number }>('SELECT oid::int8 AS oid FROM pg_roles WHERE rolname = $1', [username]);
  const oid = r.rows[0]?.oid;
  return oid === undefined ? null : Number(oid);
}

export const roleExists = async (client: pg.PoolClient, username: string): Promise<boolean> => (await roleOid(client, username)) !== null;

/** Ends the sessions of roles (by OID, so it works after they are dropped), in one query. Needs pg_signal_backend. */
async function terminateSessions(client: pg.PoolClient, oids: number | readonly number[], log: Logger): Promise<void> {
  const list = typeof oids === 'number' ? [oids] : oids;
  if (list.length === 0) return;
  try {
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usesysid = ANY($1::oid[]) AND pid <> pg_backend_pid()', [list]);
  } catch (err) {
    if (classify(err) !== 'sql') throw err;
    // Typically 42501: the broker's role lacks pg_signal_backend. The user is still dropped.
    log.warn({ reason: pgMessage(err) }, 'could not terminate the sessions of a revoked database user');
  }
}

/**
 * Revokes a user: custom statements if the role has them, else REASSIGN OWNED / DROP OWNED (in the target
 * database) and DROP ROLE; either way its live sessions are terminated. Succeeds when the user is already gone.
 */
export async function revokeUser(client: pg.PoolClient, username: string, custom: readonly string[] | null, log: Logger): Promise<void> {
  const oid = await roleOid(client, username);
  if (oid === null) return;
  await terminateSessions(client, oid, log);
  const id = pg.escapeIdentifier(username);
  if (custom) {
    await runInTransaction(client, custom);
  } else {
    await client.query('BEGIN');
    try {
      const owns = await client.query<{ owns: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_shdepend WHERE refclassid = 'pg_authid'::regclass AND refobjid = $1::oid
            AND dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))) AS owns`,
        [oid],
      );
      if (owns.rows[0]?.owns === true) {
        // REASSIGN/DROP OWNED need membership in the role; a CREATEROLE broker may grant it to itself.
        await client.query(`GRANT ${id} TO CURRENT_USER`);
        await client.query(`REASSIGN OWNED BY ${id} TO CURRENT_USER`);
        await client.query(`DROP OWNED BY ${id}`);
      }
      await client.query(`DROP ROLE IF EXISTS ${id}`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    }
  }
  // A login that slipped in before the drop committed.
  await terminateSessions(client, oid, log);
}

/** One user of a batched revocation: its custom statements (rendered, joinable: see controlsTransaction), or null for the default. */
export interface UserRevocation {
  username: string;
  custom: readonly string[] | null;
}

/**
 * Revokes many users of one target in four round trips, however many they are (issue 18): which of them exist (and
 * own objects or hold privileges here), their sessions ended in one query, one statement list with every user's
 * revocation (a multi-statement simple query: one implicit transaction, all or none), then the sessions that slipped
 * in before it committed. Users already gone are done. Throws when the list fails: then no user was revoked, and the
 * caller revokes them one by one (revokeUser) so that only the failing one is retried.
 */
export async function revokeUsers(client: pg.PoolClient, users: readonly UserRevocation[], log: Logger): Promise<void> {
  if (users.length === 0) return;
  const found = await client.query<{ rolname: string; oid: string; owns: boolean }>(
    `SELECT r.rolname, r.oid::int8 AS oid,
            EXISTS (SELECT 1 FROM pg_shdepend d WHERE d.refclassid = 'pg_authid'::regclass AND d.refobjid = r.oid
                       AND d.dbid IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))) AS owns
       FROM pg_roles r WHERE r.rolname = ANY($1::text[])`,
    [users.map((u) => u.username)],
  );
  const live = new Map(found.rows.map((r) => [r.rolname, r]));
  const oids = found.rows.map((r) => Number(r.oid));
  if (oids.length === 0) return;
  await terminateSessions(client, oids, log);
  const statements: string[] = [];
  for (const u of users) {
    const role = live.get(u.username);
    if (!role) continue;
    live.delete(u.username);
    if (u.custom) {
      statements.push(...u.custom);
      continue;
    }
    const id = pg.escapeIdentifier(u.username);
    // REASSIGN/DROP OWNED need membership in the role; a CREATEROLE broker may grant it to itself.
    if (role.owns) statements.push(`GRANT ${id} TO CURRENT_USER`, `REASSIGN OWNED BY ${id} TO CURRENT_USER`, `DROP OWNED BY ${id}`);
    statements.push(`DROP ROLE IF EXISTS ${id}`);
  }
  if (statements.length > 0) await client.query(statements.join(';\n'));
  await terminateSessions(client, oids, log);
}
