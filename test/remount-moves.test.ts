// sys/remount with what hangs off a mount (issue 15): a mount with rotations can be moved and its rotations follow it
// (new id, same schedule, history kept, still runnable); the leases of a moved database mount keep their ids and
// still renew and revoke (the target role is really dropped). And LIST requests are logged as LIST, not as the LINK
// of the wire rewrite. A real broker on a real PostgreSQL, a real PostgreSQL target.
import net from 'node:net';
import test from 'ava';
import { api, startBroker, type ApiResponse, type Broker } from './helpers/broker.ts';
import { startPostgres, withPgClient, type PgCluster } from './helpers/postgres.ts';

let b: Broker;
let cluster: PgCluster;
let targetUrl: string;
test.before(async () => {
  cluster = await startPostgres();
  targetUrl = await cluster.createDatabase();
  b = await startBroker({ databaseUrl: await cluster.createDatabase(), env: { SEALBOX_ACCESS_LOG: 'true' } });
});
test.after.always(async () => {
  await b?.stop();
});

const must = async (method: string, path: string, body?: unknown): Promise<ApiResponse> => {
  const r = await api(b, method, path, { body });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r;
};
const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;

test.serial('a KV mount with a rotation moves; the rotation follows with its schedule and history and still runs there', async (t) => {
  await must('POST', 'sys/mounts/kvr-a', { type: 'kv', options: { version: '2' } });
  await must('POST', 'kvr-a/data/app', { data: { username: 'app', password: 'initial' } });
  await must('POST', 'kvr-a/rotate-config/app', { schedule: '0 3 * * *', key: 'password', generator: { length: 20 } });
  await must('POST', 'sys/rotations/kvr-a/rotate/app/run');
  const v2 = dataOf<{ data: { password: string }; metadata: { version: number } }>(await must('GET', 'kvr-a/data/app'));
  t.is(v2.metadata.version, 2);

  const moved = await api(b, 'POST', 'sys/remount', { body: { from: 'kvr-a', to: 'kvr-b' } });
  t.is(moved.status, 200, moved.text);
  t.is((await api(b, 'GET', 'sys/rotations/kvr-a/rotate/app')).status, 404, 'no rotation left under the old path');
  const rot = dataOf<{ schedule: string }>(await must('GET', 'sys/rotations/kvr-b/rotate/app'));
  t.is(rot.schedule, '0 3 * * *');
  const history = (await must('GET', 'sys/rotations/kvr-b/rotate/app/history')).json as { data: { runs?: unknown[] } };
  t.true((history.data.runs ?? []).length >= 1, JSON.stringify(history.data));
  t.deepEqual(dataOf<{ schedule: string }>(await must('GET', 'kvr-b/rotate-config/app')).schedule, '0 3 * * *');

  // It runs at its new path: a third version, with a new generated password.
  await must('POST', 'sys/rotations/kvr-b/rotate/app/run');
  const v3 = dataOf<{ data: { username: string; password: string }; metadata: { version: number } }>(await must('GET', 'kvr-b/data/app'));
  t.is(v3.metadata.version, 3);
  t.is(v3.data.username, 'app');
  t.not(v3.data.password, v2.data.password);
  // And back again: a second move renames it once more.
  t.is((await api(b, 'POST', 'sys/remount', { body: { from: 'kvr-b', to: 'kvr-c' } })).status, 200);
  t.is((await api(b, 'GET', 'sys/rotations/kvr-c/rotate/app')).status, 200);
});

test.serial('leases of a moved database mount keep their ids and still renew and revoke', async (t) => {
  await must('POST', 'sys/mounts/db-old', { type: 'database' });
  await must('POST', 'db-old/config/main', { plugin_name: 'postgresql-database-plugin', connection_url: targetUrl, allowed_roles: '*' });
  await must('POST', 'db-old/roles/app', {
    db_name: 'main',
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`],
    default_ttl: '1h',
    max_ttl: '24h',
  });
  const creds = (await must('GET', 'db-old/creds/app')).json as { lease_id: string; renewable: boolean; data: { username: string } };
  t.regex(creds.lease_id, /^db-old\/creds\/app\//);
  t.true(creds.renewable);
  const exists = (name: string): Promise<boolean> =>
    withPgClient(targetUrl, async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).rowCount === 1);
  t.true(await exists(creds.data.username));

  await must('POST', 'sys/remount', { from: 'db-old', to: 'db-new' });
  const renewed = await api(b, 'PUT', 'sys/leases/renew', { body: { lease_id: creds.lease_id, increment: '2h' } });
  t.is(renewed.status, 200, renewed.text);
  t.is((renewed.json as { lease_id: string }).lease_id, creds.lease_id);
  t.is((renewed.json as { lease_duration: number }).lease_duration, 7200);
  // New credentials come from the new path; the engine's config moved with the mount.
  const fresh = (await must('GET', 'db-new/creds/app')).json as { lease_id: string };
  t.regex(fresh.lease_id, /^db-new\/creds\/app\//);

  const revoked = await api(b, 'PUT', 'sys/leases/revoke', { body: { lease_id: creds.lease_id } });
  t.is(revoked.status, 204, revoked.text);
  t.false(await exists(creds.data.username), 'the revocation dropped the role');
  t.is((await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: creds.lease_id } })).status, 400);
  // Revoking by the mount's new path reaches the leases issued there.
  await must('PUT', 'sys/leases/revoke-prefix/db-new');
  t.is((await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: fresh.lease_id } })).status, 400);
});

/** One raw `LIST` request (fetch and node-vault cannot send the method). */
function rawList(path: string): Promise<string> {
  const { hostname, port } = new URL(b.address);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(port), hostname);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (out += c));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(`LIST /v1/${path} HTTP/1.1\r\nHost: sealbox\r\nX-Vault-Token: ${b.rootToken}\r\nConnection: close\r\n\r\n`);
  });
}

test.serial('the access log names a LIST request LIST', async (t) => {
  await must('POST', 'secret/data/listed/one', { data: { a: '1' } });
  const res = await rawList('secret/metadata/listed');
  t.regex(res, /^HTTP\/1\.1 200 /);
  t.regex(res, /"keys":\["one"\]/);
  // The line is written before the response ends; it reaches this process with the broker's next stdout chunk.
  const isIt = (l: Record<string, unknown>) => l.msg === 'request' && l.path === '/v1/secret/metadata/listed';
  t.true(await b.waitForLogLine(isIt, 10_000), 'no access log line for the LIST');
  const line = b.logLines().find(isIt);
  t.is(line?.method, 'LIST', JSON.stringify(line));
  t.false(b.logs().includes('"method":"LINK"'));
});
