// Issue 15 item 7, the systematic pass: every enum and format field of PKI, KV, sys/mounts and the database engine
// against Vault's field definitions in OpenBao's source (internal/builtin/logical/pki/{fields,path_roles,cert_util,
// path_config_crl,path_tidy}.go, logical/kv/path_config.go, vault/logical_system.go and mount.go,
// logical/database/path_{config_connection,roles}.go, database/postgresql/passwordauthentication.go). Each table sends
// the values Vault accepts and checks what a user sees (the issued certificate parsed, the setting read back), then
// the values sealbox refuses: one 400 that names the field once. The table in docs/vault-values.md is this file.
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { startApp, type InProcessBroker } from '../helpers/app.ts';
import { api, type ApiResponse } from '../helpers/broker.ts';
import { newTarget } from '../helpers/pg-target.ts';
import { withPgClient } from '../helpers/postgres.ts';

let b: InProcessBroker;
test.before(async () => {
  b = await startApp();
  for (const [path, body] of [
    ['sys/mounts/pki', { type: 'pki' }],
    ['pki/root/generate/internal', { common_name: 'Enums Root', ttl: '87600h' }],
  ] as const) {
    const r = await api(b, 'POST', path, { body });
    if (r.status >= 300) throw new Error(`${path}: ${r.text}`);
  }
});
test.after.always(async () => {
  await b?.stop();
});

const errorsOf = (r: ApiResponse): string[] => (r.json as { errors?: string[] } | undefined)?.errors ?? [];
const dataOf = <T = Record<string, unknown>>(r: ApiResponse): T => (r.json as { data: T }).data;
const post = (path: string, body: Record<string, unknown>): Promise<ApiResponse> => api(b, 'POST', path, { body });

function accepted(t: ExecutionContext, r: ApiResponse, what: string): void {
  t.true(r.status === 200 || r.status === 204, `${what}: ${r.status} ${r.text}`);
}

/** A 400 with one error that starts with the field's name and names it once. */
function refused(t: ExecutionContext, r: ApiResponse, field: string, re: RegExp, what = field): void {
  t.is(r.status, 400, `${what}: ${r.text}`);
  const errors = errorsOf(r);
  t.is(errors.length, 1, `${what}: ${r.text}`);
  const [e = ''] = errors;
  t.true(e.startsWith(`${field}: `), `${what}: ${e}`);
  t.is(e.split(`${field}:`).length, 2, `${what}: the field is named once: ${e}`);
  t.regex(e, re, what);
}

const certOf = (r: ApiResponse): X509Certificate => new X509Certificate(dataOf<{ certificate: string }>(r).certificate);
const ekusOf = (c: X509Certificate): string[] => (c.toLegacyObject() as { ext_key_usage?: string[] }).ext_key_usage ?? [];

