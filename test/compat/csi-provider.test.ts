// Secrets Store CSI driver, Vault provider: its requests, in its order, through HashiCorp's Go client.
// Sources (hashicorp/vault-csi-provider @ becf48f): internal/auth/kubernetes_jwt.go (AuthRequest: "/v1/auth/<mount>/login",
// map[string]string{jwt, role}; a TokenRequest bound to the pod, 15 minutes, audience "vault" unless set),
// internal/client/client.go (auth: POST; generateSecretRequest: <method, default GET> /v1/<secretPath>, the query split off
// secretPath into Params, SetJSONBody(secretArgs) for any method, GET included; RequestSecret: one re-login on a 403),
// internal/provider/provider.go (keyFromData: data.data[secretKey] when data.data is a map, else data[secretKey]).
// It never renews or revokes.
import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { api, startBroker, type Broker } from '../helpers/broker.ts';
import { newTarget, type Target } from '../helpers/pg-target.ts';
import { withPgClient } from '../helpers/postgres.ts';
import { CLUSTER_ISSUER, clusterKey, setupKubernetesAuth, setupPki, setupPolicy, tokenRequest, type ClusterKey } from './setup.ts';
import { authOf, dataOf, goClient, need, sequence, type Checks, type GoClient, type ReplayResponse } from './replay.ts';

let b: Broker;
let key: ClusterKey;
let target: Target;

async function setup(method: string, path: string, body?: unknown): Promise<void> {
  const r = await api(b, method, path, body === undefined ? {} : { body });
  if (r.status !== 200 && r.status !== 204) throw new Error(`setup ${method} ${path}: ${r.status} ${r.text}`);
}

