// Logins through auth methods hand out tokens that can do exactly what their policies say, and one templated
// policy gives each Kubernetes service account its own subtree.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';

let b: Broker;
let keys: Awaited<ReturnType<typeof generateKeyPair>>;
const ISSUER = 'https://kubernetes.default.svc.cluster.local';

const saToken = (namespace: string, name: string): Promise<string> =>
  new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name, uid: randomUUID() } } })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(ISSUER)
    .setSubject(`system:serviceaccount:${namespace}:${name}`)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(keys.privateKey);

test.before(async () => {
  b = await startApp();
  keys = await generateKeyPair('ES256', { extractable: true });
  const root = vaultClient(b);
  await root.write('sys/auth/kubernetes', { type: 'kubernetes' });
  await root.write('auth/kubernetes/config', { pem_keys: [await exportSPKI(keys.publicKey)], issuer: ISSUER });
  const accessor = ((await api(b, 'GET', 'sys/auth')).json as { data: Record<string, { accessor: string }> }).data['kubernetes/']?.accessor;
  // One policy for every service account: its own secret/data/<namespace>/<name>/*.
  const templated = `path "secret/data/{{identity.entity.aliases.${accessor}.metadata.service_account_namespace}}/{{identity.entity.aliases.${accessor}.metadata.service_account_name}}/*" {
  capabilities = ["read", "create", "update"]
}`;
  await root.addPolicy({ name: 'own-subtree', rules: templated });
  await root.write('auth/kubernetes/role/workloads', {
    bound_service_account_names: ['web', 'worker'],
    bound_service_account_namespaces: ['team-a', 'team-b'],
    token_policies: ['own-subtree'],
    token_ttl: '1h',
  });
  for (const [ns, name] of [['team-a', 'web'], ['team-b', 'worker']]) {
    await root.write(`secret/data/${ns}/${name}/db`, { data: { password: `${ns}-${name}-pw` } });
  }
});
test.after.always(async () => {
  await b?.stop();
});

test('a templated policy lets each service account read only its own secret/data/<namespace>/<name>/*', async (t) => {
  const login = async (ns: string, name: string) => {
    const r = await api(b, 'POST', 'auth/kubernetes/login', { token: null, body: { role: 'workloads', jwt: await saToken(ns, name) } });
    t.is(r.status, 200, r.text);
    return (r.json as { auth: { client_token: string } }).auth.client_token;
  };
  const web = vaultClient(b, await login('team-a', 'web'));
  const worker = vaultClient(b, await login('team-b', 'worker'));
  t.deepEqual((await web.read('secret/data/team-a/web/db')).data.data, { password: 'team-a-web-pw' });
  t.deepEqual((await worker.read('secret/data/team-b/worker/db')).data.data, { password: 'team-b-worker-pw' });
  await t.throwsAsync(web.read('secret/data/team-b/worker/db'), { message: /permission denied/ });
  await t.throwsAsync(worker.read('secret/data/team-a/web/db'), { message: /permission denied/ });
  await t.throwsAsync(web.read('secret/data/team-a/worker/db'), { message: /permission denied/ });
  await web.write('secret/data/team-a/web/new', { data: { k: 'v' } });
  await t.throwsAsync(web.write('secret/data/team-a/other/new', { data: { k: 'v' } }), { message: /permission denied/ });
  await t.throwsAsync(web.read('sys/mounts'), { message: /permission denied/ });
});

test('an AppRole login returns a token that can do exactly what its policy says', async (t) => {
  const root = vaultClient(b);
  await root.write('sys/auth/approle', { type: 'approle' });
  await root.addPolicy({ name: 'billing-read', rules: 'path "secret/data/billing/*" { capabilities = ["read"] }' });
  await root.write('auth/approle/role/billing', { token_policies: ['billing-read'], token_ttl: '20m' });
  await root.write('secret/data/billing/stripe', { data: { key: 'sk_test_123' } });
  const roleId = ((await root.read('auth/approle/role/billing/role-id')).data as { role_id: string }).role_id;
  const secretId = ((await root.write('auth/approle/role/billing/secret-id', {})).data as { secret_id: string }).secret_id;
  const app = vaultClient(b, '');
  const login = await app.approleLogin({ role_id: roleId, secret_id: secretId });
  t.deepEqual([...(login.auth?.policies ?? [])].sort(), ['billing-read', 'default']);
  t.deepEqual((await app.read('secret/data/billing/stripe')).data.data, { key: 'sk_test_123' });
  await t.throwsAsync(app.write('secret/data/billing/stripe', { data: { key: 'evil' } }), { message: /permission denied/ });
  await t.throwsAsync(app.read('secret/data/team-a/web/db'), { message: /permission denied/ });
  await t.throwsAsync(app.read('sys/policy'), { message: /permission denied/ });
});