test.serial('PKI role key_type/key_bits: every pair Vault takes that sealbox can make issues that key; the others are refused', async (t) => {
  const cases: { body: Record<string, unknown>; bits: number; type: string; detail?: string | number }[] = [
    { body: { key_type: 'ec' }, type: 'ec', bits: 256, detail: 'prime256v1' },
    { body: { key_type: 'ec', key_bits: '384' }, type: 'ec', bits: 384, detail: 'secp384r1' },
    { body: { key_type: 'ec', key_bits: 521 }, type: 'ec', bits: 521, detail: 'secp521r1' },
    { body: { key_type: 'rsa', key_bits: 0 }, type: 'rsa', bits: 2048, detail: 2048 },
    { body: { key_type: 'ed25519' }, type: 'ed25519', bits: 0 },
    // Vault ignores key_bits for ed25519.
    { body: { key_type: 'ed25519', key_bits: 256 }, type: 'ed25519', bits: 0 },
  ];
  for (const c of cases) {
    const what = JSON.stringify(c.body);
    accepted(t, await post('pki/roles/k', { allow_any_name: true, ...c.body }), what);
    t.like(dataOf(await api(b, 'GET', 'pki/roles/k')), { key_type: c.type, key_bits: c.bits }, what);
    const issued = await post('pki/issue/k', { common_name: 'k.example.com' });
    t.is(issued.status, 200, `${what}: ${issued.text}`);
    const key = certOf(issued).publicKey;
    t.is(String(key.asymmetricKeyType), c.type, what);
    if (typeof c.detail === 'string') t.is(key.asymmetricKeyDetails?.namedCurve, c.detail, what);
    if (typeof c.detail === 'number') t.is(key.asymmetricKeyDetails?.modulusLength, c.detail, what);
  }
  // 3072/4096-bit RSA and "any" are taken too (not issued here: RSA key generation is slow; "any" signs CSRs only).
  for (const body of [{ key_type: 'rsa', key_bits: 4096 }, { key_type: 'any' }, { key_type: 'any', key_bits: 2048 }]) accepted(t, await post('pki/roles/k2', body), JSON.stringify(body));
  t.like(dataOf(await api(b, 'GET', 'pki/roles/k2')), { key_type: 'any' });
  const refusedCases: [Record<string, unknown>, string, RegExp][] = [
    [{ key_type: 'ec', key_bits: 224 }, 'key_bits', /P-224 is not supported/],
    [{ key_type: 'rsa', key_bits: 8192 }, 'key_bits', /unsupported bit length for RSA key/],
    [{ key_type: 'rsa', key_bits: 1024 }, 'key_bits', /< 2048 bits/],
    [{ key_type: 'ec', key_bits: 300 }, 'key_bits', /unsupported bit length for EC key/],
    [{ key_type: 'EC' }, 'key_type', /unsupported key_type "EC"/],
    [{ key_type: 'dsa' }, 'key_type', /unsupported key_type "dsa"/],
  ];
  for (const [body, field, re] of refusedCases) refused(t, await post('pki/roles/bad', body), field, re, JSON.stringify(body));
});

test.serial('PKI role ext_key_usage: all of Vault\'s names (any case) and ext_key_usage_oids go into the certificate; unknown ones are refused', async (t) => {
  accepted(t, await post('pki/roles/eku', {
    allow_any_name: true,
    server_flag: false,
    client_flag: false,
    ext_key_usage: 'any,IPSECEndSystem,ipsectunnel,IPSECUser,MicrosoftServerGatedCrypto,NetscapeServerGatedCrypto,TimeStamping,ocspsigning,CodeSigning,EmailProtection',
    ext_key_usage_oids: ['1.3.6.1.4.1.311.20.2.2', '1.2.3.4'],
    key_usage: ['digitalsignature', ' CRLSign '],
  }), 'eku role');
  const read = dataOf(await api(b, 'GET', 'pki/roles/eku'));
  t.deepEqual(read.ext_key_usage, ['Any', 'IPSECEndSystem', 'IPSECTunnel', 'IPSECUser', 'MicrosoftServerGatedCrypto', 'NetscapeServerGatedCrypto', 'TimeStamping', 'OCSPSigning', 'CodeSigning', 'EmailProtection']);
  t.deepEqual(read.ext_key_usage_oids, ['1.3.6.1.4.1.311.20.2.2', '1.2.3.4']);
  t.deepEqual(read.key_usage, ['DigitalSignature', 'CRLSign']);
  const issued = await post('pki/issue/eku', { common_name: 'eku.example.com' });
  t.is(issued.status, 200, issued.text);
  t.deepEqual([...ekusOf(certOf(issued))].sort(), [
    '1.2.3.4',
    '1.3.6.1.4.1.311.10.3.3',
    '1.3.6.1.4.1.311.20.2.2',
    '1.3.6.1.5.5.7.3.3',
    '1.3.6.1.5.5.7.3.4',
    '1.3.6.1.5.5.7.3.5',
    '1.3.6.1.5.5.7.3.6',
    '1.3.6.1.5.5.7.3.7',
    '1.3.6.1.5.5.7.3.8',
    '1.3.6.1.5.5.7.3.9',
    '2.16.840.1.113730.4.1',
    '2.5.29.37.0',
  ]);
  // sign-verbatim takes the same two fields.
  const req = spawnSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=verbatim.example.com'], { encoding: 'utf8' });
  t.is(req.status, 0, req.stderr);
  const verbatim = await post('pki/sign-verbatim', { csr: req.stdout, ext_key_usage: 'ipsecuser', ext_key_usage_oids: '1.2.3.5' });
  t.is(verbatim.status, 200, verbatim.text);
  t.deepEqual([...ekusOf(certOf(verbatim))].sort(), ['1.2.3.5', '1.3.6.1.5.5.7.3.7']);
  refused(t, await post('pki/roles/bad', { ext_key_usage: ['Bogus'] }), 'ext_key_usage', /unknown usage "Bogus"/);
  refused(t, await post('pki/roles/bad', { key_usage: ['Bogus'] }), 'key_usage', /unknown usage "Bogus"/);
  refused(t, await post('pki/roles/bad', { ext_key_usage_oids: ['serverAuth'] }), 'ext_key_usage_oids', /not an object identifier/);
});

