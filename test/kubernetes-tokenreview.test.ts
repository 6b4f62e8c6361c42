// kubernetes auth without pem_keys: logins are checked by the Kubernetes API with a TokenReview, as Vault does. The
// API is a small fake HTTPS server in this process (a test CA signs its certificate); it stands in for Kubernetes.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';
import { createTestPki } from './helpers/test-pki.ts';
import { createLocalCredentials } from '../src/engines/kubernetes/local-credentials.ts';
import { unverifiedClaims } from '../src/engines/kubernetes/paths/login.ts';

interface Review {
  authenticated: boolean;
  username?: string;
  uid?: string;
  audiences?: string[];
  error?: string;
}
interface Seen {
  bearer: string;
  token: string;
  audiences: string[] | undefined;
}

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const INVALID = { errors: ['invalid credentials'] };
const reviews = new Map<string, Review | 'unauthorized'>();
const seen: Seen[] = [];
let b: Broker;
let api503Host = '';
let kubeHost = '';
let caPem = '';
let otherCaPem = '';
let signer: CryptoKey;
let server: https.Server;

const now = (): number => Math.floor(Date.now() / 1000);

/** A service-account JWT as Kubernetes issues it (the fake API decides whether it is valid, as the real one would). */
async function saJwt(namespace: string, name: string, uid: string, aud: string[] = ['https://kubernetes.default.svc']): Promise<string> {
  return new SignJWT({ 'kubernetes.io': { namespace, serviceaccount: { name, uid } } })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(ISSUER)
    .setSubject(`system:serviceaccount:${namespace}:${name}`)
    .setAudience(aud)
    .setIssuedAt(now())
    .setExpirationTime(now() + 600)
    .sign(signer);
}

/** Registers how the fake API answers a TokenReview of `jwt`. */
function kube(jwt: string, review: Review | 'unauthorized'): string {
  reviews.set(jwt, review);
  return jwt;
}

const login = (jwt: string, role = 'web', mount = 'k8s') => api(b, 'POST', `auth/${mount}/login`, { token: null, body: { role, jwt } });

