import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api, startBroker, vaultClient } from './helpers/broker.ts';
import { startPostgres } from './helpers/postgres.ts';
import { brokerLog } from './helpers/wait-output.ts';

test('two --dev brokers on one DATA dir and PostgreSQL act as one cluster', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sealbox-replicas-'));
  const rootToken = 'replica-root';
  // Start both at once: exactly one of them may initialise the store.
  const [a, b] = await Promise.all([
    startBroker({ dataDir, databaseUrl, rootToken }),
    // Debug logs on b: its "notification handled" line says when a change made on a has been applied there.
    startBroker({ dataDir, databaseUrl, rootToken, env: { SEALBOX_LOG_LEVEL: 'debug' } }),
  ]);
  const handled = (channel: string) => brokerLog(b, (l) => l.msg === 'notification handled' && l.channel === channel, `notification handled on ${channel}`);
  const tokensOnB = handled('sealbox_tokens');
  const mountsOnB = handled('sealbox_mounts');
  const keyringOnB = handled('sealbox_keyring');
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });

  await vaultClient(a).write('secret/data/shared', { data: { v: 'from-a' } });
  t.deepEqual((await vaultClient(b).read('secret/data/shared')).data.data, { v: 'from-a' });

  // A token revoked on one replica is refused by the other at once (its cache is invalidated by NOTIFY).
  const created = await api(a, 'POST', 'auth/token/create', { body: { policies: ['root'] } });
  const token = (created.json as { auth: { client_token: string } }).auth.client_token;
  t.is((await api(b, 'GET', 'secret/data/shared', { token })).status, 200);
  const tokensSeen = tokensOnB.mark();
  t.is((await api(a, 'POST', 'auth/token/revoke', { body: { token } })).status, 204);
  await tokensOnB.next(tokensSeen);
  t.is((await api(b, 'GET', 'secret/data/shared', { token })).status, 403);

  // A mount made on one replica serves on the other.
  const mountsSeen = mountsOnB.mark();
  t.is((await api(a, 'POST', 'sys/mounts/team', { body: { type: 'kv-v2' } })).status, 204);
  await mountsOnB.next(mountsSeen);
  t.is((await api(b, 'POST', 'team/data/x', { body: { data: { k: 1 } } })).status, 200);

  // A keyring rotation on one replica: the other writes with the new term and reads both.
  const keyringSeen = keyringOnB.mark();
  t.is((await api(a, 'PUT', 'sys/rotate')).status, 204);
  await keyringOnB.next(keyringSeen);
  t.is(((await api(b, 'GET', 'sys/key-status')).json as { data: { term: number } }).data.term, 2);
  await vaultClient(b).write('secret/data/shared', { data: { v: 'from-b' } });
  t.deepEqual((await vaultClient(a).read('secret/data/shared')).data.data, { v: 'from-b' });
  t.deepEqual((await vaultClient(a).read('secret/data/shared?version=1')).data.data, { v: 'from-a' });
});