test.before(async () => {
  [key, target] = await Promise.all([clusterKey(), newTarget('compat_csi_readers')]);
  b = await startBroker({ databaseUrl: await target.cluster.createDatabase() });
  await setupPolicy(b, 'csi', { 'secret/data/app/*': ['read'], 'database/creds/app': ['read', 'update'], 'pki_int/issue/web': ['update'] });
  await setupKubernetesAuth(b, key, 'kubernetes', { name: 'csi', namespace: 'app', serviceAccount: 'app', policies: ['csi'], audience: 'vault' });
  await setup('POST', 'sys/auth/jwt', { type: 'jwt' });
  await setup('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [key.publicPem], bound_issuer: CLUSTER_ISSUER });
  await setup('POST', 'auth/jwt/role/csi', { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['vault'], token_policies: ['csi'], token_ttl: '20m' });
  await setup('POST', 'secret/data/app/db', { data: { username: 'app', password: 'v1-pass' } });
  await setup('POST', 'secret/data/app/db', { data: { username: 'app', password: 'v2-pass' } });
  await setup('POST', 'sys/mounts/database', { type: 'database' });
  await setup('POST', 'database/config/main', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
    username: target.cluster.user,
    password: target.cluster.password,
    allowed_roles: 'app',
  });
  await setup('POST', 'database/roles/app', {
    db_name: 'main',
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT compat_csi_readers TO "{{name}}";`],
    default_ttl: '1h',
  });
  await setupPki(b, 'pki', 'pki_int', 'web', { allowed_domains: ['example.com'], allow_subdomains: true, max_ttl: '72h' });
});
test.after.always(async () => {
  await b?.stop();
});

/** The pod's TokenRequest JWT (BoundObjectRef Pod, 15 minutes, audience "vault"). */
const podJwt = (): Promise<string> =>
  tokenRequest(key, { namespace: 'app', serviceAccount: 'app', audiences: ['vault'], expirationSeconds: 900, pod: 'app-7d9f8-x2x4z' });

/** auth(): POST /v1/auth/<mount>/login with map[string]string{jwt, role} (Go encodes map keys sorted). */
async function login(c: Checks, go: GoClient, mount = 'kubernetes'): Promise<void> {
  const r = await go.request('POST', `/v1/auth/${mount}/login`, { body: { jwt: await podJwt(), role: 'csi' } });
  c.status(r, 200);
  go.token = need(r, authOf(r).client_token, 'auth.client_token');
}

/** generateSecretRequest + RequestSecret for one `objects` entry. */
function fetchSecret(go: GoClient, obj: { secretPath: string; method?: string; secretArgs?: Record<string, unknown> }): Promise<ReplayResponse> {
  const q = obj.secretPath.indexOf('?');
  const p = q === -1 ? obj.secretPath : obj.secretPath.slice(0, q);
  const params = q === -1 ? undefined : Object.fromEntries(new URLSearchParams(obj.secretPath.slice(q + 1)));
  return go.request(obj.method ?? 'GET', `/v1/${p}`, { ...(params ? { params } : {}), ...(obj.secretArgs ? { body: obj.secretArgs } : {}) });
}

/** keyFromData. */
function keyFromData(r: ReplayResponse, secretKey: string): unknown {
  const root = dataOf(r);
  const inner = root.data;
  const data = inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : root;
  return data[secretKey];
}

test.serial('SecretProviderClass (kubernetes auth): login, KV v2 latest and ?version=1, database creds (GET; POST is Vault’s 405), PKI issue by POST', (t) => sequence(t, async (c) => {
  const go = goClient(b.address);
  await login(c, go);
  const latest = await fetchSecret(go, { secretPath: 'secret/data/app/db' });
  c.status(latest, 200);
  c.is(keyFromData(latest, 'password'), 'v2-pass', 'secretKey password (data.data)');
  const v1 = await fetchSecret(go, { secretPath: 'secret/data/app/db?version=1' });
  c.status(v1, 200);
  c.is(keyFromData(v1, 'password'), 'v1-pass', 'secretKey password at ?version=1');

  const creds = await fetchSecret(go, { secretPath: 'database/creds/app' });
  c.status(creds, 200);
  const username = need(creds, keyFromData(creds, 'username'), 'username');
  const password = need(creds, keyFromData(creds, 'password'), 'password');
  const u = new URL(target.url);
  u.username = encodeURIComponent(username);
  u.password = encodeURIComponent(password);
  c.is(await withPgClient(u.toString(), async (pg) => (await pg.query<{ name: string }>('SELECT name FROM items')).rows), [{ name: 'one' }], 'minted creds log in');
  // `method: POST` on database/creds: Vault's creds path has only a read operation (openbao
  // internal/builtin/logical/database/path_creds_create.go), so Vault answers 405 "unsupported operation"; so must sealbox.
  const posted = await fetchSecret(go, { secretPath: 'database/creds/app', method: 'POST' });
  c.status(posted, 405);
  c.true(Array.isArray((posted.json as { errors?: unknown } | undefined)?.errors), 'a 405 in the {"errors":[…]} form');

  const cert = await fetchSecret(go, { secretPath: 'pki_int/issue/web', method: 'POST', secretArgs: { common_name: 'web.example.com', ttl: '24h' } });
  c.status(cert, 200);
  const leaf = new X509Certificate(need(cert, keyFromData(cert, 'certificate'), 'certificate'));
  c.true((leaf.subjectAltName ?? '').includes('DNS:web.example.com'), 'issued for web.example.com');
  need(cert, keyFromData(cert, 'private_key'), 'private_key');
  need(cert, keyFromData(cert, 'issuing_ca'), 'issuing_ca');
}));

test.serial('a body on a GET: secretArgs with the default method are sent as a JSON body on GET and the read is served', (t) => sequence(t, async (c) => {
  const go = goClient(b.address);
  await login(c, go);
  const r = await fetchSecret(go, { secretPath: 'secret/data/app/db', secretArgs: { purpose: 'csi' } });
  c.status(r, 200);
  c.is(keyFromData(r, 'password'), 'v2-pass', 'GET with a body reads the secret');
  const creds = await fetchSecret(go, { secretPath: 'database/creds/app', secretArgs: {} });
  c.status(creds, 200);
  c.true(typeof keyFromData(creds, 'username') === 'string', 'GET creds with an empty JSON body');
}));

test.serial('a 403 (expired or revoked token) makes it log in again once and retry the same request', (t) => sequence(t, async (c) => {
  const go = goClient(b.address);
  await login(c, go);
  const old = go.token;
  c.status(await goClient(b.address, { token: b.rootToken }).write('auth/token/revoke', { token: old }), 204);
  const denied = await fetchSecret(go, { secretPath: 'secret/data/app/db' });
  c.status(denied, 403);
  c.is(denied.json, { errors: ['permission denied'] }, 'the 403 body');
  await login(c, go);
  c.true(go.token !== old, 'a new token');
  const retry = await fetchSecret(go, { secretPath: 'secret/data/app/db' });
  c.status(retry, 200);
  c.is(keyFromData(retry, 'password'), 'v2-pass', 'the retried read');
}));

test.serial('vaultAuthMountPath: jwt → POST /v1/auth/jwt/login {jwt, role} with the same pod token', (t) => sequence(t, async (c) => {
  const go = goClient(b.address);
  await login(c, go, 'jwt');
  const r = await fetchSecret(go, { secretPath: 'secret/data/app/db' });
  c.status(r, 200);
  c.is(keyFromData(r, 'password'), 'v2-pass', 'read after a jwt login');
}));

test.serial('vaultNamespace: X-Vault-Namespace "root" is ignored; another namespace is a clear 400 on login and fetch', (t) => sequence(t, async (c) => {
  const root = goClient(b.address, { namespace: 'root' });
  await login(c, root);
  const r = await fetchSecret(root, { secretPath: 'secret/data/app/db' });
  c.status(r, 200);
  const team = goClient(b.address, { namespace: 'team-a' });
  const refused = await team.request('POST', '/v1/auth/kubernetes/login', { body: { jwt: await podJwt(), role: 'csi' } });
  c.status(refused, 400);
  c.regex(((refused.json as { errors?: string[] } | undefined)?.errors ?? []).join(' '), /namespace/i, 'the login error names namespaces');
  team.token = root.token;
  const fetchRefused = await fetchSecret(team, { secretPath: 'secret/data/app/db' });
  c.status(fetchRefused, 400);
  c.false(fetchRefused.text.includes('v2-pass'), 'no secret in the refusal');
}));