test.before(async () => {
  const pki = createTestPki();
  pki.ca('kca', '/CN=kubernetes-ca');
  pki.ca('other', '/CN=some-other-ca');
  const tls = pki.issue('apiserver', { ca: 'kca', subject: '/CN=kube-apiserver', ext: ['subjectAltName=IP:127.0.0.1,DNS:localhost'] });
  caPem = pki.read('kca.pem');
  otherCaPem = pki.read('other.pem');
  signer = (await generateKeyPair('ES256')).privateKey;

  server = https.createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.method !== 'POST' || req.url !== '/apis/authentication.k8s.io/v1/tokenreviews') return reply(404, { kind: 'Status', status: 'Failure', code: 404 });
      const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { kind: string; apiVersion: string; spec: { token: string; audiences?: string[] } };
      if (doc.kind !== 'TokenReview' || doc.apiVersion !== 'authentication.k8s.io/v1') return reply(400, { kind: 'Status', status: 'Failure', code: 400 });
      const bearer = (req.headers.authorization ?? '').replace(/^Bearer /, '');
      seen.push({ bearer, token: doc.spec.token, audiences: doc.spec.audiences });
      const r = reviews.get(doc.spec.token);
      if (r === 'unauthorized') return reply(401, { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
      const status = r ?? { authenticated: false, error: 'invalid bearer token' };
      const user = status.username ? { username: status.username, uid: status.uid ?? '', groups: ['system:serviceaccounts'] } : undefined;
      return reply(201, { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', spec: doc.spec, status: { ...status, ...(user ? { user } : {}) } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeHost = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port with nothing listening: bind one, note it, close it.
  const closed = https.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  api503Host = `https://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => closed.close(() => resolve()));

  b = await startApp();
  for (const path of ['k8s', 'k8s-self', 'k8s-badca', 'k8s-down']) {
    const r = await api(b, 'POST', `sys/auth/${path}`, { body: { type: 'kubernetes' } });
    if (r.status !== 204) throw new Error(`enabling kubernetes failed: ${r.status} ${r.text}`);
  }
});
test.after.always(async () => {
  await b?.stop();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

const REVIEWER = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3ViZS1zeXN0ZW06dmF1bHQtYXV0aCJ9.c2ln';
const ROLE = { bound_service_account_names: ['web'], bound_service_account_namespaces: ['team-a'], audience: 'vault', token_policies: ['web-read'] };

test.serial('config without pem_keys: kubernetes_host, kubernetes_ca_cert and token_reviewer_jwt; the JWT is never read back', async (t) => {
  const none = await api(b, 'POST', 'auth/k8s/config', { body: { disable_local_ca_jwt: true } });
  t.is(none.status, 400);
  t.regex((none.json as { errors: string[] }).errors[0] ?? '', /no host provided/);
  t.is((await api(b, 'POST', 'auth/k8s/config', { body: { kubernetes_host: kubeHost, token_reviewer_jwt: 'not a jwt' } })).status, 400);
  t.is((await api(b, 'POST', 'auth/k8s/config', { body: { kubernetes_host: kubeHost, kubernetes_ca_cert: 'junk' } })).status, 400);
  const w = await api(b, 'POST', 'auth/k8s/config', {
    body: { kubernetes_host: kubeHost, kubernetes_ca_cert: caPem, token_reviewer_jwt: REVIEWER, issuer: ISSUER },
  });
  t.is(w.status, 204, w.text);
  const cfg = (await api(b, 'GET', 'auth/k8s/config')).json as { data: Record<string, unknown> };
  t.like(cfg.data, { kubernetes_host: kubeHost, pem_keys: [], token_reviewer_jwt_set: true, issuer: ISSUER });
  t.false(JSON.stringify(cfg).includes(REVIEWER));
  t.is((await api(b, 'POST', 'auth/k8s/role/web', { body: ROLE })).status, 204);
});

test.serial('login: TokenReview with the reviewer JWT and the role audience; the reviewed account becomes the token', async (t) => {
  const uid = randomUUID();
  const jwt = kube(await saJwt('team-a', 'web', uid, ['vault']), { authenticated: true, username: 'system:serviceaccount:team-a:web', uid, audiences: ['vault'] });
  const r = await login(jwt);
  t.is(r.status, 200, r.text);
  const auth = (r.json as { auth: { client_token: string; policies: string[]; metadata: Record<string, string> } }).auth;
  t.deepEqual(auth.policies, ['default', 'web-read']);
  t.like(auth.metadata, { service_account_name: 'web', service_account_namespace: 'team-a', service_account_uid: uid, role: 'web' });
  t.deepEqual(seen.at(-1), { bearer: REVIEWER, token: jwt, audiences: ['vault'] });
  // node-vault's kubernetesLogin works against it too.
  const client = vaultClient(b);
  const viaClient = await client.kubernetesLogin({ role: 'web', jwt, mount_point: 'k8s' });
  t.truthy(viaClient.auth?.client_token);
});

test.serial('refused by Kubernetes: revoked (authenticated false), 401, other account or uid, wrong audience: all "invalid credentials"', async (t) => {
  const uid = randomUUID();
  const cases: [string, string][] = [
    [kube(await saJwt('team-a', 'web', uid, ['vault']), { authenticated: false, error: 'token has been invalidated' }), 'revoked'],
    [kube(await saJwt('team-a', 'web', uid, ['vault']), 'unauthorized'), '401 from the API'],
    [kube(await saJwt('team-a', 'web', uid, ['vault']), { authenticated: true, username: 'system:serviceaccount:team-a:web', uid: randomUUID(), audiences: ['vault'] }), 'another uid'],
    [kube(await saJwt('team-a', 'web', uid, ['vault']), { authenticated: true, username: 'system:serviceaccount:team-b:web', uid, audiences: ['vault'] }), 'another namespace'],
    [kube(await saJwt('team-a', 'web', uid, ['vault']), { authenticated: true, username: 'system:serviceaccount:team-a:web', uid, audiences: ['other'] }), 'audience'],
    [kube(await saJwt('team-a', 'web', uid, ['vault']), { authenticated: true, username: 'alice', uid, audiences: ['vault'] }), 'not a service account'],
  ];
  for (const [jwt, label] of cases) {
    const r = await login(jwt);
    t.is(r.status, 400, label);
    t.deepEqual(r.json, INVALID, label);
  }
  const before = seen.length;
  for (const jwt of ['garbage', await saJwt('team-a', 'db', uid, ['vault']), await saJwt('team-a', 'web', uid, ['not-vault'])]) {
    t.deepEqual((await login(jwt)).json, INVALID);
  }
  t.is(seen.length, before, 'a malformed or unbound token never reaches the API');
});

test.serial("without token_reviewer_jwt the client's own JWT is the Bearer token (Vault's behaviour)", async (t) => {
  await api(b, 'POST', 'auth/k8s-self/config', { body: { kubernetes_host: kubeHost, kubernetes_ca_cert: caPem, disable_local_ca_jwt: true } });
  await api(b, 'POST', 'auth/k8s-self/role/web', { body: { ...ROLE, audience: '' } });
  const uid = randomUUID();
  const jwt = kube(await saJwt('team-a', 'web', uid), { authenticated: true, username: 'system:serviceaccount:team-a:web', uid, audiences: ['https://kubernetes.default.svc'] });
  const r = await login(jwt, 'web', 'k8s-self');
  t.is(r.status, 200, r.text);
  t.deepEqual(seen.at(-1), { bearer: jwt, token: jwt, audiences: ['https://kubernetes.default.svc'] }, "without a role audience the JWT's own audiences are asked for");
});

test.serial('a wrong CA and an unreachable API are clear 503s that leak nothing', async (t) => {
  await api(b, 'POST', 'auth/k8s-badca/config', { body: { kubernetes_host: kubeHost, kubernetes_ca_cert: otherCaPem, token_reviewer_jwt: REVIEWER, disable_local_ca_jwt: true } });
  await api(b, 'POST', 'auth/k8s-down/config', { body: { kubernetes_host: api503Host, kubernetes_ca_cert: caPem, token_reviewer_jwt: REVIEWER, disable_local_ca_jwt: true } });
  const uid = randomUUID();
  for (const [mount, re] of [
    ['k8s-badca', /^kubernetes TokenReview failed: its TLS certificate is not trusted \(check kubernetes_ca_cert\)$/],
    ['k8s-down', /^kubernetes TokenReview failed: connection refused$/],
  ] as const) {
    await api(b, 'POST', `auth/${mount}/role/web`, { body: ROLE });
    const jwt = kube(await saJwt('team-a', 'web', uid, ['vault']), { authenticated: true, username: 'system:serviceaccount:team-a:web', uid, audiences: ['vault'] });
    const r = await login(jwt, 'web', mount);
    t.is(r.status, 503, mount);
    const errors = (r.json as { errors: string[] }).errors;
    t.is(errors.length, 1);
    t.regex(errors[0] ?? '', re);
    t.false(r.text.includes(REVIEWER) || r.text.includes(jwt) || /at |Error:|ECONN|\.ts/.test(r.text), mount);
  }
});

test('local pod credentials: token and ca.crt are read when present, empty when absent; unsigned or odd JWTs never parse', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'k8s-sa-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const local = createLocalCredentials(dir);
  t.is(await local.jwt(), '');
  t.is(await local.caCert(), '');
  fs.writeFileSync(path.join(dir, 'token'), `${REVIEWER}\n`);
  fs.writeFileSync(path.join(dir, 'ca.crt'), caPem);
  t.is(await local.jwt(), REVIEWER);
  t.is(await local.caCert(), caPem.trim());
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  t.is(unverifiedClaims(`${b64({ alg: 'none' })}.${b64({ sub: 'x' })}.`), null, 'alg none');
  t.is(unverifiedClaims(`${b64({ alg: 'RS256' })}.${b64([1])}.sig`), null, 'claims not an object');
  t.is(unverifiedClaims('a.b'), null);
  t.deepEqual(unverifiedClaims(`${b64({ alg: 'RS256' })}.${b64({ sub: 'x' })}.sig`), { sub: 'x' });
});
