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

const tokenWith = async (policies: string[], from?: string): Promise<string> => {
  const r = await api(b, 'POST', 'auth/token/create', { token: from, body: { policies } });
  if (r.status !== 200) throw new Error(`token create failed: ${r.status} ${r.text}`);
  return (r.json as { auth: { client_token: string } }).auth.client_token;
};
const errorsOf = (json: unknown): string[] => ((json as { errors?: string[] }).errors ?? []);

test.serial('node-vault: a read-only policy on secret/data/app/* reads there and nowhere else', async (t) => {
  const root = vaultClient(b);
  await root.addPolicy({
    name: 'app-read',
    rules: JSON.stringify({
      path: {
        'secret/data/app/*': { capabilities: ['read', 'list'] },
        'secret/metadata/app/*': { capabilities: ['list'] },
        'secret/data/app/private/*': { capabilities: ['deny'] },
      },
    }),
  });
  t.true(((await root.getPolicy({ name: 'app-read' })).data as { rules: string }).rules.includes('secret/data/app/*'));
  await root.write('secret/data/app/db', { data: { password: 'p1' } });
  await root.write('secret/data/app/private/key', { data: { k: 'hidden' } });
  await root.write('secret/data/other/x', { data: { v: 1 } });

  const app = vaultClient(b, await tokenWith(['app-read']));
  t.deepEqual((await app.read('secret/data/app/db')).data.data, { password: 'p1' });
  t.deepEqual((await app.list('secret/metadata/app')).data, { keys: ['db', 'private/'] });
  const denied = async (p: Promise<unknown>) => {
    const err = await t.throwsAsync(p);
    t.regex(String(err?.message), /permission denied/);
  };
  await denied(app.write('secret/data/app/db', { data: { password: 'evil' } }));
  await denied(app.read('secret/data/other/x'));
  await denied(app.read('sys/mounts'));
  await denied(app.read('secret/data/app/private/key'));
  await denied(app.delete('secret/data/app/db'));
  t.deepEqual((await root.read('secret/data/app/db')).data.data, { password: 'p1' }, 'nothing was written');
});

test.serial('policies: CRUD through sys/policies/acl and sys/policy, HCL and JSON, bad documents are 400s', async (t) => {
  const hcl = 'path "secret/data/hcl/*" {\n  capabilities = ["read"]\n}\n# comment\n';
  t.is((await api(b, 'PUT', 'sys/policies/acl/hcl-one', { body: { policy: hcl } })).status, 204);
  const got = await api(b, 'GET', 'sys/policies/acl/hcl-one');
  t.deepEqual((got.json as { data: unknown }).data, { name: 'hcl-one', policy: hcl });
  const list = await api(b, 'GET', 'sys/policies/acl?list=true');
  t.true((list.json as { data: { keys: string[] } }).data.keys.includes('hcl-one'));
  t.deepEqual(((await vaultClient(b).policies()).data as { policies: string[] }).policies.includes('root'), true);

  for (const [policy, msg] of [
    ['path "x/*" { capabilities = ["fly"] }', /unknown capability "fly"/],
    ['path "x/*/y" { capabilities = ["read"] }', /only at the end/],
    ['{"path": {"a": {"capabilities": "read"}}', /malformed JSON/],
    ['path x { }', /cannot parse HCL/],
  ] as const) {
    const r = await api(b, 'PUT', 'sys/policies/acl/bad', { body: { policy } });
    t.is(r.status, 400, policy);
    t.regex(errorsOf(r.json)[0] ?? '', msg);
  }
  t.is((await api(b, 'PUT', 'sys/policies/acl/..%2Fx', { body: { policy: '' } })).status, 400);
  t.is((await api(b, 'PUT', 'sys/policies/acl/root', { body: { policy: '' } })).status, 400);
  t.is((await api(b, 'DELETE', 'sys/policies/acl/default')).status, 400);
  t.is((await api(b, 'DELETE', 'sys/policies/acl/hcl-one')).status, 204);
  t.is((await api(b, 'GET', 'sys/policies/acl/hcl-one')).status, 404);
});

