/**
 * Logs in to a config's target as a given user (a static role's user, with the password a rotation just set) and
 * runs SELECT 1: the rotation's test step. Host, port, database and TLS settings come from connection_url; the
 * user and password are always the given ones, even when connection_url carries literal credentials.
 */
import pg from 'pg';
import { buildConnectionString, describeTarget } from './connection-url.ts';
import type { DbConfig } from './model.ts';
import { CONNECT_TIMEOUT_MS } from './pools.ts';
import { connectFailure } from './target-errors.ts';

function connectionStringFor(template: string, username: string, password: string): string {
  const url = new URL(buildConnectionString(template, username, password));
  url.username = encodeURIComponent(username);
  url.password = encodeURIComponent(password);
  for (const key of [...url.searchParams.keys()]) {
    if (/^(user|password)$/i.test(key)) url.searchParams.delete(key);
  }
  return url.toString();
}

/** Resolves with null when the login and SELECT 1 worked, else with why not (no password in it). */
export async function loginAs(config: Pick<DbConfig, 'connectionUrl'>, username: string, password: string): Promise<string | null> {
  let client: pg.Client | null = null;
  try {
    client = new pg.Client({
      connectionString: connectionStringFor(config.connectionUrl, username, password),
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      query_timeout: CONNECT_TIMEOUT_MS,
      application_name: 'sealbox-rotation-test',
    });
    client.on('error', () => {});
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (err) {
    return connectFailure(err, describeTarget(config.connectionUrl), CONNECT_TIMEOUT_MS / 1000);
  } finally {
    await client?.end().catch(() => {});
  }
}
