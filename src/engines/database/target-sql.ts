/**
 * What the engine does on a target PostgreSQL: run statement lists in one transaction, and the default revocation
 * (terminate sessions, reassign and drop owned objects, drop the role). Identifiers and literals are escaped;
 * values go in bind parameters wherever the statement allows them.
 */
import pg from 'pg';
import { AppError, badRequest } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { classify, pgMessage, unavailable } from './target-errors.ts';

/**
 * Runs the statements as one transaction in one round trip: a multi-statement simple query is atomic in
 * PostgreSQL (an implicit transaction), so a failure anywhere rolls back what the earlier ones created. Lists that
 * manage transactions themselves (BEGIN/COMMIT) are run one by one inside an explicit transaction instead.
 */
export async function runInTransaction(client: pg.PoolClient, statements: readonly string[]): Promise<void> {
  const controlsTx = statements.some((s) => /^\s*(BEGIN|START\s+TRANSACTION|COMMIT|ROLLBACK|END|SAVEPOINT)\b/i.test(s));
  if (!controlsTx) {
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

/** Ends the sessions of a role (by OID, so it works after the role is dropped). Needs pg_signal_backend. */
async function terminateSessions(client: pg.PoolClient, oid: number, log: Logger): Promise<void> {
  try {
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usesysid = $1::oid AND pid <> pg_backend_pid()', [oid]);
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