test.serial('most specific rule wins, "+" matches one segment, deny beats everything on its path', async (t) => {
  const policy = {
    path: {
      'secret/data/+/shared': { capabilities: ['read'] },
      'secret/data/team/*': { capabilities: ['read', 'create', 'update'] },
      'secret/data/team/locked': { capabilities: ['deny', 'read'] },
    },
  };
  t.is((await api(b, 'PUT', 'sys/policy/spec', { body: { rules: JSON.stringify(policy) } })).status, 204);
  const tok = await tokenWith(['spec']);
  for (const p of ['team/a', 'team/locked', 'x/shared', 'x/y/shared']) await vaultClient(b).write(`secret/data/${p}`, { data: { p } });
  const read = async (p: string) => (await api(b, 'GET', `secret/data/${p}`, { token: tok })).status;
  t.is(await read('team/a'), 200);
  t.is(await read('x/shared'), 200);
  t.is(await read('x/y/shared'), 403, '"+" is exactly one segment');
  t.is(await read('team/locked'), 403);
  const caps = await api(b, 'POST', 'sys/capabilities-self', { token: tok, body: { paths: ['secret/data/team/a', 'secret/data/team/locked', 'sys/mounts'] } });
  t.deepEqual((caps.json as { data: unknown }).data, {
    'secret/data/team/a': ['create', 'read', 'update'],
    'secret/data/team/locked': ['deny'],
    'sys/mounts': ['deny'],
  });
});

test.serial('create versus update is decided by whether the secret exists', async (t) => {
  await api(b, 'PUT', 'sys/policy/create-only', { body: { rules: 'path "secret/data/drop/*" { capabilities = ["create"] }' } });
  const tok = await tokenWith(['create-only']);
  t.is((await api(b, 'POST', 'secret/data/drop/new', { token: tok, body: { data: { v: 1 } } })).status, 200);
  t.is((await api(b, 'POST', 'secret/data/drop/new', { token: tok, body: { data: { v: 2 } } })).status, 403, 'overwriting needs update');
  t.deepEqual((await vaultClient(b).read('secret/data/drop/new')).data.data, { v: 1 });
});

test.serial('token hierarchy: children get a subset of the parent policies unless the parent holds sudo', async (t) => {
  await api(b, 'PUT', 'sys/policy/minter', { body: { rules: 'path "auth/token/create" { capabilities = ["update"] }' } });
  await api(b, 'PUT', 'sys/policy/sudo-minter', {
    body: { rules: 'path "auth/token/create" { capabilities = ["update", "sudo"] }\npath "auth/token/create-orphan" { capabilities = ["update", "sudo"] }' },
  });
  const minter = await tokenWith(['minter', 'app-read']);
  const child = await api(b, 'POST', 'auth/token/create', { token: minter, body: { policies: ['app-read'] } });
  t.is(child.status, 200);
  t.deepEqual((child.json as { auth: { policies: string[] } }).auth.policies, ['app-read', 'default']);
  const wider = await api(b, 'POST', 'auth/token/create', { token: minter, body: { policies: ['spec'] } });
  t.is(wider.status, 403);
  t.is((await api(b, 'POST', 'auth/token/create-orphan', { token: minter, body: {} })).status, 403);
  t.is((await api(b, 'POST', 'auth/token/create', { token: minter, body: { no_parent: true } })).status, 403);

  const sudo = await tokenWith(['sudo-minter']);
  t.is((await api(b, 'POST', 'auth/token/create', { token: sudo, body: { policies: ['spec'] } })).status, 200);
  t.is((await api(b, 'POST', 'auth/token/create-orphan', { token: sudo, body: { policies: ['spec'] } })).status, 200);
  t.is((await api(b, 'POST', 'auth/token/create', { token: sudo, body: { policies: ['root'] } })).status, 403, 'never root');
});

test.serial('root-protected paths need sudo; the default policy lets a token manage only itself', async (t) => {
  await api(b, 'PUT', 'sys/policy/ops', { body: { rules: 'path "sys/*" { capabilities = ["read", "update", "create"] }' } });
  const ops = await tokenWith(['ops']);
  t.is((await api(b, 'GET', 'sys/mounts', { token: ops })).status, 200);
  t.is((await api(b, 'PUT', 'sys/rotate', { token: ops })).status, 403, 'sys/rotate needs sudo');
  t.is((await api(b, 'PUT', 'sys/seal', { token: ops })).status, 403, 'sys/seal needs sudo');
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: ops })).status, 200);
  t.is((await api(b, 'POST', 'auth/token/lookup', { token: ops, body: { token: b.rootToken } })).status, 403);
});

test.serial('a policy change takes effect on the next request', async (t) => {
  await api(b, 'PUT', 'sys/policy/flip', { body: { rules: 'path "secret/data/flip" { capabilities = ["read"] }' } });
  await vaultClient(b).write('secret/data/flip', { data: { v: 1 } });
  const tok = await tokenWith(['flip']);
  t.is((await api(b, 'GET', 'secret/data/flip', { token: tok })).status, 200);
  await api(b, 'PUT', 'sys/policy/flip', { body: { rules: 'path "secret/data/flip" { capabilities = ["deny"] }' } });
  t.is((await api(b, 'GET', 'secret/data/flip', { token: tok })).status, 403);
  await api(b, 'DELETE', 'sys/policy/flip');
  t.is((await api(b, 'GET', 'secret/data/flip', { token: tok })).status, 403);
});
