// kubernetes auth method, end to end against a real broker: service-account JWTs (legacy Secret-based and projected)
// signed by test keys, verified locally with pem_keys; every refused JWT gets the same 400.
import { randomUUID } from 'node:crypto';
import test from 'ava';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';

interface KeyPair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  alg: string;
}

let b: Broker;
let rs: KeyPair;
let es: KeyPair;
let foreign: KeyPair;
const INVALID = { errors: ['invalid credentials'] };
const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';
const issuedJwts: string[] = [];

const now = (): number => Math.floor(Date.now() / 1000);
const dataOf = <T>(json: unknown): T => (json as { data: T }).data;
const authOf = (json: unknown): { client_token: string; policies: string[] } =>
  (json as { auth: { client_token: string; policies: string[] } }).auth;

async function pair(alg: string): Promise<KeyPair> {
  return { ...(await generateKeyPair(alg, { extractable: true })), alg };
}

async function sign(claims: JWTPayload, key: KeyPair): Promise<string> {
  const jwt = await new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: 'cluster' }).sign(key.privateKey);
  issuedJwts.push(jwt);
  return jwt;
}

/** A legacy Secret-based token: fixed issuer, no exp. */
function legacy(namespace: string, name: string, uid: string = randomUUID(), extra: JWTPayload = {}): JWTPayload {
  return {
    iss: 'kubernetes/serviceaccount',
    'kubernetes.io/serviceaccount/namespace': namespace,
    'kubernetes.io/serviceaccount/secret.name': `${name}-token-abcde`,
    'kubernetes.io/serviceaccount/service-account.name': name,
    'kubernetes.io/serviceaccount/service-account.uid': uid,
    sub: `system:serviceaccount:${namespace}:${name}`,
    ...extra,
  };
}

/** A projected (bound) token as the kubelet mounts it. */
function projected(namespace: string, name: string, uid: string = randomUUID(), extra: JWTPayload = {}): JWTPayload {
  return {
    aud: ['https://kubernetes.default.svc.cluster.local'],
    exp: now() + 3600,
    iat: now(),
    nbf: now(),
    iss: CLUSTER_ISSUER,
    sub: `system:serviceaccount:${namespace}:${name}`,
    'kubernetes.io': {
      namespace,
      pod: { name: `${name}-7d9f8`, uid: randomUUID() },
      serviceaccount: { name, uid },
    },
    ...extra,
  };
}

const login = (jwt: string, role = 'web', mount = 'kubernetes') => api(b, 'POST', `auth/${mount}/login`, { token: null, body: { role, jwt } });

interface Self {
  display_name: string;
  meta: Record<string, string>;
  policies: string[];
  ttl: number;
}
async function lookupSelf(token: string): Promise<Self> {
  return dataOf<Self>((await api(b, 'GET', 'auth/token/lookup-self', { token })).json);
}

test.before(async () => {
  [rs, es, foreign] = await Promise.all([pair('RS256'), pair('ES256'), pair('RS256')]);
  b = await startApp();
  for (const path of ['kubernetes', 'k8s-iss']) {
    const r = await api(b, 'POST', `sys/auth/${path}`, { body: { type: 'kubernetes' } });
    if (r.status !== 204 && r.status !== 200) throw new Error(`enabling kubernetes failed: ${r.status} ${r.text}`);
  }
});
test.after.always(async () => {
  await b?.stop();
});

