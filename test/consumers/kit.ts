// Shared by the issue-20 test files (rotation that waits for its consumers, shared credentials): a database mount on a
// real PostgreSQL target, static roles, logins, and waiting on broker state (re-checked on what brokers and agents do;
// no sleep stands in for an event).
import pg from 'pg';
import { api, type Broker } from '../helpers/broker.ts';
import { withPgClient } from '../helpers/postgres.ts';
import type { Target } from '../helpers/pg-target.ts';
import { pollUntil, type PollOptions } from '../helpers/poll.ts';

export interface Creds {
  username: string;
  password: string;
}
export interface StaticCreds extends Creds {
  ttl: number;
  version: number;
  last_vault_rotation: string;
}
export interface RotationWire {
  id: string;
  last_status: string | null;
  last_error: string | null;
  last_run_at: string | null;
  in_progress: { run_id: string; step: string } | null;
  grace: number | null;
  retire_at: string | null;
  pending: string[];
  consumers: { path: string; version: number; acknowledged: string[]; pending: string[] } | null;
}
export interface RunWire {
  run_id: string;
  status: string;
  step: string | null;
  finished_at: string | null;
  consumers: { version: number; reason: string; acknowledged: { accessor: string }[]; pending: { accessor: string }[] } | null;
}

let seq = 0;
/** Role names are cluster-wide: unique per test. */
export const uniq = (p: string): string => `${p}_${process.pid}_${++seq}`;

export async function createUsers(target: Target, names: string[]): Promise<void> {
  await withPgClient(target.url, async (c) => {
    for (const n of names) await c.query(`CREATE ROLE ${pg.escapeIdentifier(n)} LOGIN PASSWORD ${pg.escapeLiteral(`initial-${n}`)}`);
  });
}

export async function must(b: Broker, method: string, path: string, body?: unknown, token?: string): Promise<unknown> {
  const r = await api(b, method, path, { ...(body === undefined ? {} : { body }), ...(token ? { token } : {}), timeoutMs: 60_000 });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
}

/** Mounts database/ (if needed) and a config `main` as the cluster's superuser. */
export async function mountDatabase(b: Broker, target: Target, config: Record<string, unknown> = {}): Promise<void> {
  const r = await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } });
  if (r.status !== 204 && !r.text.includes('already in use')) throw new Error(`mount: ${r.status} ${r.text}`);
  await must(b, 'POST', 'database/config/main', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
    username: target.cluster.user,
    password: target.cluster.password,
    allowed_roles: '*',
    ...config,
  });
}

export async function staticCreds(b: Broker, name: string, token?: string): Promise<StaticCreds> {
  const r = await api(b, 'GET', `database/static-creds/${name}`, token ? { token } : {});
  if (r.status !== 200) throw new Error(`static-creds: ${r.status} ${r.text}`);
  return (r.json as { data: StaticCreds }).data;
}

export async function rotation(b: Broker, id: string): Promise<RotationWire> {
  return ((await must(b, 'GET', `sys/rotations/${id}`)) as { data: RotationWire }).data;
}

export async function history(b: Broker, id: string): Promise<RunWire[]> {
  return ((await must(b, 'GET', `sys/rotations/${id}/history`)) as { data: { runs: RunWire[] } }).data.runs;
}

/** Waits until rotation `id` has no run in progress (its retire step done) and answers its state then. */
export function runClosed(b: Broker, id: string, what = 'the retire step to complete', timeoutMs = 60_000): Promise<RotationWire> {
  return waitFor(what, async () => {
    const r = await rotation(b, id);
    return r.in_progress === null ? r : null;
  }, timeoutMs);
}

export async function canLogin(target: Target, c: Creds): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: c.username, password: c.password, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Waits until `check` (what the broker or the target reports) yields a value: re-checked on what the brokers and
 * agents do (test/helpers/poll.ts), on `opts.on` and at `opts.at`, never on a timer.
 */
export function waitFor<T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 30_000, opts: Omit<PollOptions, 'timeoutMs'> = {}): Promise<T> {
  return pollUntil(what, check, { timeoutMs, ...opts });
}
