import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { api, startBroker, vaultClient } from './helpers/broker.ts';

interface SealStatus {
  sealed: boolean;
  initialized: boolean;
  t: number;
  n: number;
  progress: number;
}

async function productionBroker(seal: Record<string, unknown>) {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-prod-'));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ listen: '127.0.0.1:0', data_dir: dir, seal }));
  return startBroker({ configFile, dataDir: dir });
}

test('shamir seal: uninitialised 501, init, unseal with the threshold of shares, seal makes reads 503, unseal brings them back', async (t) => {
  const b = await productionBroker({ type: 'shamir' });
  t.teardown(() => b.stop());
  t.is((await api(b, 'GET', 'sys/health', { token: null })).status, 501);

  const init = await api(b, 'PUT', 'sys/init', { token: null, body: { secret_shares: 5, secret_threshold: 3 } });
  t.is(init.status, 200);
  const { keys, keys_base64, root_token } = init.json as { keys: string[]; keys_base64: string[]; root_token: string };
  t.is(keys.length, 5);
  t.is(keys_base64.length, 5);
  b.rootToken = root_token;
  t.is((await api(b, 'PUT', 'sys/init', { token: null, body: { secret_shares: 1, secret_threshold: 1 } })).status, 400);

  const health = await api(b, 'GET', 'sys/health', { token: null });
  t.is(health.status, 503);
  t.like(health.json as object, { initialized: true, sealed: true });
  t.is((await api(b, 'GET', 'sys/mounts')).status, 503);

  const unseal = async (key: string) => (await api(b, 'PUT', 'sys/unseal', { token: null, body: { key } })).json as SealStatus;
  t.like(await unseal(keys[0] ?? ''), { sealed: true, progress: 1, t: 3, n: 5 });
  t.is((await api(b, 'PUT', 'sys/unseal', { token: null, body: { key: keys[0] } })).status, 400, 'a repeated share is refused');
  t.like(await unseal(keys_base64[3] ?? ''), { sealed: true, progress: 2 });
  t.like(await unseal(keys[4] ?? ''), { sealed: false, progress: 0 });
  t.is((await api(b, 'GET', 'sys/health', { token: null })).status, 200);

  const v = vaultClient(b);
  await v.mount({ mount_point: 'kv', type: 'kv', options: { version: '2' } });
  await v.write('kv/data/app', { data: { password: 'hunter2' } });
  t.deepEqual((await v.read('kv/data/app')).data.data, { password: 'hunter2' });

  t.is((await api(b, 'PUT', 'sys/seal')).status, 204);
  const sealedRead = await api(b, 'GET', 'kv/data/app');
  t.is(sealedRead.status, 503);
  t.deepEqual(sealedRead.json, { errors: ['sealbox is sealed'] });
  t.like((await api(b, 'GET', 'sys/seal-status', { token: null })).json as object, { sealed: true, initialized: true });

  // Wrong shares: the combination does not open the keyring, and nothing unseals.
  const wrong = ['11', '22', '33'].map((p) => p.repeat(33));
  await unseal(wrong[0] ?? '');
  await unseal(wrong[1] ?? '');
  const bad = await api(b, 'PUT', 'sys/unseal', { token: null, body: { key: wrong[2] } });
  t.is(bad.status, 400);
  t.is((await api(b, 'GET', 'kv/data/app')).status, 503);

  await unseal(keys[1] ?? '');
  await unseal(keys[2] ?? '');
  await unseal(keys[3] ?? '');
  t.deepEqual((await v.read('kv/data/app')).data.data, { password: 'hunter2' });
});

test('static seal: init returns a root token, and a restart unseals by itself', async (t) => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-static-'));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ listen: '127.0.0.1:0', data_dir: dir, seal: { type: 'static', key } }));
  const b1 = await startBroker({ configFile, dataDir: dir });
  const init = await api(b1, 'PUT', 'sys/init', { token: null, body: {} });
  t.is(init.status, 200);
  b1.rootToken = (init.json as { root_token: string }).root_token;
  t.deepEqual((init.json as { keys: string[] }).keys, []);
  t.is((await api(b1, 'GET', 'sys/health', { token: null })).status, 200);
  await vaultClient(b1).mount({ mount_point: 'kv', type: 'kv-v2' });
  await vaultClient(b1).write('kv/data/s', { data: { a: 'b' } });
  t.is(await b1.stop(), 0);

  const b2 = await startBroker({ configFile, dataDir: dir });
  t.teardown(() => b2.stop());
  b2.rootToken = b1.rootToken;
  t.is((await api(b2, 'GET', 'sys/health', { token: null })).status, 200);
  t.deepEqual((await vaultClient(b2).read('kv/data/s')).data.data, { a: 'b' });
});

test('health honours sealedcode/uninitcode and bad config fails fast with a clear message', async (t) => {
  const b = await startBroker();
  t.teardown(() => b.stop());
  t.is((await api(b, 'GET', 'sys/health?activecode=299', { token: null })).status, 299);
  const sealed = await api(b, 'PUT', 'sys/seal');
  t.is(sealed.status, 204);
  t.is((await api(b, 'GET', 'sys/health?sealedcode=200', { token: null })).status, 200);
  t.is((await api(b, 'GET', 'sys/health', { token: null })).status, 503);
  const err = await startBroker({ args: ['--listen', 'nonsense'] }).then(
    () => '',
    (e: Error) => e.message,
  );
  t.regex(err, /listen: must be HOST:PORT/);
});