test.serial('config with neither pem_keys nor kubernetes_host is a 400; a valid config round-trips', async (t) => {
  t.is((await api(b, 'GET', 'auth/kubernetes/config')).status, 404);
  // Without pem_keys, logins use TokenReview against kubernetes_host (test/kubernetes-tokenreview.test.ts).
  const none = await api(b, 'POST', 'auth/kubernetes/config', { body: { issuer: 'x' } });
  t.is(none.status, 400);
  t.regex((none.json as { errors: string[] }).errors[0] ?? '', /^no host provided/);
  t.is((await api(b, 'POST', 'auth/kubernetes/config', { body: { pem_keys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----'] } })).status, 400);
  t.is((await api(b, 'POST', 'auth/kubernetes/config', { body: { pem_keys: [await exportSPKI(rs.publicKey)], kubernetes_host: 'not a url' } })).status, 400);
  t.is((await api(b, 'GET', 'auth/kubernetes/config')).status, 404, 'nothing was stored by the refused writes');

  const pems = [await exportSPKI(rs.publicKey), await exportSPKI(es.publicKey)];
  const w = await api(b, 'POST', 'auth/kubernetes/config', { body: { kubernetes_host: 'https://10.0.0.1:443', pem_keys: pems, disable_local_ca_jwt: true } });
  t.is(w.status, 204, w.text);
  const cfg = dataOf<Record<string, unknown>>((await api(b, 'GET', 'auth/kubernetes/config')).json);
  t.like(cfg, { kubernetes_host: 'https://10.0.0.1:443', issuer: '', disable_iss_validation: true, disable_local_ca_jwt: true });
  t.deepEqual(cfg.pem_keys, pems.map((p) => p.trim()));
});

test.serial('roles need both bindings and round-trip with Vault field names', async (t) => {
  t.regex(((await api(b, 'POST', 'auth/kubernetes/role/bad', { body: { bound_service_account_namespaces: ['a'] } })).json as { errors: string[] }).errors[0] ?? '', /bound_service_account_names/);
  t.regex(((await api(b, 'POST', 'auth/kubernetes/role/bad', { body: { bound_service_account_names: ['a'] } })).json as { errors: string[] }).errors[0] ?? '', /bound_service_account_namespaces/);
  t.is((await api(b, 'POST', 'auth/kubernetes/role/bad', { body: { bound_service_account_names: '*', bound_service_account_namespaces: '*' } })).status, 400);
  t.is((await api(b, 'POST', 'auth/kubernetes/role/bad', { body: { bound_service_account_names: 'a', bound_service_account_namespaces: 'b', alias_name_source: 'pod' } })).status, 400);
  t.is((await api(b, 'GET', 'auth/kubernetes/role/bad')).status, 404);

  const role = {
    bound_service_account_names: ['web', 'api-*'],
    bound_service_account_namespaces: 'team-a,team-b',
    token_policies: ['web-read'],
    token_ttl: '30m',
    token_max_ttl: 7200,
  };
  t.is((await api(b, 'POST', 'auth/kubernetes/role/web', { body: role })).status, 204);
  t.like(dataOf<Record<string, unknown>>((await api(b, 'GET', 'auth/kubernetes/role/web')).json), {
    bound_service_account_names: ['web', 'api-*'],
    bound_service_account_namespaces: ['team-a', 'team-b'],
    audience: '',
    alias_name_source: 'serviceaccount_uid',
    token_policies: ['web-read'],
    token_ttl: 1800,
    token_max_ttl: 7200,
  });
  // An update keeps what it does not mention.
  t.is((await api(b, 'POST', 'auth/kubernetes/role/web', { body: { alias_name_source: 'serviceaccount_name' } })).status, 204);
  t.like(dataOf<Record<string, unknown>>((await api(b, 'GET', 'auth/kubernetes/role/web')).json), {
    alias_name_source: 'serviceaccount_name',
    token_policies: ['web-read'],
  });
  t.deepEqual(dataOf<{ keys: string[] }>((await api(b, 'GET', 'auth/kubernetes/role?list=true')).json).keys, ['web']);
});

test.serial('a legacy service-account token logs in; the token carries the service account as metadata', async (t) => {
  const uid = randomUUID();
  const r = await login(await sign(legacy('team-a', 'web', uid), rs));
  t.is(r.status, 200, r.text);
  t.deepEqual([...authOf(r.json).policies].sort(), ['default', 'web-read']);
  const self = await lookupSelf(authOf(r.json).client_token);
  t.is(self.display_name, 'kubernetes-team-a-web');
  t.deepEqual(self.meta, { service_account_name: 'web', service_account_namespace: 'team-a', service_account_uid: uid, role: 'web' });
  t.true(self.ttl > 1700 && self.ttl <= 1800, `ttl ${self.ttl}`);
});

test.serial('a projected token (ES256) logs in through node-vault, with glob-bound names', async (t) => {
  const uid = randomUUID();
  const v = vaultClient(b, '');
  const res = await v.kubernetesLogin({ mount_point: 'kubernetes', role: 'web', jwt: await sign(projected('team-b', 'api-7', uid), es) });
  const token = res.auth?.client_token ?? '';
  t.is(v.token, token);
  const self = await lookupSelf(token);
  t.is(self.display_name, 'kubernetes-team-b-api-7');
  t.deepEqual(self.meta, { service_account_name: 'api-7', service_account_namespace: 'team-b', service_account_uid: uid, role: 'web' });
});

test.serial('forged, expired, not-yet-valid, unbound, mismatched and garbage JWTs all get the same 400', async (t) => {
  const cases: [string, string, string?][] = [
    ['signed by another key', await sign(legacy('team-a', 'web'), foreign)],
    ['expired', await sign(projected('team-a', 'api-exp', undefined, { exp: now() - 120 }), rs)],
    ['not yet valid', await sign(projected('team-a', 'api-nbf', undefined, { nbf: now() + 600 }), rs)],
    ['unbound namespace', await sign(projected('team-c', 'web'), rs)],
    ['unbound service account', await sign(legacy('team-a', 'db'), rs)],
    ['glob does not match', await sign(legacy('team-a', 'xapi-1'), rs)],
    ['subject names another account', await sign(legacy('team-a', 'web', undefined, { sub: 'system:serviceaccount:kube-system:admin' }), rs)],
    ['no service account claims', await sign({ sub: 'someone', exp: now() + 60 }, rs)],
    ['namespace claim of the wrong type', await sign(legacy('team-a', 'web', undefined, { 'kubernetes.io/serviceaccount/namespace': ['team-a'] }), rs)],
    ['garbage', 'garbage'],
    ['empty segments', '..'],
    ['oversize', await sign(projected('team-a', 'web', undefined, { pad: 'y'.repeat(17 * 1024) }), rs)],
    ['unknown role', await sign(legacy('team-a', 'web'), rs), 'nope'],
  ];
  for (const [what, jwt, role] of cases) {
    const r = await login(jwt, role);
    t.is(r.status, 400, what);
    t.deepEqual(r.json, INVALID, what);
  }
  t.deepEqual((await api(b, 'POST', 'auth/kubernetes/login', { token: null, body: { jwt: 'x' } })).json, { errors: ['missing role'] });
});

test.serial('a role audience must be in the token aud', async (t) => {
  const body = { bound_service_account_names: 'web', bound_service_account_namespaces: 'team-a', audience: 'sealbox', token_policies: 'aud' };
  t.is((await api(b, 'POST', 'auth/kubernetes/role/aud', { body })).status, 204);
  t.is((await login(await sign(projected('team-a', 'web', undefined, { aud: ['sealbox', 'x'] }), rs), 'aud')).status, 200);
  t.deepEqual((await login(await sign(projected('team-a', 'web', undefined, { aud: ['other'] }), rs), 'aud')).json, INVALID);
  t.deepEqual((await login(await sign(legacy('team-a', 'web'), rs), 'aud')).json, INVALID, 'legacy tokens have no aud');
});

test.serial('a configured issuer is required (legacy tokens may keep the legacy issuer)', async (t) => {
  const w = await api(b, 'POST', 'auth/k8s-iss/config', { body: { pem_keys: await exportSPKI(rs.publicKey), issuer: CLUSTER_ISSUER } });
  t.is(w.status, 204, w.text);
  t.is(dataOf<{ disable_iss_validation: boolean }>((await api(b, 'GET', 'auth/k8s-iss/config')).json).disable_iss_validation, false);
  t.is((await api(b, 'POST', 'auth/k8s-iss/role/r', { body: { bound_service_account_names: '*', bound_service_account_namespaces: 'team-a' } })).status, 204);
  t.is((await login(await sign(projected('team-a', 'a'), rs), 'r', 'k8s-iss')).status, 200);
  t.is((await login(await sign(legacy('team-a', 'b'), rs), 'r', 'k8s-iss')).status, 200);
  t.deepEqual((await login(await sign(projected('team-a', 'c', undefined, { iss: 'https://other.cluster' }), rs), 'r', 'k8s-iss')).json, INVALID);
  t.deepEqual((await login(await sign(projected('team-a', 'd', undefined, { iss: 'kubernetes/serviceaccount' }), rs), 'r', 'k8s-iss')).json, INVALID);

  // disable_iss_validation turns the check off even with an issuer set.
  await api(b, 'POST', 'auth/k8s-iss/config', { body: { pem_keys: await exportSPKI(rs.publicKey), issuer: CLUSTER_ISSUER, disable_iss_validation: true } });
  t.is((await login(await sign(projected('team-a', 'e', undefined, { iss: 'https://other.cluster' }), rs), 'r', 'k8s-iss')).status, 200);
});

test.serial('no lockout for service-account logins (as in Vault): a pod retrying a stale token recovers with a fresh one', async (t) => {
  for (let i = 0; i < 6; i++) t.deepEqual((await login(await sign(legacy('team-a', 'api-forged'), foreign))).json, INVALID);
  t.is((await login(await sign(legacy('team-a', 'api-forged'), rs))).status, 200);
  for (let i = 0; i < 6; i++) t.deepEqual((await login(await sign(projected('team-a', 'api-stale', undefined, { exp: now() - 600 }), rs))).json, INVALID);
  t.is((await login(await sign(projected('team-a', 'api-stale'), rs))).status, 200);
});

test.serial('no JWT reaches the broker logs', (t) => {
  const logs = b.logs();
  t.true(issuedJwts.length > 20);
  for (const jwt of issuedJwts) t.false(logs.includes(jwt.split('.')[2] ?? jwt));
});
