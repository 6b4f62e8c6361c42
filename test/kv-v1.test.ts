// KV version 1 mounts (options.version "1"): unversioned secrets at <mount>/<path>, and the version that
// sys/internal/ui/mounts reports (consul-template and Vault Agent detect KV v1/v2 from it).
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';

let b: Broker;
test.before(async () => {
  b = await startApp();
});
test.after.always(async () => {
  await b?.stop();
});

const dataOf = <T>(json: unknown): T => (json as { data: T }).data;

test.serial('a kv mount with options.version "1": write, read, overwrite, list, delete, through node-vault', async (t) => {
  const root = vaultClient(b);
  t.is((await api(b, 'POST', 'sys/mounts/kv1', { body: { type: 'kv', options: { version: '1' } } })).status, 204);
  await root.write('kv1/app/db', { user: 'app', password: 'p1' });
  await root.write('kv1/app/cache', { url: 'redis://x' });
  await root.write('kv1/top', { n: 1 });
  const read = await root.read('kv1/app/db');
  t.deepEqual(read.data, { user: 'app', password: 'p1' }, 'the body is the secret; no data/metadata wrapper');
  await root.write('kv1/app/db', { password: 'p2' });
  t.deepEqual((await root.read('kv1/app/db')).data, { password: 'p2' }, 'a write replaces the whole value: no versions');
  t.deepEqual(dataOf((await api(b, 'GET', 'kv1/app?list=true')).json), { keys: ['cache', 'db'] });
  t.deepEqual(dataOf((await api(b, 'GET', 'kv1?list=true')).json), { keys: ['app/', 'top'] });
  t.is((await api(b, 'DELETE', 'kv1/app/db')).status, 204);
  t.is((await api(b, 'GET', 'kv1/app/db')).status, 404);
  t.is((await api(b, 'GET', 'kv1/nothing/here?list=true')).status, 404);
  // v2's endpoints do not exist on a v1 mount: "data/x" is just a secret named data/x.
  await root.write('kv1/data/x', { v: 1 });
  t.deepEqual((await root.read('kv1/data/x')).data, { v: 1 });
  t.is((await api(b, 'POST', 'kv1/empty', { body: {} })).status, 400, 'Vault: missing data fields');
  t.is((await api(b, 'POST', 'kv1/a//b', { body: { v: 1 } })).status, 400);
});

test.serial('a token with create but not update may write a new v1 secret but not overwrite it', async (t) => {
  await api(b, 'POST', 'sys/mounts/kv1c', { body: { type: 'kv', options: { version: 1 } } });
  await vaultClient(b).write('kv1c/existing', { v: 1 });
  await api(b, 'PUT', 'sys/policies/acl/kv1-create', { body: { policy: 'path "kv1c/*" { capabilities = ["create", "read"] }' } });
  const tok = (await api(b, 'POST', 'auth/token/create', { body: { policies: ['kv1-create'] } })).json as { auth: { client_token: string } };
  const token = tok.auth.client_token;
  t.is((await api(b, 'POST', 'kv1c/new', { token, body: { v: 2 } })).status, 204);
  t.is((await api(b, 'POST', 'kv1c/existing', { token, body: { v: 3 } })).status, 403);
  t.deepEqual(dataOf((await api(b, 'GET', 'kv1c/existing', { token })).json), { v: 1 });
});

test.serial('sys/internal/ui/mounts reports options.version "1" or "2"; kv-v2 and kv without version are v2', async (t) => {
  await api(b, 'POST', 'sys/mounts/kv2t', { body: { type: 'kv-v2' } });
  await api(b, 'POST', 'sys/mounts/kvnov', { body: { type: 'kv' } });
  const ui = async (p: string) => dataOf<{ path: string; type: string; options: { version: string } }>((await api(b, 'GET', `sys/internal/ui/mounts/${p}`)).json);
  t.like(await ui('kv1/app/db'), { path: 'kv1/', type: 'kv', options: { version: '1' } });
  t.like(await ui('kv2t/app/db'), { path: 'kv2t/', type: 'kv', options: { version: '2' } });
  t.like(await ui('kvnov/x'), { type: 'kv', options: { version: '2' } });
  t.like(dataOf((await api(b, 'GET', 'sys/mounts')).json) as Record<string, unknown>, { 'kv1/': { type: 'kv', options: { version: '1' } } });
  await vaultClient(b).write('kv2t/data/x', { data: { v: 1 } });
  t.is(dataOf<{ metadata: { version: number } }>((await api(b, 'GET', 'kv2t/data/x')).json).metadata.version, 1);
});

test.serial('bad versions and version changes are 400s', async (t) => {
  const bad = await api(b, 'POST', 'sys/mounts/kvbad', { body: { type: 'kv', options: { version: '3' } } });
  t.is(bad.status, 400);
  t.regex((bad.json as { errors: string[] }).errors[0] ?? '', /options.version: must be "1" or "2"/);
  const tune = await api(b, 'POST', 'sys/mounts/kv1/tune', { body: { options: { version: '2' } } });
  t.is(tune.status, 400);
  t.regex((tune.json as { errors: string[] }).errors[0] ?? '', /cannot be changed/);
  t.is((await api(b, 'POST', 'sys/mounts/kv1/tune', { body: { options: { version: '1' } } })).status, 204, 'the same version is no change');
  t.is((await api(b, 'POST', 'sys/mounts/kv1/tune', { body: { description: 'v1 store' } })).status, 204);
});
