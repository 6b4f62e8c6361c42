// Vault's output shapes: the top-level copies on sys routes, the 404 body of a deleted KV version, and a version in
// sys/seal-status and sys/health that version-gating tools accept. Also node-vault's LIST calls (no noCustomHTTPVerbs).
import test from 'ava';
import { api, startBroker, vaultClient, type Broker } from '../helpers/broker.ts';
import { rawRequest } from '../helpers/raw-http.ts';

let b: Broker;
test.before(async () => {
  b = await startBroker();
});
test.after.always(() => b?.stop());

type Body = Record<string, unknown> & { data: Record<string, unknown> };

test('sys/mounts, sys/auth, sys/policy and sys/policy/:name copy their data fields to the top level', async (t) => {
  for (const path of ['sys/mounts', 'sys/auth', 'sys/policy', 'sys/policy/default', 'sys/mounts/secret/tune']) {
    const r = await api(b, 'GET', path);
    t.is(r.status, 200, path);
    const body = r.json as Body;
    t.true(Object.keys(body.data).length > 0, path);
    for (const [k, v] of Object.entries(body.data)) t.deepEqual(body[k], v, `${path}: ${k}`);
    t.is(typeof body.request_id, 'string', 'the envelope wins a clash');
  }
  const mounts = (await api(b, 'GET', 'sys/mounts')).json as Body;
  t.like(mounts['secret/'], { type: 'kv' });
  const policy = (await api(b, 'GET', 'sys/policy/default')).json as Body;
  t.is(policy.name, 'default');
  t.is(typeof policy.rules, 'string');
  // Not on other routes.
  const kv = (await api(b, 'GET', 'sys/health')).json as Record<string, unknown>;
  t.false('data' in kv);
});

test('a deleted or destroyed KV v2 version reads as Vault’s 404 with the version metadata', async (t) => {
  for (let i = 0; i < 2; i++) t.is((await api(b, 'POST', 'secret/data/shapes', { body: { data: { n: i } } })).status, 200);
  t.is((await api(b, 'DELETE', 'secret/data/shapes')).status, 204);
  const latest = await api(b, 'GET', 'secret/data/shapes');
  t.is(latest.status, 404);
  const body = latest.json as Body;
  t.is(body.data.data, null);
  t.like(body.data.metadata, { version: 2, destroyed: false });
  t.true(Date.parse(String((body.data.metadata as Record<string, unknown>).deletion_time)) > 0);
  t.like(body, { lease_id: '', renewable: false, lease_duration: 0, wrap_info: null, warnings: null, auth: null });
  t.is(typeof body.request_id, 'string');
  t.is((await api(b, 'PUT', 'secret/destroy/shapes', { body: { versions: [1] } })).status, 204);
  const destroyed = await api(b, 'GET', 'secret/data/shapes?version=1');
  t.is(destroyed.status, 404);
  t.like((destroyed.json as Body).data, { data: null, metadata: { version: 1, destroyed: true } });
  // A secret that never existed, or a version that never existed: Vault's plain 404.
  t.deepEqual((await api(b, 'GET', 'secret/data/never')).json, { errors: [] });
  t.deepEqual((await api(b, 'GET', 'secret/data/shapes?version=9')).json, { errors: [] });
});

test('sys/seal-status and sys/health report a Vault API version with sealbox’s own as build metadata', async (t) => {
  for (const path of ['sys/seal-status', 'sys/health']) {
    const { version } = (await api(b, 'GET', path, { token: null })).json as { version: string };
    // hashicorp/go-version's form: Terraform's provider gates features between 1.10 and 1.21 on it.
    const m = /^(\d+)\.(\d+)\.(\d+)\+sealbox\.\d+\.\d+\.\d+$/.exec(version);
    t.truthy(m, version);
    t.is(Number(m?.[1]), 1);
    t.true(Number(m?.[2]) >= 10 && Number(m?.[2]) <= 21, version);
    t.false(version.includes('+ent'), 'never claims Enterprise');
  }
});

test('node-vault sends LIST (no noCustomHTTPVerbs): list() on KV metadata, policies and AppRole roles', async (t) => {
  const v = vaultClient(b);
  await v.write('secret/data/nv/a', { data: { x: 1 } });
  await v.write('secret/data/nv/b/c', { data: { x: 1 } });
  t.deepEqual(((await v.list('secret/metadata/nv')) as { data: { keys: string[] } }).data.keys.sort(), ['a', 'b/']);
  t.true(((await v.list('sys/policies/acl')) as { data: { keys: string[] } }).data.keys.includes('default'));
  await v.enableAuth({ mount_point: 'approle', type: 'approle' });
  await v.write('auth/approle/role/web', { token_policies: 'default' });
  t.deepEqual(((await v.approleRoles()) as { data: { keys: string[] } }).data.keys, ['web']);
  // The raw method on the wire, with a body, on one keep-alive connection.
  const raw = await rawRequest(b.address, 'LIST', '/v1/secret/metadata/nv', { token: b.rootToken, body: '{}' });
  t.is(raw.status, 200);
  t.deepEqual((raw.json as { data: { keys: string[] } }).data.keys.sort(), ['a', 'b/']);
});

test('node-vault tokenAccessors (LIST auth/token/accessors)', async (t) => {
  // node-vault's tokenCreate makes the new token the client's own: create it with another client.
  const created = (await vaultClient(b).tokenCreate({ policies: ['default'] })) as { auth: { accessor: string } };
  const v = vaultClient(b);
  t.true(((await v.tokenAccessors()) as { data: { keys: string[] } }).data.keys.includes(created.auth.accessor));
});
