// External Secrets Operator, Vault provider: its requests, in its order, through HashiCorp's Go client.
// Sources (external-secrets/external-secrets @ cc5bfbc):
//   providers/v1/vault/auth.go (setAuth, checkToken, revokeTokenIfValid), auth_approle.go, auth_kubernetes.go,
//   client_get.go (readSecret, readSecretMetadata), client_get_all_secrets.go (listSecrets, findSecretsFromName),
//   client_push.go (PushSecret, DeleteSecret, getCASVersion), generators/v1/vault/vault.go (VaultDynamicSecret).
// The Go client (vault/api): Login is `Logical().Write` = PUT; List = GET ?list=true; Read with a version = GET ?version=N.
import test from 'ava';
import { api, startBroker, type Broker } from '../helpers/broker.ts';
import { newTarget, type Target } from '../helpers/pg-target.ts';
import { withPgClient } from '../helpers/postgres.ts';
import { clusterKey, setupAppRole, setupKubernetesAuth, setupPolicy, tokenRequest, type ClusterKey } from './setup.ts';
import { authOf, dataOf, goClient, need, sequence, type Checks, type GoClient } from './replay.ts';

let b: Broker;
let key: ClusterKey;
let target: Target;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

async function setup(method: string, path: string, body?: unknown): Promise<void> {
  const r = await api(b, method, path, body === undefined ? {} : { body });
  if (r.status !== 200 && r.status !== 204) throw new Error(`setup ${method} ${path}: ${r.status} ${r.text}`);
}

