// Two `--dev` brokers on one data dir and one PostgreSQL database (replicas), plus the attacker's direct SQL
// access to that database: for the untrusted-storage battery (issue 13).
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { api, startBroker, type Broker } from './broker.ts';
import { startPostgres } from './postgres.ts';
import { pollUntil } from './poll.ts';

export interface ReplicaPair {
  a: Broker;
  b: Broker;
  databaseUrl: string;
  dataDir: string;
  rootToken: string;
  /** The attacker: a plain SQL connection to the brokers' database. */
  sql: pg.Client;
  stop(): Promise<void>;
}

export async function startReplicaPair(env: Record<string, string> = {}): Promise<ReplicaPair> {
  const cluster = await startPostgres();
  const databaseUrl = await cluster.createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sealbox-untrusted-'));
  const rootToken = 'untrusted-root';
  // At debug level a broker logs each cache notification it has handled: the event the waits for a reload re-check on.
  const brokerEnv = { SEALBOX_LOG_LEVEL: 'debug', ...env };
  const [a, b] = await Promise.all([startBroker({ dataDir, databaseUrl, rootToken, env: brokerEnv }), startBroker({ dataDir, databaseUrl, rootToken, env: brokerEnv })]);
  const sql = new pg.Client({ connectionString: databaseUrl });
  sql.on('error', () => {});
  await sql.connect();
  return {
    a,
    b,
    databaseUrl,
    dataDir,
    rootToken,
    sql,
    async stop() {
      await sql.end().catch(() => undefined);
      await Promise.all([a.stop(), b.stop()]);
    },
  };
}

/** Sends a NOTIFY as an attacker with SQL access can: the brokers drop their caches of `channel` and reload. */
export async function notify(sql: pg.Client, channel: 'sealbox_tokens' | 'sealbox_policies' | 'sealbox_mounts' | 'sealbox_quotas', payload = '*'): Promise<void> {
  await sql.query('SELECT pg_notify($1, $2)', [channel, payload]);
}

/**
 * Waits until `check` (a condition on the brokers' answers) holds, re-checked on what the brokers log (test/helpers/
 * poll.ts; at debug level each handled cache notification) and at the moments in `at`, never on a timer; throws
 * after `timeoutMs`.
 */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000, at: number[] = []): Promise<void> {
  await pollUntil(what, check, { timeoutMs, at });
}

export async function createToken(b: Broker, body: Record<string, unknown>): Promise<{ token: string; accessor: string }> {
  const r = await api(b, 'POST', 'auth/token/create', { body });
  if (r.status !== 200) throw new Error(`token create: ${r.status} ${r.text}`);
  const auth = (r.json as { auth: { client_token: string; accessor: string } }).auth;
  return { token: auth.client_token, accessor: auth.accessor };
}

export const INTEGRITY = 'stored value failed its integrity check';

/** The broker answered with the integrity failure (500), not with the widened access. */
export const refused = (r: { status: number; text: string }): boolean => r.status === 500 && r.text.includes(INTEGRITY);

/** Whether a broker logged an integrity error naming this table and primary key. */
export function loggedIntegrityError(b: Broker, table: string, primaryKey: string): Promise<boolean> {
  // Waited for, not read once: the refusal can reach the test before the broker's log line has been read from its pipe.
  return b.waitForLogLine((l) => l.msg === 'stored row failed its integrity check' && l.table === table && typeof l.primaryKey === 'string' && l.primaryKey.startsWith(primaryKey) && l.level === 'error');
}