test.serial('PKI role cn_validations, issuer_ref and not_after: Vault\'s defaults are taken and read back; values that change behaviour sealbox lacks are refused', async (t) => {
  for (const body of [{ cn_validations: ['email', 'hostname'] }, { cn_validations: 'hostname,email' }, { cn_validations: [] }, { issuer_ref: 'default' }, { issuer_ref: '' }, { not_after: '' }]) {
    const what = JSON.stringify(body);
    const w = await post('pki/roles/cn', { allow_any_name: true, ...body });
    accepted(t, w, what);
    t.is((w.json as { warnings?: unknown } | undefined)?.warnings ?? null, null, `${what}: no "ignored" warning`);
    t.like(dataOf(await api(b, 'GET', 'pki/roles/cn')), { cn_validations: ['email', 'hostname'], issuer_ref: 'default', not_after: '' }, what);
  }
  refused(t, await post('pki/roles/bad', { cn_validations: 'disabled' }), 'cn_validations', /only the default \["email", "hostname"\] is supported/);
  refused(t, await post('pki/roles/bad', { cn_validations: 'email' }), 'cn_validations', /only the default/);
  refused(t, await post('pki/roles/bad', { cn_validations: 'dns' }), 'cn_validations', /unknown value "dns"/);
  refused(t, await post('pki/roles/bad', { issuer_ref: 'other-issuer' }), 'issuer_ref', /only "default" is supported/);
  refused(t, await post('pki/roles/bad', { not_after: '2030-01-01T00:00:00Z' }), 'not_after', /not supported; send not_after on the issue or sign request/);
});

test.serial('PKI issue not_after: Vault\'s RFC 3339 forms set the certificate\'s expiry; other forms, a past time or with ttl are refused', async (t) => {
  accepted(t, await post('pki/roles/na', { allow_any_name: true, ttl: '30m', max_ttl: '1h' }), 'role');
  const now = b.clock.now().getTime();
  const at = new Date(Math.floor(now / 1000) * 1000 + 30 * 86_400_000);
  const offset = `${at.toISOString().slice(0, 19)}+00:00`;
  for (const notAfter of [at.toISOString().replace('.000Z', 'Z'), offset, at.toISOString()]) {
    const r = await post('pki/issue/na', { common_name: 'na.example.com', not_after: notAfter });
    t.is(r.status, 200, `${notAfter}: ${r.text}`);
    // Not capped by the role's max_ttl (Vault's not_after is not), only by the CA.
    t.is(Date.parse(certOf(r).validTo), at.getTime(), notAfter);
    t.is(dataOf<{ expiration: number }>(r).expiration, at.getTime() / 1000);
  }
  const empty = await post('pki/issue/na', { common_name: 'na.example.com', not_after: '' });
  t.is(empty.status, 200, empty.text);
  for (const bad of ['2030-01-01', '2030-01-01 00:00:00', 'tomorrow', '1893456000']) refused(t, await post('pki/issue/na', { common_name: 'na.example.com', not_after: bad }), 'not_after', /YYYY-MM-ddTHH:MM:SSZ/, bad);
  refused(t, await post('pki/issue/na', { common_name: 'na.example.com', not_after: '2020-01-01T00:00:00Z' }), 'not_after', /is in the past/);
  const both = await post('pki/issue/na', { common_name: 'na.example.com', not_after: at.toISOString(), ttl: '1h' });
  t.is(both.status, 400);
  t.deepEqual(errorsOf(both), ['Either ttl or not_after should be provided. Both should not be provided in the same request.']);
});

