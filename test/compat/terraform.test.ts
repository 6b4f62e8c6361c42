// Terraform's Vault provider: its requests, in its order, through HashiCorp's Go client (ReadYourWrites on, so every
// X-Vault-Index the broker returns is sent back on later requests).
// Sources (hashicorp/terraform-provider-vault @ 3144751): internal/provider/meta.go (setClient: LookupSelf → ttl,
// namespace_path; createChildToken: Token().Create{display_name "terraform", ttl/explicit_max_ttl "1200s", renewable false};
// getVaultVersion: Sys().SealStatus().Version, parsed with go-version NewSemver), util/mountutil/mountutil.go (GetMount:
// GET sys/mounts/<path>; gone = 404 or 400 "No secret engine mount at"), vault/resource_mount.go (MountInput,
// tuneMountWithMap, Sys().Remount → sys/remount + sys/remount/status/<id>), resource_auth_backend.go, resource_policy.go,
// resource_audit.go, resource_pki_secret_backend_root_cert.go (issuers/generate/root/<type> from Vault 1.11; getIssuerPEM
// without a token; DELETE issuer/<id>), resource_pki_secret_backend_cert.go (issue/<role>, revoke or revoke-with-key),
// resource_pki_secret_backend_config_urls.go, resource_pki_secret_backend_crl_config.go,
// resource_database_secret_backend_connection.go, resource_token.go, resource_approle_auth_backend_role_secret_id.go.
// Bodies are the Go structs' JSON (api.MountInput with its null maps, api.TokenCreateRequest with "type" and
// "entity_alias" always present) or the resources' map[string]interface{} (keys sorted by encoding/json).
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startBroker, type Broker } from '../helpers/broker.ts';
import { newTarget, type Target } from '../helpers/pg-target.ts';
import { withPgClient } from '../helpers/postgres.ts';
import { createTestPki } from '../helpers/test-pki.ts';
import { authOf, dataOf, goClient, need, sequence, type Checks, type GoClient } from './replay.ts';

let b: Broker;
let target: Target;
let tmp: string;

