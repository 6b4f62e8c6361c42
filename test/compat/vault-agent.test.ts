// Vault Agent (auto-auth, sinks, renewal) and consul-template (its template engine): their requests, in their order,
// through HashiCorp's Go client.
// Sources: hashicorp/vault command/agentproxyshared/auth/auth.go (Run: preloaded token → LookupSelf and the fields id, ttl,
// renewable, type; otherwise Logical().Write(path, data) with the wrapping lookup function returning wrap_ttl; then a
// LifetimeWatcher → PUT auth/token/renew-self {increment}), command/agentproxyshared/auth/approle (secret-id response
// wrapping: sys/wrapping/lookup then Unwrap("")); hashicorp/consul-template @ 1deacb7 dependency/vault_common.go
// (isKVv2: GET sys/internal/ui/mounts/<path>, data.path, data.type, data.options.version; renewSecret → LifetimeWatcher →
// PUT sys/leases/renew {increment, lease_id}), vault_read.go (GET, deletedKVv2 reads data.metadata.deletion_time),
// vault_list.go (GET ?list=true on metadata/), vault_write.go (PUT {data} for KV v2), vault_pki.go (PUT <pki>/issue/<role>).
// The Go client's Unwrap sends the JSON `null` when it has no token to pass in the body (a nil map through SetJSONBody).
import { X509Certificate } from 'node:crypto';
import test from 'ava';
import { api, startBroker, type Broker } from '../helpers/broker.ts';
import { newTarget, type Target } from '../helpers/pg-target.ts';
import { clusterKey, setupAppRole, setupKubernetesAuth, setupPki, setupPolicy, tokenRequest, type ClusterKey } from './setup.ts';
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
  [key, target] = await Promise.all([clusterKey(), newTarget('compat_agent_readers')]);
  b = await startBroker({ databaseUrl: await target.cluster.createDatabase() });
  await setupPolicy(b, 'agent', {
    'secret/data/app/*': ['create', 'read', 'update'],
    'secret/metadata/app/*': ['list', 'read'],
    'secret/metadata/app': ['list'],
    'kv1/*': ['read', 'list'],
    'database/creds/app': ['read'],
    'pki_int/issue/web': ['update'],
  });
  await setupKubernetesAuth(b, key, 'kubernetes', { name: 'app', namespace: 'app', serviceAccount: 'app', policies: ['agent'] });
  await setup('POST', 'secret/data/app/config', { data: { api_url: 'https://api.internal', password: 'hunter2' } });
  await setup('POST', 'secret/data/app/old', { data: { gone: 'soon' } });
  await setup('DELETE', 'secret/data/app/old');
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
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT compat_agent_readers TO "{{name}}";`],
    default_ttl: '1h',
    max_ttl: '24h',
  });
  await setupPki(b, 'pki', 'pki_int', 'web', { allowed_domains: ['example.com'], allow_subdomains: true, max_ttl: '72h' });
});
test.after.always(async () => {
  await b?.stop();
});

/** consul-template's isKVv2 for `p`: the mount path and whether it is KV v2. */
async function isKVv2(c: Checks, go: GoClient, p: string, want: { path: string; v2: boolean }): Promise<void> {
  const r = await go.read(`sys/internal/ui/mounts/${p}`);
  c.status(r, 200);
  const d = dataOf(r);
  c.is(d.path, want.path, `ui/mounts/${p} data.path`);
  const version = (d.options as Record<string, unknown> | null | undefined)?.version;
  c.is(version === '2' && d.type === 'kv', want.v2, `ui/mounts/${p}: type ${String(d.type)}, options.version ${JSON.stringify(version)}`);
}

test.serial('auto-auth (AppRole) → renew-self; templates: KV v2 detect/read/list/write, deleted version, database lease renewal, pkiCert; revoke-self', (t) => sequence(t, async (c) => {
  const { roleId, secretId } = await setupAppRole(b, 'agent', ['agent']);
  const go = goClient(b.address);
  // Auto-auth: am.Authenticate → ("auth/approle/login", {role_id, secret_id}); Logical().Write → PUT.
  const login = await go.write('auth/approle/login', { role_id: roleId, secret_id: secretId });
  c.status(login, 200);
  const auth = authOf(login);
  go.token = need(login, auth.client_token, 'auth.client_token');
  c.true(auth.renewable === true, 'auth.renewable');
  c.is(auth.lease_duration, 3600, 'auth.lease_duration for token_ttl 1h');
  // LifetimeWatcher → RenewTokenAsSelf(token, increment = lease duration) → PUT auth/token/renew-self {increment}.
  const renew = await go.write('auth/token/renew-self', { increment: 3600 });
  c.status(renew, 200);
  c.is(authOf(renew).client_token, go.token, 'renew-self returns the same token');
  c.true(typeof authOf(renew).lease_duration === 'number' && (authOf(renew).lease_duration as number) > 0, 'renewed auth.lease_duration');

  // {{ with secret "secret/app/config" }}: isKVv2, then GET secret/data/app/config (data/ inserted).
  await isKVv2(c, go, 'secret/app/config', { path: 'secret/', v2: true });
  const read = await go.read('secret/data/app/config');
  c.status(read, 200);
  c.is(dataOf(read).data, { api_url: 'https://api.internal', password: 'hunter2' }, 'data.data');
  c.is((dataOf(read).metadata as Record<string, unknown> | undefined)?.deletion_time, '', 'metadata.deletion_time of a live version');
  // {{ with secret "secret/app/config?version=1" }}: the query string becomes ReadWithData's parameters.
  const v1 = await go.read('secret/data/app/config', { version: '1' });
  c.status(v1, 200);
  c.is((dataOf(v1).metadata as Record<string, unknown> | undefined)?.version, 1, 'metadata.version of ?version=1');
  // {{ range secrets "secret/app" }}: isKVv2, then List on the metadata path → GET ?list=true.
  await isKVv2(c, go, 'secret/app', { path: 'secret/', v2: true });
  const list = await go.list('secret/metadata/app');
  c.status(list, 200);
  c.is(dataOf(list).keys, ['config', 'old'], 'list keys');
  // {{ with secret "secret/app/generated" "k=v" }}: a write, wrapped in {data} for KV v2.
  await isKVv2(c, go, 'secret/app/generated', { path: 'secret/', v2: true });
  const w = await go.write('secret/data/app/generated', { data: { k: 'v' } });
  c.status(w, 200);
  c.is(dataOf(w).version, 1, 'write data.version');
  // A soft-deleted latest version: Vault answers 404 with data.metadata.deletion_time, which deletedKVv2 reads.
  const old = await go.read('secret/data/app/old');
  c.status(old, 404);
  const delTime = ((dataOf(old).metadata ?? {}) as Record<string, unknown>).deletion_time;
  c.regex(delTime, RFC3339, '404 body data.metadata.deletion_time (Vault’s deleted-version body)');

  // {{ with secret "database/creds/app" }}: a leased secret, renewed by the LifetimeWatcher.
  const creds = await go.read('database/creds/app');
  c.status(creds, 200);
  const body = creds.json as { lease_id?: string; lease_duration?: number; renewable?: boolean };
  const leaseId = need(creds, body.lease_id, 'lease_id');
  c.is(body.lease_duration, 3600, 'lease_duration');
  c.is(body.renewable, true, 'renewable');
  const lr = await go.write('sys/leases/renew', { increment: 3600, lease_id: leaseId });
  c.status(lr, 200);
  const lrBody = lr.json as { lease_id?: string; lease_duration?: number; renewable?: boolean };
  c.is(lrBody.lease_id, leaseId, 'renewed lease_id');
  c.true(typeof lrBody.lease_duration === 'number' && lrBody.lease_duration > 0, 'renewed lease_duration');

  // {{ with pkiCert "pki_int/issue/web" "common_name=web.example.com" "ttl=24h" }}: PUT, string values.
  const cert = await go.write('pki_int/issue/web', { common_name: 'web.example.com', ttl: '24h' });
  c.status(cert, 200);
  const pd = dataOf(cert);
  const leaf = new X509Certificate(need(cert, pd.certificate, 'data.certificate'));
  need(cert, pd.private_key, 'data.private_key');
  c.true(leaf.verify(new X509Certificate(need(cert, pd.issuing_ca, 'data.issuing_ca')).publicKey), 'certificate signed by issuing_ca');
  c.true(Array.isArray(pd.ca_chain) && pd.ca_chain.length >= 1, 'data.ca_chain');

  // Injector preStop / agent shutdown: PUT auth/token/revoke-self.
  c.status(await go.request('PUT', 'auth/token/revoke-self'), 204);
  c.status(await go.read('auth/token/lookup-self'), 403);
}));

test.serial('KV v1 under consul-template: ui/mounts reports version 1 (or none), then GET <mount>/<path> and List', (t) => sequence(t, async (c) => {
  const m = await api(b, 'POST', 'sys/mounts/kv1', { body: { type: 'kv', options: { version: '1' } } });
  c.true(m.status === 204 || m.status === 200, `setup POST sys/mounts/kv1 {type: kv, options.version 1} → ${m.status} ${m.text}`);
  const w = await api(b, 'PUT', 'kv1/app/config', { body: { password: 'v1-pass' } });
  c.true(w.status === 204 || w.status === 200, `setup PUT kv1/app/config → ${w.status} ${w.text}`);
  const token = ((await api(b, 'POST', 'auth/token/create', { body: { policies: ['agent'], ttl: '1h' } })).json as { auth: { client_token: string } }).auth.client_token;
  const go = goClient(b.address, { token });
  await isKVv2(c, go, 'kv1/app/config', { path: 'kv1/', v2: false });
  const r = await go.read('kv1/app/config');
  c.status(r, 200);
  c.is(dataOf(r), { password: 'v1-pass' }, 'KV v1 data');
  const list = await go.list('kv1/app');
  c.status(list, 200);
  c.is(dataOf(list).keys, ['config'], 'KV v1 list keys');
}));

test.serial('auto-auth with wrap_ttl: X-Vault-Wrap-TTL on the login, wrap_info to the sink, PUT sys/wrapping/unwrap (body null) once', (t) => sequence(t, async (c) => {
  const { roleId, secretId } = await setupAppRole(b, 'agent-wrapped', ['agent']);
  const go = goClient(b.address);
  // wrap_ttl = "5m": the wrapping lookup function returns ah.wrapTTL.String() = "5m0s".
  const login = await go.write('auth/approle/login', { role_id: roleId, secret_id: secretId }, { wrapTTL: '5m0s' });
  c.status(login, 200);
  const wrap = ((login.json as { wrap_info?: Record<string, unknown> | null } | undefined)?.wrap_info ?? {}) as Record<string, unknown>;
  const wrappingToken = need(login, wrap.token, 'wrap_info.token');
  c.is(wrap.ttl, 300, 'wrap_info.ttl');
  c.regex(wrap.creation_time, RFC3339, 'wrap_info.creation_time');
  c.is(wrap.creation_path, 'auth/approle/login', 'wrap_info.creation_path');
  c.true(typeof wrap.accessor === 'string' && wrap.accessor !== '', 'wrap_info.accessor');
  c.is((login.json as { auth?: unknown }).auth ?? null, null, 'a wrapped login carries no auth');
  // The consumer (consul-template / an app) unwraps with the wrapping token as its own token: Unwrap(token) with
  // c.Token() == "" → SetToken(wt), data stays nil → PUT sys/wrapping/unwrap with the body `null`.
  const consumer = goClient(b.address, { token: wrappingToken });
  const unwrapped = await consumer.request('PUT', 'sys/wrapping/unwrap', { body: null });
  c.status(unwrapped, 200);
  const clientToken = need(unwrapped, authOf(unwrapped).client_token, 'unwrapped auth.client_token');
  const self = await goClient(b.address, { token: clientToken }).read('auth/token/lookup-self');
  c.status(self, 200);
  c.true((dataOf(self).policies as string[] | undefined)?.includes('agent') === true, 'the unwrapped token has the role’s policies');
  // Single use.
  c.status(await consumer.request('PUT', 'sys/wrapping/unwrap', { body: null }), 400, 403);
}));

test.serial('AppRole secret_id_response_wrapping_path: sys/wrapping/lookup checks creation_path, Unwrap("") yields the secret-id', (t) => sequence(t, async (c) => {
  await setupAppRole(b, 'agent-wsid', ['agent']);
  const roleId = String(dataOf(await goClient(b.address, { token: b.rootToken }).read('auth/approle/role/agent-wsid/role-id')).role_id);
  // The operator's side: a response-wrapped secret-id (vault write -wrap-ttl=10m -f auth/approle/role/agent-wsid/secret-id;
  // the CLI's parsed arguments are an empty, non-nil map, so the body is `{}`).
  const op = await goClient(b.address, { token: b.rootToken }).write('auth/approle/role/agent-wsid/secret-id', {}, { wrapTTL: '10m' });
  c.status(op, 200);
  const wt = need(op, ((op.json as { wrap_info?: Record<string, unknown> | null }).wrap_info ?? {}).token, 'wrap_info.token');
  const agent = goClient(b.address, { token: wt });
  const lookup = await agent.write('sys/wrapping/lookup', { token: wt });
  c.status(lookup, 200);
  c.is(dataOf(lookup).creation_path, 'auth/approle/role/agent-wsid/secret-id', 'lookup data.creation_path');
  c.is(dataOf(lookup).creation_ttl, 600, 'lookup data.creation_ttl');
  const unwrapped = await agent.request('PUT', 'sys/wrapping/unwrap', { body: null });
  c.status(unwrapped, 200);
  const sid = need(unwrapped, dataOf(unwrapped).secret_id, 'unwrapped data.secret_id');
  const login = await goClient(b.address).write('auth/approle/login', { role_id: roleId, secret_id: sid });
  c.status(login, 200);
}));

test.serial('auto-auth (kubernetes) and the token_file method: lookup-self fields id, ttl, renewable, type, policies', (t) => sequence(t, async (c) => {
  const go = goClient(b.address);
  const jwt = await tokenRequest(key, { namespace: 'app', serviceAccount: 'app', audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 });
  const login = await go.write('auth/kubernetes/login', { role: 'app', jwt });
  c.status(login, 200);
  const token = need(login, authOf(login).client_token, 'auth.client_token');
  // token_file auto-auth (or a preloaded token): LookupSelf with that token.
  const file = goClient(b.address, { token });
  const self = await file.read('auth/token/lookup-self');
  c.status(self, 200);
  const d = dataOf(self);
  c.is(d.id, token, 'data.id');
  c.true(Number.isInteger(d.ttl) && (d.ttl as number) > 3500 && (d.ttl as number) <= 3600, `data.ttl ${String(d.ttl)}`);
  c.is(d.renewable, true, 'data.renewable');
  c.is(d.type, 'service', 'data.type');
  c.is(d.policies, ['agent', 'default'], 'data.policies');
  c.status(await file.request('PUT', 'auth/token/revoke-self'), 204);
}));