test.serial('PKI generate type: internal and exported; Vault\'s existing and kms are refused naming type', async (t) => {
  const exported = await post('pki/intermediate/generate/exported', { common_name: 'Enums Int' });
  t.is(exported.status, 200, exported.text);
  t.regex(dataOf<{ private_key: string }>(exported).private_key, /^-----BEGIN EC PRIVATE KEY-----/);
  const internal = await post('pki/intermediate/generate/internal', { common_name: 'Enums Int' });
  t.is(internal.status, 200, internal.text);
  t.is(dataOf<{ private_key?: string }>(internal).private_key, undefined);
  for (const path of ['pki/root/generate/existing', 'pki/root/generate/kms', 'pki/intermediate/generate/kms', 'pki/issuers/generate/root/existing']) {
    refused(t, await post(path, { common_name: 'X' }), 'type', /unsupported type "(existing|kms)": use "internal" or "exported"/, path);
  }
});

test.serial('PKI revoke: serial_number or certificate, as Vault takes them; neither or both is one 400', async (t) => {
  accepted(t, await post('pki/roles/rv', { allow_any_name: true }), 'role');
  const one = await post('pki/issue/rv', { common_name: 'rv.example.com' });
  const two = await post('pki/issue/rv', { common_name: 'rv.example.com' });
  const byCert = await post('pki/revoke', { certificate: dataOf<{ certificate: string }>(one).certificate });
  t.is(byCert.status, 200, byCert.text);
  t.like(dataOf(byCert), { state: 'revoked' });
  const serial = dataOf<{ serial_number: string }>(two).serial_number;
  t.is((await post('pki/revoke', { serial_number: serial.replace(/:/g, '-') })).status, 200);
  for (const body of [{}, { serial_number: serial, certificate: dataOf<{ certificate: string }>(two).certificate }]) {
    const r = await post('pki/revoke', body);
    t.is(r.status, 400);
    t.deepEqual(errorsOf(r), ['must provide either the certificate or the serial_number, but not both']);
  }
  accepted(t, await post('sys/mounts/pki-other', { type: 'pki' }), 'other mount');
  const foreign = dataOf<{ certificate: string }>(await post('pki-other/root/generate/internal', { common_name: 'Other Root' })).certificate;
  refused(t, await post('pki/revoke', { certificate: foreign }), 'certificate', /not a certificate this mount issued/);
  refused(t, await post('pki/revoke', { certificate: 'not a pem' }), 'certificate', /expected exactly one PEM certificate/);
});

test.serial('PKI config/crl and tidy: switches for features sealbox lacks are taken when false and refused when true', async (t) => {
  accepted(t, await post('pki/config/crl', { expiry: '72h', enable_delta: false, unified_crl: 'false', cross_cluster_revocation: false, ocsp_disable: true }), 'crl defaults');
  t.like(dataOf(await api(b, 'GET', 'pki/config/crl')), { expiry: '72h', enable_delta: false, ocsp_disable: true });
  refused(t, await post('pki/config/crl', { enable_delta: true }), 'enable_delta', /delta CRLs are not supported/);
  refused(t, await post('pki/config/crl', { unified_crl: 'true' }), 'unified_crl', /not supported/);
  const tidy = await post('pki/tidy', { tidy_revocation_list: true, tidy_expired_issuers: false, tidy_acme: false, pause_duration: '1s', safety_buffer: '72h' });
  t.is(tidy.status, 200, tidy.text);
  for (const field of ['tidy_expired_issuers', 'tidy_move_legacy_ca_bundle', 'tidy_revoked_cert_issuer_associations', 'tidy_acme', 'tidy_invalid_certs']) {
    refused(t, await post('pki/tidy', { tidy_cert_store: true, [field]: true }), field, /this tidy operation is not supported/);
  }
  refused(t, await post('pki/tidy', { tidy_cert_store: true, pause_duration: 'soon' }), 'pause_duration', /not a duration/);
});