test.before(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'compat-tf-'));
  target = await newTarget('compat_tf_readers');
  b = await startBroker({ databaseUrl: await target.cluster.createDatabase() });
});
test.after.always(async () => {
  await b?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** go-version's NewSemver (version.Must panics on anything else): [major, minor], or undefined. */
function semver(v: unknown): [number, number] | undefined {
  const m = typeof v === 'string' ? /^v?(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.exec(v) : null;
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}
/** IsAPISupported(meta, VaultVersion1XY). */
const atLeast = (v: [number, number] | undefined, minor: number): boolean => v !== undefined && (v[0] > 1 || (v[0] === 1 && v[1] >= minor));

/** setClient + getVaultVersion: what every plan and apply does first. Returns the provider's client (child token). */
async function configureProvider(c: Checks): Promise<{ go: GoClient; version: unknown }> {
  const go = goClient(b.address, { token: b.rootToken, readYourWrites: true });
  const self = await go.read('auth/token/lookup-self');
  c.status(self, 200);
  const sd = dataOf(self);
  c.true(Number.isInteger(sd.ttl), `lookup-self ttl is an integer (${JSON.stringify(sd.ttl)})`);
  c.true(!('namespace_path' in sd) || typeof sd.namespace_path === 'string', 'namespace_path, when present, is a string (v.(string) panics otherwise)');
  // createChildToken: api.TokenCreateRequest's JSON (omitempty fields dropped, display_name/num_uses/type/entity_alias kept).
  const child = await go.request('POST', 'auth/token/create', {
    body: { ttl: '1200s', explicit_max_ttl: '1200s', display_name: 'terraform', num_uses: 0, renewable: false, type: '', entity_alias: '' },
  });
  c.status(child, 200);
  const ca = authOf(child);
  go.token = need(child, ca.client_token, 'auth.client_token');
  c.true(Array.isArray(ca.policies), 'auth.policies (logged by the provider)');
  const cs = dataOf(await go.read('auth/token/lookup-self'));
  c.is(cs.display_name, 'token-terraform', 'child display_name');
  c.is(cs.renewable, false, 'child renewable');
  c.is(cs.explicit_max_ttl, 1200, 'child explicit_max_ttl');
  c.true(typeof cs.ttl === 'number' && cs.ttl > 1100 && cs.ttl <= 1200, `child ttl ${String(cs.ttl)}`);
  // getVaultVersion: a clone without namespace → GET sys/seal-status → version (semver; "+ent" would unlock Enterprise).
  const seal = await go.read('sys/seal-status');
  c.status(seal, 200);
  const version = (seal.json as { version?: unknown } | undefined)?.version;
  c.true(semver(version) !== undefined, `sys/seal-status version ${JSON.stringify(version)} parses with go-version NewSemver`);
  c.false(String(version).includes('+ent'), 'not Enterprise');
  return { go, version };
}

/** api.MountInput / api.EnableAuthOptions JSON: nil maps are `null`, no omitempty on the core fields. */
const mountInput = (type: string, options: Record<string, string> | null, ttl = 0, maxTtl = 0, description = '') => ({
  type, description,
  config: { options: null, default_lease_ttl: `${ttl}s`, max_lease_ttl: `${maxTtl}s`, force_no_cache: false },
  local: false, seal_wrap: false, external_entropy_access: false, options,
});

test.serial('provider start: lookup-self, child token (Go TokenCreateRequest), sys/seal-status version; X-Vault-Index is sent back', (t) => sequence(t, async (c) => {
  const { go, version } = await configureProvider(c);
  // The provider gates features from Vault 1.10 to 1.21 on this version; below 1.11 it falls back to pre-multi-issuer
  // PKI paths, below 1.10 to its oldest behaviour everywhere.
  c.true(atLeast(semver(version), 11), `sys/seal-status version ${JSON.stringify(version)} is a Vault version ≥ 1.11 (multi-issuer PKI, the paths replayed below)`);
  // Read-your-writes: any X-Vault-Index the broker returns is sent on the next request, and must not be refused.
  const w = await go.write('secret/data/tf/index', { data: { a: '1' } });
  c.status(w, 200);
  const r = await go.request('GET', 'secret/data/tf/index', { headers: { 'X-Vault-Index': 'v1:AAAAAQ==' } });
  c.status(r, 200);
  c.is(dataOf(r).data, { a: '1' }, 'read after write with an X-Vault-Index header');
}));

test.serial('vault_mount, vault_auth_backend, vault_policy, vault_audit: create, read, update (tune, remount), destroy', (t) => sequence(t, async (c) => {
  const { go } = await configureProvider(c);
  // vault_mount "kv" {path = "tf-kv", type = "kv", options = {version = "2"}, default_lease_ttl_seconds = 3600}
  c.status(await go.request('POST', 'sys/mounts/tf-kv', { body: mountInput('kv', { version: '2' }, 3600) }), 204, 200);
  const read = await go.read('sys/mounts/tf-kv');
  c.status(read, 200);
  const m = dataOf(read);
  c.is(m.type, 'kv', 'mount type');
  c.is((m.options as Record<string, unknown> | null)?.version, '2', 'mount options.version');
  c.is((m.config as Record<string, unknown> | undefined)?.default_lease_ttl, 3600, 'config.default_lease_ttl');
  c.true(typeof m.accessor === 'string' && m.accessor !== '', 'mount accessor');
  for (const f of ['description', 'local', 'seal_wrap', 'external_entropy_access']) c.true(f in m, `mount ${f}`);
  // kv-v2 as a type alias.
  c.status(await go.request('POST', 'sys/mounts/tf-kv2', { body: mountInput('kv-v2', {}) }), 204, 200);
  c.is(dataOf(await go.read('sys/mounts/tf-kv2')).type, 'kv', 'kv-v2 is reported as kv');
  // Update: tuneMountWithMap (a raw POST with a map), then a path change through Sys().Remount.
  c.status(await go.request('POST', 'sys/mounts/tf-kv/tune', { body: { default_lease_ttl: '7200s', description: 'tuned', max_lease_ttl: '0s', options: { version: '2' } } }), 204, 200);
  const tuned = dataOf(await go.read('sys/mounts/tf-kv'));
  c.is(tuned.description, 'tuned', 'tuned description');
  c.is((tuned.config as Record<string, unknown> | undefined)?.default_lease_ttl, 7200, 'tuned default_lease_ttl');
  const rm = await go.request('POST', 'sys/remount', { body: { from: 'tf-kv', to: 'tf-kv-moved' } });
  c.status(rm, 200);
  const migration = dataOf(rm).migration_id;
  if (typeof migration === 'string') {
    const st = await go.read(`sys/remount/status/${migration}`);
    c.status(st, 200);
    c.is((dataOf(st).migration_info as Record<string, unknown> | undefined)?.status, 'success', 'migration_info.status');
  }
  c.status(await go.read('sys/mounts/tf-kv-moved'), 200);
  c.status(await go.delete('sys/mounts/tf-kv-moved'), 204);
  c.status(await go.delete('sys/mounts/tf-kv2'), 204);
  c.status(await go.read('sys/mounts/tf-kv-moved'), 404, 400);

  // vault_auth_backend "approle" {path = "tf-approle"}: EnableAuthWithOptions, then GET sys/auth/<path> and its tune.
  c.status(await go.request('POST', 'sys/auth/tf-approle', { body: { ...mountInput('approle', null), config: { options: null, default_lease_ttl: '', max_lease_ttl: '', force_no_cache: false } } }), 204, 200);
  const auth = await go.read('sys/auth/tf-approle');
  c.status(auth, 200);
  c.is(dataOf(auth).type, 'approle', 'auth type');
  c.status(await go.read('sys/mounts/auth/tf-approle/tune'), 200);
  c.status(await go.request('POST', 'sys/mounts/auth/tf-approle/tune', { body: { options: null, default_lease_ttl: '3600s', max_lease_ttl: '7200s', force_no_cache: false } }), 204, 200);
  c.status(await go.delete('sys/auth/tf-approle'), 204);

  // vault_policy: PutPolicy (HCL as written in the .tf file), GetPolicy (data.policy), DeletePolicy.
  const hcl = 'path "secret/data/app/*" {\n  capabilities = ["read", "list"]\n}\n';
  c.status(await go.request('PUT', 'sys/policies/acl/tf-app', { body: { policy: hcl } }), 204);
  const pol = await go.read('sys/policies/acl/tf-app');
  c.status(pol, 200);
  c.is(dataOf(pol).policy, hcl, 'policy text round-trips');
  c.status(await go.delete('sys/policies/acl/tf-app'), 204);

  // vault_audit "file": EnableAuditWithOptions, ListAudit (keyed "<path>/"), DisableAudit.
  const file = path.join(tmp, 'audit.log');
  c.status(await go.request('PUT', 'sys/audit/tf-file', { body: { type: 'file', description: '', options: { file_path: file }, local: false } }), 204);
  const audits = await go.read('sys/audit');
  c.status(audits, 200);
  const dev = (dataOf(audits)['tf-file/'] ?? (audits.json as Record<string, unknown> | undefined)?.['tf-file/']) as Record<string, unknown> | undefined;
  c.is(dev?.type, 'file', 'sys/audit["tf-file/"].type');
  c.is((dev?.options as Record<string, unknown> | undefined)?.file_path, file, 'sys/audit["tf-file/"].options.file_path');
  c.status(await go.delete('sys/audit/tf-file'), 204);
}));

test.serial('vault_pki_secret_backend_*: mount, root via issuers/generate/root, issuer PEM, role, config/urls, config/crl, cert issue + revoke, intermediate, destroy', (t) => sequence(t, async (c) => {
  const { go } = await configureProvider(c);
  c.status(await go.request('POST', 'sys/mounts/tf-pki', { body: mountInput('pki', {}, 3600, 315360000) }), 204, 200);
  // vault_pki_secret_backend_root_cert {type = "internal", common_name, ttl, key_type = "ec", key_bits = 256, issuer_name}
  const root = await go.write('tf-pki/issuers/generate/root/internal', {
    common_name: 'Terraform Root', exclude_cn_from_sans: false, issuer_name: 'tf-root', key_bits: 256, key_type: 'ec', ttl: '87600h', use_pss: false,
  });
  let rootRes = root;
  let rd = dataOf(root);
  if (!c.status(root, 200)) {
    // What the provider sends to a Vault < 1.11: root/generate/internal (no issuer_name). Used only so that the rest of
    // this sequence can run; the failed call above stays recorded.
    const legacy = await go.write('tf-pki/root/generate/internal', { common_name: 'Terraform Root', exclude_cn_from_sans: false, key_bits: 256, key_type: 'ec', ttl: '87600h' });
    c.status(legacy, 200);
    rootRes = legacy;
    rd = dataOf(legacy);
  }
  for (const f of ['certificate', 'issuing_ca', 'serial_number', 'issuer_id', 'key_id']) c.true(typeof rd[f] === 'string' && rd[f] !== '', `root data.${f}`);
  const issuerId = typeof rd.issuer_id === 'string' ? rd.issuer_id : 'default';
  // Read: getIssuerPEM with req.ClientToken = "" → GET issuer/<id>/pem, a raw PEM body.
  const pem = await go.request('GET', `tf-pki/issuer/${issuerId}/pem`, { token: null });
  c.status(pem, 200);
  c.regex(pem.text, /^-----BEGIN CERTIFICATE-----/, 'issuer/<id>/pem is a PEM body');
  const iss = await go.read(`tf-pki/issuer/${issuerId}`);
  c.status(iss, 200);
  c.is(dataOf(iss).issuer_name, 'tf-root', 'issuer_name');
  const patched = await go.request('PATCH', `tf-pki/issuer/${issuerId}`, { body: { issuer_name: 'tf-root-renamed' }, contentType: 'application/merge-patch+json' });
  c.status(patched, 200);
  c.is(dataOf(patched).issuer_name, 'tf-root-renamed', 'merge-patched issuer_name');
  // vault_pki_secret_backend_role (booleans and lists as the schema sends them).
  c.status(await go.write('tf-pki/roles/web', {
    allow_any_name: false, allow_bare_domains: false, allow_glob_domains: false, allow_ip_sans: true, allow_localhost: true, allow_subdomains: true,
    allowed_domains: ['example.com'], client_flag: true, enforce_hostnames: true, key_bits: 256, key_type: 'ec', max_ttl: '720h', server_flag: true, ttl: '24h',
  }), 204, 200);
  // vault_pki_secret_backend_config_urls (lists) and _crl_config (fields set in the .tf file, GetOkExists).
  const urls = { crl_distribution_points: [`${b.address}/v1/tf-pki/crl`], enable_templating: false, issuing_certificates: [`${b.address}/v1/tf-pki/ca`], ocsp_servers: [] };
  c.status(await go.write('tf-pki/config/urls', urls), 204, 200);
  const ru = dataOf(await go.read('tf-pki/config/urls'));
  c.is(ru.issuing_certificates, urls.issuing_certificates, 'config/urls issuing_certificates');
  c.is(ru.crl_distribution_points, urls.crl_distribution_points, 'config/urls crl_distribution_points');
  c.is(ru.enable_templating, false, 'config/urls enable_templating');
  c.status(await go.write('tf-pki/config/crl', { auto_rebuild: false, disable: false, enable_delta: false, expiry: '72h', ocsp_disable: false }), 204, 200);
  const crl = await go.read('tf-pki/config/crl');
  c.status(crl, 200);
  c.is(dataOf(crl).expiry, '72h', 'config/crl expiry');
  for (const f of ['disable', 'ocsp_disable', 'auto_rebuild', 'enable_delta']) c.is(dataOf(crl)[f], false, `config/crl ${f}`);
  // vault_pki_secret_backend_cert {backend, name = "web", common_name, alt_names, ttl = "1h", revoke = true}
  const cert = await go.write('tf-pki/issue/web', {
    alt_names: 'www.example.com', common_name: 'web.example.com', exclude_cn_from_sans: false, format: 'pem', private_key_format: 'der', remove_roots_from_chain: false, ttl: '1h',
  });
  c.status(cert, 200);
  const cd = dataOf(cert);
  for (const f of ['certificate', 'issuing_ca', 'private_key', 'private_key_type', 'serial_number']) c.true(typeof cd[f] === 'string' && cd[f] !== '', `cert data.${f}`);
  c.true(typeof cd.expiration === 'number', 'cert data.expiration');
  c.true(Array.isArray(cd.ca_chain), 'cert data.ca_chain');
  const serial = need(cert, cd.serial_number, 'serial_number');
  c.status(await go.write('tf-pki/revoke', { serial_number: serial }), 200);
  // revoke_with_key = true: revoke-with-key {serial_number, private_key}.
  const cert2 = await go.write('tf-pki/issue/web', { common_name: 'api.example.com', exclude_cn_from_sans: false, format: 'pem', private_key_format: 'der', remove_roots_from_chain: false, ttl: '1h' });
  c.status(cert2, 200);
  c.status(await go.write('tf-pki/revoke-with-key', { private_key: need(cert2, dataOf(cert2).private_key, 'private_key'), serial_number: need(cert2, dataOf(cert2).serial_number, 'serial_number') }), 200);
  // vault_pki_secret_backend_intermediate_cert_request → root_sign_intermediate → intermediate_set_signed.
  c.status(await go.request('POST', 'sys/mounts/tf-int', { body: mountInput('pki', {}, 0, 157680000) }), 204, 200);
  const csr = await go.write('tf-int/intermediate/generate/internal', { common_name: 'Terraform Intermediate', exclude_cn_from_sans: false, key_bits: 256, key_type: 'ec' });
  c.status(csr, 200);
  const signed = await go.write(`tf-pki/root/sign-intermediate`, { common_name: 'Terraform Intermediate', csr: need(csr, dataOf(csr).csr, 'csr'), exclude_cn_from_sans: false, format: 'pem', ttl: '43800h' });
  c.status(signed, 200);
  const intPem = need(signed, dataOf(signed).certificate, 'signed certificate');
  c.true(new X509Certificate(intPem).verify(new X509Certificate(need(rootRes, rd.certificate, 'root certificate')).publicKey), 'intermediate signed by the root');
  const set = await go.write('tf-int/intermediate/set-signed', { certificate: intPem });
  c.status(set, 200, 204);
  // Destroy: vault_pki_secret_backend_root_cert (Vault ≥ 1.11) → DELETE issuer/<id>; legacy → DELETE <backend>/root.
  c.status(await go.delete(`tf-pki/issuer/${issuerId}`), 204, 200);
  c.status(await go.delete('tf-int/root'), 204, 200);
}));

test.serial('vault_database_secret_backend_connection/_role/_static_role: config (then LIST config), roles, static-roles, destroy', (t) => sequence(t, async (c) => {
  const { go } = await configureProvider(c);
  c.status(await go.request('POST', 'sys/mounts/tf-db', { body: mountInput('database', {}) }), 204, 200);
  const conn = {
    allowed_roles: 'app,static', connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
    disable_escaping: false, max_connection_lifetime: '0s', max_idle_connections: 0, max_open_connections: 2, password: target.cluster.password,
    plugin_name: 'postgresql-database-plugin', username: target.cluster.user, verify_connection: true,
  };
  c.status(await go.write('tf-db/config/pg', conn), 204, 200);
  const cfg = await go.read('tf-db/config/pg');
  c.status(cfg, 200);
  const det = (dataOf(cfg).connection_details ?? {}) as Record<string, unknown>;
  c.is(det.connection_url, conn.connection_url, 'connection_details.connection_url');
  c.is(det.username, conn.username, 'connection_details.username');
  c.is(dataOf(cfg).allowed_roles, ['app', 'static'], 'allowed_roles');
  c.is(dataOf(cfg).plugin_name, 'postgresql-database-plugin', 'plugin_name');
  const list = await go.list('tf-db/config');
  c.status(list, 200);
  c.is(dataOf(list).keys, ['pg'], 'LIST config keys');
  c.status(await go.write('tf-db/roles/app', {
    creation_statements: [`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT compat_tf_readers TO "{{name}}";`],
    db_name: 'pg', default_ttl: 3600, max_ttl: 86400, renew_statements: [], revocation_statements: [], rollback_statements: [],
  }), 204, 200);
  const role = dataOf(await go.read('tf-db/roles/app'));
  c.is(role.default_ttl, 3600, 'role default_ttl');
  c.is(role.db_name, 'pg', 'role db_name');
  const creds = await go.read('tf-db/creds/app');
  c.status(creds, 200);
  // vault_database_secret_backend_static_role {username, rotation_period = 3600}
  const user = `tf_static_${Date.now()}`;
  await withPgClient(target.url, (pg) => pg.query(`CREATE ROLE ${user} LOGIN PASSWORD 'initial'`));
  c.status(await go.write('tf-db/static-roles/static', { db_name: 'pg', rotation_period: 3600, rotation_statements: [], username: user }), 204, 200);
  const sr = dataOf(await go.read('tf-db/static-roles/static'));
  c.is(sr.username, user, 'static role username');
  c.is(sr.rotation_period, 3600, 'static role rotation_period');
  c.status(await go.delete('tf-db/static-roles/static'), 204);
  c.status(await go.delete('tf-db/roles/app'), 204);
  c.status(await go.delete('tf-db/config/pg'), 204);
}));

test.serial('vault_token / token roles, vault_approle_auth_backend_role (+ role-id, secret-id, custom, accessor lookup/destroy), kubernetes auth config', (t) => sequence(t, async (c) => {
  const { go } = await configureProvider(c);
  // The provider's child token cannot create others with different policies; the operator's token runs this part.
  go.token = b.rootToken;
  // vault_token {policies, ttl = "1h", renewable = true, display_name = "app"}: create, lookup-accessor, renew, revoke-accessor.
  const tok = await go.request('POST', 'auth/token/create', { body: { policies: ['default'], ttl: '1h', display_name: 'app', num_uses: 0, renewable: true, type: '', entity_alias: '' } });
  c.status(tok, 200);
  const accessor = need(tok, authOf(tok).accessor, 'auth.accessor');
  const la = await go.request('POST', 'auth/token/lookup-accessor', { body: { accessor } });
  c.status(la, 200);
  c.is(dataOf(la).display_name, 'token-app', 'lookup-accessor display_name');
  c.is(dataOf(la).renewable, true, 'lookup-accessor renewable');
  c.status(await go.request('PUT', 'auth/token/renew', { body: { increment: 3600, token: need(tok, authOf(tok).client_token, 'client_token') } }), 200);
  c.status(await go.request('POST', 'auth/token/revoke-accessor', { body: { accessor } }), 204);
  // vault_token {wrapping_ttl = "5m"}: the same create with X-Vault-Wrap-TTL; the resource stores wrap_info.token and
  // .accessor and reads on through wrap_info.wrapped_accessor.
  const wrapped = await go.request('POST', 'auth/token/create', { body: { policies: ['default'], ttl: '1h', display_name: 'wrapped', num_uses: 0, type: '', entity_alias: '' }, wrapTTL: '5m' });
  c.status(wrapped, 200);
  const wi = ((wrapped.json as { wrap_info?: Record<string, unknown> | null } | undefined)?.wrap_info ?? {}) as Record<string, unknown>;
  for (const f of ['token', 'accessor', 'wrapped_accessor']) c.true(typeof wi[f] === 'string' && wi[f] !== '', `wrap_info.${f}`);
  c.is((wrapped.json as { auth?: unknown } | undefined)?.auth ?? null, null, 'a wrapped create carries no auth in the clear');
  if (typeof wi.wrapped_accessor === 'string') c.status(await go.request('POST', 'auth/token/lookup-accessor', { body: { accessor: wi.wrapped_accessor } }), 200);
  // vault_token_auth_backend_role + vault_token {role_name}: roles/<name>, then create/<role>.
  c.status(await go.write('auth/token/roles/tf-role', { allowed_policies: ['default'], orphan: false, renewable: true, token_period: 0, token_type: 'default' }), 204, 200);
  c.status(await go.request('POST', 'auth/token/create/tf-role', { body: { ttl: '1h', display_name: 'app', num_uses: 0, type: '', entity_alias: '' } }), 200);
  c.status(await go.delete('auth/token/roles/tf-role'), 204);

  // vault_approle_auth_backend_role and friends.
  c.status(await go.request('POST', 'sys/auth/approle', { body: { ...mountInput('approle', null), config: { options: null, default_lease_ttl: '', max_lease_ttl: '', force_no_cache: false } } }), 204, 200);
  const approleRole = await go.write('auth/approle/role/tf', {
    bind_secret_id: true, secret_id_num_uses: 0, secret_id_ttl: 0, token_bound_cidrs: [], token_explicit_max_ttl: 0, token_max_ttl: 0, token_no_default_policy: false,
    token_num_uses: 0, token_period: 0, token_policies: ['default'], token_ttl: 3600, token_type: 'default',
  });
  c.status(approleRole, 204, 200);
  c.is((approleRole.json as { warnings?: unknown } | undefined)?.warnings ?? null, null, 'every role field the provider sends is understood (no "ignored these unrecognized parameters")');
  c.status(await go.read('auth/approle/role/tf/role-id'), 200);
  c.status(await go.write('auth/approle/role/tf/role-id', { role_id: 'tf-custom-role-id' }), 204);
  const sid = await go.write('auth/approle/role/tf/secret-id', { metadata: '{"team":"a"}' });
  c.status(sid, 200);
  const sidAccessor = need(sid, dataOf(sid).secret_id_accessor, 'secret_id_accessor');
  const custom = await go.write('auth/approle/role/tf/custom-secret-id', { metadata: '', secret_id: 'tf-custom-secret-id-0123456789' });
  c.status(custom, 200);
  const lk = await go.write('auth/approle/role/tf/secret-id-accessor/lookup', { secret_id_accessor: sidAccessor });
  c.status(lk, 200);
  c.is(dataOf(lk).metadata, { team: 'a' }, 'secret-id metadata (sent as a JSON string)');
  c.status(await go.write('auth/approle/role/tf/secret-id-accessor/destroy', { secret_id_accessor: sidAccessor }), 204);

  // vault_kubernetes_auth_backend_config {kubernetes_host, kubernetes_ca_cert, token_reviewer_jwt} (TokenReview mode).
  c.status(await go.request('POST', 'sys/auth/kubernetes', { body: { ...mountInput('kubernetes', null), config: { options: null, default_lease_ttl: '', max_lease_ttl: '', force_no_cache: false } } }), 204, 200);
  // pem_keys is sent only when set (GetOkExists); disable_iss_validation and (Vault ≥ 1.16) use_annotations_as_alias_metadata always.
  c.status(await go.write('auth/kubernetes/config', {
    disable_iss_validation: true, kubernetes_ca_cert: createTestPki().ca('k8s-ca').cert, kubernetes_host: 'https://10.0.0.1:443',
    token_reviewer_jwt: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6dmF1bHQ6dmF1bHQtYXV0aCJ9.c2ln', use_annotations_as_alias_metadata: false,
  }), 204);
  c.status(await go.write('auth/kubernetes/role/app', {
    audience: '', bound_service_account_names: ['app'], bound_service_account_namespaces: ['app'], token_policies: ['default'], token_ttl: 3600,
  }), 204);
  const kr = dataOf(await go.read('auth/kubernetes/role/app'));
  c.is(kr.bound_service_account_names, ['app'], 'kubernetes role bound_service_account_names');
}));