test.before(async () => {
  [key, target] = await Promise.all([clusterKey(), newTarget('compat_eso_readers')]);
  b = await startBroker({ databaseUrl: await target.cluster.createDatabase() });
  await setupPolicy(b, 'eso', {
    'secret/data/*': ['create', 'read', 'update', 'delete'],
    'secret/metadata/*': ['create', 'read', 'update', 'delete', 'list'],
    'kv1/*': ['create', 'read', 'update', 'delete', 'list'],
    'database/creds/*': ['read'],
    'auth/token/create': ['update'],
  });
  await setupKubernetesAuth(b, key, 'kubernetes', { name: 'eso', namespace: 'external-secrets', serviceAccount: 'external-secrets', policies: ['eso'] });
  // Secrets an application team keeps in KV v2: two versions and custom metadata (tags for find-by-tag).
  await setup('POST', 'secret/data/team/db', { data: { username: 'app', password: 'v1-pass' } });
  await setup('POST', 'secret/data/team/db', { data: { username: 'app', password: 'v2-pass' } });
  await setup('POST', 'secret/metadata/team/db', { custom_metadata: { owner: 'team-a', env: 'prod' } });
  await setup('POST', 'secret/data/team/api/key', { data: { token: 'api-token' } });
  await setup('POST', 'secret/data/team/cache', { data: { url: 'redis://cache' } });
  // A database engine on a real PostgreSQL for the VaultDynamicSecret generator.
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
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT compat_eso_readers TO "{{name}}";`],
    default_ttl: '1h',
  });
});
test.after.always(async () => {
  await b?.stop();
});

/** A token with the eso policy (a SecretStore's static token). */
async function esoToken(): Promise<string> {
  const r = await api(b, 'POST', 'auth/token/create', { body: { policies: ['eso'], ttl: '1h' } });
  const token = (r.json as { auth?: { client_token?: string } } | undefined)?.auth?.client_token;
  if (!token) throw new Error(`token create failed: ${r.status} ${r.text}`);
  return token;
}

/** checkToken: lookup-self, then the fields ESO reads (type, ttl as a json.Number, expire_time as RFC 3339 or null). */
async function checkToken(c: Checks, go: GoClient): Promise<void> {
  const r = await go.read('auth/token/lookup-self');
  c.status(r, 200);
  const d = dataOf(r);
  c.is(d.type, 'service', 'type: ESO never reuses batch tokens');
  c.true(Number.isInteger(d.ttl) && (d.ttl as number) >= 60, `ttl ${String(d.ttl)} must be an integer ≥ 60 to be reused`);
  c.true('expire_time' in d, 'expire_time must be present (ESO errors without it)');
  c.regex(String(d.expire_time), RFC3339, 'expire_time parses with time.RFC3339');
  c.true(Date.parse(String(d.expire_time)) > Date.now(), 'expire_time is in the future');
}

test.serial('SecretStore with AppRole: login, token check, GetSecret (latest, version, metadata), find by name, close', (t) => sequence(t, async (c) => {
  const { roleId, secretId } = await setupAppRole(b, 'eso', ['eso']);
  const go = goClient(b.address);
  // setAuth: no token yet → approle.NewAppRoleAuth(...).Login → PUT auth/approle/login.
  const login = await go.write('auth/approle/login', { role_id: roleId, secret_id: secretId });
  c.status(login, 200);
  go.token = need(login, authOf(login).client_token, 'auth.client_token');
  // Next reconcile: checkToken before reusing the token.
  await checkToken(c, go);
  // GetSecret (KV v2): readSecret → GET secret/data/team/db; ESO takes data.data.
  const latest = await go.read('secret/data/team/db');
  c.status(latest, 200);
  c.is(dataOf(latest).data, { username: 'app', password: 'v2-pass' }, 'latest data.data');
  // GetSecret with remoteRef.version → ReadWithData(..., {version: ["1"]}).
  const v1 = await go.read('secret/data/team/db', { version: '1' });
  c.status(v1, 200);
  c.is(dataOf(v1).data, { username: 'app', password: 'v1-pass' }, 'version 1 data.data');
  // metadataPolicy: Fetch → readSecretMetadata: GET secret/metadata/team/db; created_time, current_version,
  // delete_version_after and custom_metadata.
  const meta = await go.read('secret/metadata/team/db');
  c.status(meta, 200);
  const md = dataOf(meta);
  c.is(md.custom_metadata, { owner: 'team-a', env: 'prod' }, 'metadata custom_metadata');
  c.is(md.current_version, 2, 'metadata current_version');
  c.regex(String(md.created_time), RFC3339, 'metadata created_time');
  c.true('delete_version_after' in md, 'metadata delete_version_after');
  // dataFrom.find {path: team, name: {regexp: ".*"}}: listSecrets("team/") → GET secret/metadata/team?list=true
  // (path.Join drops the slash), recursing into every key ending in "/", then readSecret per match.
  const top = await go.list('secret/metadata/team/');
  c.status(top, 200);
  c.is(dataOf(top).keys, ['api/', 'cache', 'db'], 'list team keys');
  const sub = await go.list('secret/metadata/team/api/');
  c.status(sub, 200);
  c.is(dataOf(sub).keys, ['key'], 'list team/api keys');
  for (const [p, want] of [['team/api/key', { token: 'api-token' }], ['team/cache', { url: 'redis://cache' }], ['team/db', { username: 'app', password: 'v2-pass' }]] as const) {
    const r = await go.read(`secret/data/${p}`);
    c.status(r, 200);
    c.is(dataOf(r).data, want, `data.data of ${p}`);
  }
  // find by tags: one metadata read per candidate, then GetSecret for the matches.
  const tagged = await go.read('secret/metadata/team/cache');
  c.status(tagged, 200);
  c.false('owner' in ((dataOf(tagged).custom_metadata as Record<string, unknown> | null) ?? {}), 'untagged secret has no owner tag');
  // A secret that does not exist: 404 whose body the Go client parses to nil (NoSecretError).
  const missing = await go.read('secret/data/team/nope');
  c.status(missing, 404);
  c.is(missing.json, { errors: [] }, 'the 404 body');
  // Close: revokeTokenIfValid → checkToken, then PUT auth/token/revoke-self (no body).
  await checkToken(c, go);
  c.status(await go.request('PUT', 'auth/token/revoke-self'), 204);
  c.status(await go.read('auth/token/lookup-self'), 403);
}));

test.serial('PushSecret and DeleteSecret on KV v2 with checkAndSet.required (Kubernetes auth, TokenRequest of 600 s)', (t) => sequence(t, async (c) => {
  const go = goClient(b.address);
  const jwt = await tokenRequest(key, { namespace: 'external-secrets', serviceAccount: 'external-secrets', audiences: ['vault'], expirationSeconds: 600 });
  const login = await go.write('auth/kubernetes/login', { jwt, role: 'eso' });
  c.status(login, 200);
  go.token = need(login, authOf(login).client_token, 'auth.client_token');
  await checkToken(c, go);

  // New secret: readSecret → 404 (secretExists = false, CAS version 0), PUT metadata (the managed-by marker), PUT data.
  c.status(await go.read('secret/data/pushed/app'), 404);
  c.status(await go.write('secret/metadata/pushed/app', { custom_metadata: { 'managed-by': 'external-secrets' } }), 200, 204);
  const first = await go.write('secret/data/pushed/app', { data: { password: 'p1' }, options: { cas: 0 } });
  c.status(first, 200);
  c.is(dataOf(first).version, 1, 'first push data.version');

  // Update: readSecret, readSecretMetadata (managed-by must be external-secrets), getCASVersion (metadata again),
  // PUT metadata, PUT data with cas = current_version.
  c.status(await go.read('secret/data/pushed/app'), 200);
  const m1 = await go.read('secret/metadata/pushed/app');
  c.status(m1, 200);
  c.is((dataOf(m1).custom_metadata as Record<string, unknown> | undefined)?.['managed-by'], 'external-secrets');
  const m2 = await go.read('secret/metadata/pushed/app');
  c.is(dataOf(m2).current_version, 1, 'getCASVersion current_version');
  c.status(await go.write('secret/metadata/pushed/app', { custom_metadata: { 'managed-by': 'external-secrets' } }), 200, 204);
  const second = await go.write('secret/data/pushed/app', { data: { password: 'p2' }, options: { cas: 1 } });
  c.status(second, 200);
  c.is(dataOf(second).version, 2, 'second push data.version');
  // A stale CAS (another writer got there first) is refused, not applied.
  const stale = await go.write('secret/data/pushed/app', { data: { password: 'p3' }, options: { cas: 1 } });
  c.status(stale, 400);
  c.is(dataOf(await go.read('secret/data/pushed/app')).data, { password: 'p2' }, 'the stale CAS write changed nothing');

  // DeleteSecret: readSecret, readSecretMetadata, DELETE data, DELETE metadata.
  c.status(await go.read('secret/data/pushed/app'), 200);
  c.status(await go.read('secret/metadata/pushed/app'), 200);
  c.status(await go.delete('secret/data/pushed/app'), 204);
  c.status(await go.delete('secret/metadata/pushed/app'), 204);
  c.status(await go.read('secret/metadata/pushed/app'), 404);
}));

test.serial('SecretStore with a namespace: X-Vault-Namespace "" and "root" are ignored; any other namespace is a clear 400', (t) => sequence(t, async (c) => {
  const token = await esoToken();
  for (const ns of ['', 'root']) {
    const go = goClient(b.address, { token, namespace: ns });
    await checkToken(c, go);
    const r = await go.read('secret/data/team/db');
    c.status(r, 200);
    c.is((dataOf(r).data as Record<string, unknown> | undefined)?.password, 'v2-pass', `namespace ${JSON.stringify(ns)}`);
  }
  const other = goClient(b.address, { token, namespace: 'team-a' });
  const refused = await other.read('secret/data/team/db');
  c.status(refused, 400);
  c.regex(((refused.json as { errors?: string[] } | undefined)?.errors ?? []).join(' '), /namespace/i, 'the error names namespaces');
  c.false(refused.text.includes('v2-pass'), 'no secret in the refusal');
}));

test.serial('SecretStore on KV v1: GET <mount>/<path>; PushSecret writes custom_metadata inline', (t) => sequence(t, async (c) => {
  const m = await api(b, 'POST', 'sys/mounts/kv1', { body: { type: 'kv', options: { version: '1' } } });
  c.true(m.status === 204 || m.status === 200, `POST sys/mounts/kv1 {type: kv, options.version 1} → ${m.status} ${m.text}`);
  const token = await esoToken();
  const go = goClient(b.address, { token });
  // PushSecret (v1): readSecret → 404; then PUT <mount>/<path> with the data and the custom_metadata map inline.
  c.status(await go.read('kv1/team/app'), 404);
  c.status(await go.write('kv1/team/app', { password: 'p1', custom_metadata: { 'managed-by': 'external-secrets' } }), 204, 200);
  // GetSecret (v1): the data is the whole `data` object.
  const r = await go.read('kv1/team/app');
  c.status(r, 200);
  c.is(dataOf(r), { password: 'p1', custom_metadata: { 'managed-by': 'external-secrets' } }, 'KV v1 data with custom_metadata inline');
  const list = await go.list('kv1/team/');
  c.status(list, 200);
  c.is(dataOf(list).keys, ['app'], 'KV v1 list keys');
  c.status(await go.delete('kv1/team/app'), 204);
}));

test.serial('VaultDynamicSecret generator: GET database/creds/<role> (data), POST auth/token/create without parameters (auth)', (t) => sequence(t, async (c) => {
  const token = await esoToken();
  const go = goClient(b.address, { token });
  // method "" / GET: ReadWithData(path, getParameters) → GET database/creds/app; resultType Data.
  const creds = await go.read('database/creds/app');
  c.status(creds, 200);
  const username = need(creds, dataOf(creds).username, 'data.username');
  const password = need(creds, dataOf(creds).password, 'data.password');
  const u = new URL(target.url);
  u.username = encodeURIComponent(username);
  u.password = encodeURIComponent(password);
  c.is(await withPgClient(u.toString(), async (pg) => (await pg.query<{ name: string }>('SELECT name FROM items')).rows), [{ name: 'one' }], 'minted creds log in');
  // method POST without parameters: Write(path, nil) sends the JSON `null` (a nil map); resultType Auth.
  const child = await go.request('PUT', 'auth/token/create', { body: null });
  c.status(child, 200);
  c.regex(String(authOf(child).client_token), /.+/, 'auth.client_token');
  // method LIST: ListWithContext → GET ?list=true.
  const keys = await go.list('secret/metadata/team');
  c.status(keys, 200);
  c.is(dataOf(keys).keys, ['api/', 'cache', 'db'], 'generator LIST keys');
}));
