// Issue 13: rows written before migration 0008 have no MAC. The process that applies 0008 adopts them at its first
// unseal; a row whose MAC a writer clears later is refused, not adopted again.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api, startBroker } from './helpers/broker.ts';
import { startPostgres, stopPostgres, withPgClient } from './helpers/postgres.ts';
import { createToken, refused } from './helpers/replica-pair.ts';

test.after.always(stopPostgres);

const MAC_TABLES = ['tokens', 'policies', 'mounts', 'leases', 'rate_limit_quotas', 'quota_config', 'lease_count_quotas', 'password_policies', 'rotations', 'seal_configs', 'scheduled_jobs'];

test('rows from before migration 0008 are adopted by the broker that applies it; a MAC cleared afterwards is refused', async (t) => {
  const cluster = await startPostgres();
  const databaseUrl = await cluster.createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sealbox-adopt-'));
  const rootToken = 'adopt-root';
  const first = await startBroker({ dataDir, databaseUrl, rootToken });
  t.is((await api(first, 'POST', 'secret/data/app', { body: { data: { v: 1 } } })).status, 200);
  t.is((await api(first, 'PUT', 'sys/policies/acl/app', { body: { policy: JSON.stringify({ path: { 'secret/data/app': { capabilities: ['read'] } } }) } })).status, 204);
  const app = await createToken(first, { policies: ['app'], num_uses: 5 });
  await first.stop();

  // Back to the schema (and rows) of before 0008, as an older sealbox left them.
  await withPgClient(databaseUrl, async (c) => {
    for (const table of MAC_TABLES) await c.query(`ALTER TABLE ${table} DROP COLUMN mac`);
    await c.query('ALTER TABLE tokens DROP COLUMN num_uses_limit');
    await c.query('DROP TABLE token_tombstones');
    await c.query(`DELETE FROM schema_migrations WHERE name LIKE '0008_%'`);
  });

  const upgraded = await startBroker({ dataDir, databaseUrl, rootToken });
  t.teardown(() => upgraded.stop());
  t.true(upgraded.logLines().some((l) => l.msg === 'migrations applied'));
  t.true(upgraded.logLines().some((l) => typeof l.msg === 'string' && l.msg.includes('were adopted')));
  t.is((await api(upgraded, 'GET', 'secret/data/app', { token: app.token })).status, 200, 'the old token, policy and mount work');
  t.is((await api(upgraded, 'GET', 'secret/data/app')).status, 200, 'the dev root token works');
  const unsigned = await withPgClient(databaseUrl, async (c) => {
    let n = 0;
    for (const table of MAC_TABLES) n += Number((await c.query(`SELECT count(*) AS n FROM ${table} WHERE mac IS NULL`)).rows[0].n);
    return n;
  });
  t.is(unsigned, 0, 'every row got its MAC');

  // Later, a writer clears a MAC after changing the row: it is not adopted again, at no unseal.
  await withPgClient(databaseUrl, (c) => c.query(`UPDATE tokens SET policies = '{root}', mac = NULL WHERE accessor = $1`, [app.accessor]));
  t.is((await api(upgraded, 'POST', 'sys/seal')).status, 204);
  t.is((await api(upgraded, 'PUT', 'sys/unseal', { token: null, body: { key: await devUnsealKey(dataDir) } })).status, 200);
  t.true(refused(await api(upgraded, 'GET', 'sys/mounts', { token: app.token })));
  const restarted = await startBroker({ dataDir, databaseUrl, rootToken });
  t.teardown(() => restarted.stop());
  t.true(refused(await api(restarted, 'GET', 'sys/mounts', { token: app.token })));
});

async function devUnsealKey(dataDir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dataDir, 'dev-credentials.json'), 'utf8')) as { unseal_key: string }).unseal_key;
}