test.serial('KV config delete_version_after: a negative duration disables deletion on every key (read back "-1s"), zero clears it', async (t) => {
  accepted(t, await post('sys/mounts/dva', { type: 'kv', options: { version: '2' } }), 'mount');
  accepted(t, await post('dva/metadata/a', { delete_version_after: '1h' }), 'metadata');
  for (const [value, shown] of [['-1s', '-1s'], [-30, '-1s'], ['-5m', '-1s'], ['2h', '2h0m0s'], [0, '0s'], ['-1h', '-1s']] as const) {
    accepted(t, await post('dva/config', { delete_version_after: value }), String(value));
    t.is(dataOf(await api(b, 'GET', 'dva/config')).delete_version_after, shown, String(value));
  }
  const w = await post('dva/data/a', { data: { v: 1 } });
  t.is(w.status, 200, w.text);
  t.is(dataOf<{ deletion_time: string }>(w).deletion_time, '', 'the mount disables the secret\'s 1h');
  accepted(t, await post('dva/config', { delete_version_after: 0 }), 'clear');
  t.not(dataOf<{ deletion_time: string }>(await post('dva/data/a', { data: { v: 2 } })).deletion_time, '', 'cleared: the secret\'s 1h applies again');
  refused(t, await post('dva/config', { delete_version_after: '-soon' }), 'delete_version_after', /not a duration/);
  refused(t, await post('dva/config', { cas_required: 'maybe' }), 'cas_required', /./);
});

test.serial('sys/mounts: type aliases, listing_visibility, TTL forms and token_type as Vault takes them; seal_wrap and batch token types refused', async (t) => {
  const mounted: [string, Record<string, unknown>, string, string][] = [
    ['kv-generic', { type: 'generic' }, 'kv', '1'],
    ['kv-v2alias', { type: 'kv-v2' }, 'kv', '2'],
    ['kv-one', { type: 'kv', options: { version: 1 } }, 'kv', '1'],
  ];
  for (const [path, body, type, version] of mounted) {
    accepted(t, await post(`sys/mounts/${path}`, body), path);
    t.like(dataOf(await api(b, 'GET', `sys/mounts/${path}`)), { type, options: { version } }, path);
  }
  for (const [i, config] of [{ listing_visibility: 'unauth', default_lease_ttl: '1h', max_lease_ttl: '24h0m0s' }, { listing_visibility: '', default_lease_ttl: 3600, max_lease_ttl: '1d' }, { listing_visibility: 'hidden', default_lease_ttl: 'system' }].entries()) {
    accepted(t, await post(`sys/mounts/vis${i}`, { type: 'kv', config }), JSON.stringify(config));
  }
  t.like(dataOf(await api(b, 'GET', 'sys/mounts/vis0')), { config: { listing_visibility: 'unauth', default_lease_ttl: 3600, max_lease_ttl: 86400 } });
  t.like(dataOf(await api(b, 'GET', 'sys/mounts/vis1')), { config: { default_lease_ttl: 3600, max_lease_ttl: 86400 } });
  for (const token_type of ['', 'default-service', 'service']) accepted(t, await post(`sys/auth/tt${token_type || 'empty'}`, { type: 'approle', config: { token_type } }), token_type);
  accepted(t, await post('sys/auth/ttservice/tune', { token_type: 'default-service' }), 'tune');
  for (const token_type of ['batch', 'default-batch']) refused(t, await post('sys/auth/ttb', { type: 'approle', config: { token_type } }), 'config.token_type', /sealbox issues service tokens only/, token_type);
  refused(t, await post('sys/auth/ttservice/tune', { token_type: 'batch' }), 'token_type', /sealbox issues service tokens only/);
  refused(t, await post('sys/auth/ttx', { type: 'approle', config: { token_type: 'default' } }), 'config.token_type', /invalid value "default"/);
  refused(t, await post('sys/mounts/bad', { type: 'kv', config: { listing_visibility: 'public' } }), 'config.listing_visibility', /must be "unauth", "hidden" or ""/);
  refused(t, await post('sys/mounts/bad', { type: 'kv', options: { version: '3' } }), 'options.version', /must be "1" or "2"/);
  refused(t, await post('sys/mounts/bad', { type: 'kv', seal_wrap: true }), 'seal_wrap', /not supported/);
  refused(t, await post('sys/mounts/bad', { type: 'kv', external_entropy_access: 'true' }), 'external_entropy_access', /not supported/);
  accepted(t, await post('sys/mounts/sw', { type: 'kv', seal_wrap: false, external_entropy_access: false }), 'false is fine');
});

test.serial('database: password_authentication, plugin_version, disable_escaping and credential_config as Vault takes them; the unsupported settings are refused', async (t) => {
  const target = await newTarget('enum_readers');
  accepted(t, await post('sys/mounts/database', { type: 'database' }), 'mount');
  const base = { plugin_name: 'postgresql-database-plugin', connection_url: target.url, allowed_roles: '*' };
  for (const extra of [{ password_authentication: 'password' }, { password_authentication: '' }, { password_authentication: 'scram-sha-256', plugin_version: '', disable_escaping: false }]) {
    const r = await post('database/config/pg', { ...base, ...extra });
    t.is(r.status, 204, `${JSON.stringify(extra)}: ${r.text}`);
  }
  t.like(dataOf(await api(b, 'GET', 'database/config/pg')), { plugin_version: '', connection_details: { password_authentication: 'scram-sha-256' } });
  refused(t, await post('database/config/pg', { ...base, password_authentication: 'md5' }), 'password_authentication', /'md5' is not a valid password authentication type/);
  refused(t, await post('database/config/pg', { ...base, plugin_version: 'v1.0.0' }), 'plugin_version', /not supported/);
  refused(t, await post('database/config/pg', { ...base, disable_escaping: 'true' }), 'disable_escaping', /not supported/);
  refused(t, await post('database/config/pg', { ...base, plugin_name: 'mysql-database-plugin' }), 'plugin_name', /is not supported; use "postgresql-database-plugin"/);
  const creation = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT enum_readers TO "{{name}}"`;
  for (const extra of [{ credential_type: 'password' }, { credential_config: {} }, { credential_type: '', credential_config: {} }]) {
    const r = await post('database/roles/app', { db_name: 'pg', creation_statements: creation, default_ttl: '1h', ...extra });
    t.is(r.status, 204, `${JSON.stringify(extra)}: ${r.text}`);
  }
  t.like(dataOf(await api(b, 'GET', 'database/roles/app')), { credential_type: 'password', default_ttl: 3600 });
  // With "scram-sha-256" (as with sealbox's default), the minted user logs in.
  const creds = dataOf<{ username: string; password: string }>(await api(b, 'GET', 'database/creds/app'));
  const url = new URL(target.url);
  url.username = encodeURIComponent(creds.username);
  url.password = encodeURIComponent(creds.password);
  t.deepEqual(await withPgClient(url.toString(), async (c) => (await c.query<{ name: string }>('SELECT name FROM items')).rows), [{ name: 'one' }]);
  refused(t, await post('database/roles/app', { db_name: 'pg', creation_statements: creation, credential_config: { password_policy: 'strict' } }), 'credential_config', /not supported \("password_policy"\)/);
  refused(t, await post('database/roles/app', { db_name: 'pg', creation_statements: creation, credential_config: 'x' }), 'credential_config', /key\/value pairs/);
  await withPgClient(target.url, (c) => c.query('CREATE ROLE enum_static LOGIN'));
  const st = await post('database/static-roles/s', { db_name: 'pg', username: 'enum_static', rotation_period: '1h', credential_type: 'password', credential_config: {} });
  t.is(st.status, 204, st.text);
  refused(t, await post('database/static-roles/s', { db_name: 'pg', username: 'enum_static', rotation_period: '1h', credential_config: { password_policy: 'x' } }), 'credential_config', /not supported/);
  for (const [body, field, re] of [
    [{ rotation_strategy: 'round-robin' }, 'rotation_strategy', /must be "single" or "alternating"/],
    [{ credential_type: 'rsa_private_key' }, 'credential_type', /is not supported; only "password"/],
    [{ rotation_period: '1h', rotation_schedule: '0 * * * *' }, 'rotation_schedule and rotation_period', /mutually exclusive/],
  ] as const) {
    const r = await post('database/static-roles/s', { db_name: 'pg', username: 'enum_static', rotation_period: '1h', ...body });
    t.is(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    t.true((errorsOf(r)[0] ?? '').startsWith(field), r.text);
    t.regex(errorsOf(r)[0] ?? '', re);
  }
});

test.serial('AppRole and token fields: token_type, bind_secret_id, CIDR lists and token type as Vault spells them; batch tokens and local_secret_ids refused', async (t) => {
  accepted(t, await post('sys/auth/approle', { type: 'approle' }), 'mount');
  for (const token_type of ['', 'default', 'service', 'default-service']) {
    accepted(t, await post('auth/approle/role/tt', { token_type, bind_secret_id: 'f', secret_id_bound_cidrs: '10.0.0.0/8,127.0.0.1', local_secret_ids: false }), token_type);
    t.like(dataOf(await api(b, 'GET', 'auth/approle/role/tt')), { token_type: 'default', bind_secret_id: false, local_secret_ids: false, secret_id_bound_cidrs: ['10.0.0.0/8', '127.0.0.1'] }, token_type);
  }
  for (const token_type of ['batch', 'default-batch']) refused(t, await post('auth/approle/role/tt', { token_type }), 'token_type', /sealbox issues service tokens only/, token_type);
  refused(t, await post('auth/approle/role/tt', { token_type: 'bogus' }), 'token_type', /expected one of/);
  refused(t, await post('auth/approle/role/tt', { local_secret_ids: true }), 'local_secret_ids', /not supported/);
  refused(t, await post('auth/approle/role/tt', { secret_id_bound_cidrs: '10.0.0.0/33' }), 'secret_id_bound_cidrs', /not a CIDR block/);
  for (const type of ['', 'service']) t.is((await post('auth/token/create', { type, renewable: 'f', period: '1h', explicit_max_ttl: '2h' })).status, 200, type);
  // OpenBao's token create takes "", "service" and "batch" only ("default" is Vault's invalid 'token_type' value too).
  for (const type of ['batch', 'default']) refused(t, await post('auth/token/create', { type }), 'type', /only "service" tokens are supported/, type);
  accepted(t, await post('auth/token/roles/tr', { token_type: 'default-service', orphan: 'true', token_period: '1h' }), 'token role');
  refused(t, await post('auth/token/roles/tr', { token_type: 'batch' }), 'token_type', /only "default" and "service" tokens are supported/);
  accepted(t, await post('sys/policies/acl/caps', { policy: 'path "a/*" { capabilities = ["create", "read", "update", "patch", "delete", "list", "sudo"] }' }), 'capabilities');
  for (const cap of ['scan', 'subscribe', 'recover']) {
    const r = await post('sys/policies/acl/caps', { policy: `path "a/*" { capabilities = ["read", "${cap}"] }` });
    t.is(r.status, 400, cap);
    t.deepEqual(errorsOf(r), [`policy path "a/*": capability "${cap}" is not supported (sealbox has no ${cap} operation)`]);
  }
});
