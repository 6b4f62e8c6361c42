// Values Vault accepts (its field definitions in OpenBao's source) and input in the loose forms Vault clients send:
// all-string fields as cert-manager sends them, hvac's nulls for every unset argument, Go durations.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { api, startBroker, type Broker } from '../helpers/broker.ts';

let b: Broker;
test.before(async () => {
  b = await startBroker();
  const mount = await api(b, 'POST', 'sys/mounts/pki', {
    // hvac's enable_secrets_engine sends null for every argument it was not given.
    body: { type: 'pki', description: null, config: null, options: null, plugin_name: null, local: null, seal_wrap: null, external_entropy_access: null },
  });
  if (mount.status !== 204) throw new Error(mount.text);
  const root = await api(b, 'POST', 'pki/root/generate/internal', { body: { common_name: 'Values Root', ttl: '87600h', key_type: 'ec' } });
  if (root.status !== 200) throw new Error(root.text);
  const role = await api(b, 'POST', 'pki/roles/web', { body: { allowed_domains: 'example.com,example.org', allow_subdomains: 'true', max_ttl: '2160h0m0s', key_type: 'ec' } });
  if (role.status !== 204 && role.status !== 200) throw new Error(role.text);
});
test.after.always(() => b?.stop());

const errorsOf = (json: unknown): string[] => (json as { errors?: string[] }).errors ?? [];

test('PKI issue takes every private_key_format Vault allows ("", der, pem, pkcs8)', async (t) => {
  for (const private_key_format of ['', 'der', 'pem', 'pkcs8']) {
    const r = await api(b, 'POST', 'pki/issue/web', { body: { common_name: 'a.example.com', private_key_format } });
    t.is(r.status, 200, `${private_key_format}: ${r.text}`);
    const key = (r.json as { data: { private_key: string } }).data.private_key;
    t.regex(key, private_key_format === 'pkcs8' ? /^-----BEGIN PRIVATE KEY-----/ : /^-----BEGIN EC PRIVATE KEY-----/);
  }
});

test('a refused value names its field once', async (t) => {
  const r = await api(b, 'POST', 'pki/issue/web', { body: { common_name: 'a.example.com', private_key_format: 'jwk', format: 'xml' } });
  t.is(r.status, 400);
  t.true(errorsOf(r.json).includes('private_key_format: must be "der", "pem" or "pkcs8"'), r.text);
  t.true(errorsOf(r.json).includes('format: must be "pem", "der" or "pem_bundle"'), r.text);
});

test('cert-manager’s all-string sign request: comma lists, Go duration TTL, "true" booleans', async (t) => {
  const r = await api(b, 'POST', 'pki/issue/web', {
    body: { common_name: 'svc.example.com', alt_names: 'api.example.org,www.example.org', ip_sans: '', uri_sans: '', ttl: '2160h0m0s', exclude_cn_from_sans: 'true' },
  });
  t.is(r.status, 200, r.text);
  const { certificate } = (r.json as { data: { certificate: string } }).data;
  const { X509Certificate } = await import('node:crypto');
  const cert = new X509Certificate(certificate);
  t.is(cert.subjectAltName, 'DNS:api.example.org, DNS:www.example.org');
  const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
  t.true(days > 89 && days <= 90.01, String(days));
});

test('null is unset for AppRole and tokens too; numbers and booleans as strings; token_type "default-service"', async (t) => {
  t.is((await api(b, 'POST', 'sys/auth/approle', { body: { type: 'approle', description: null, config: null, local: null, seal_wrap: null } })).status, 204);
  const role = await api(b, 'POST', 'auth/approle/role/app', {
    body: { token_policies: 'default,app', token_ttl: '1h', token_num_uses: '0', bind_secret_id: 'true', token_type: 'default-service', secret_id_bound_cidrs: null },
  });
  t.true(role.status === 204 || role.status === 200, role.text);
  const read = (await api(b, 'GET', 'auth/approle/role/app')).json as { data: Record<string, unknown> };
  t.like(read.data, { token_ttl: 3600, bind_secret_id: true, token_type: 'default' });
  t.deepEqual([...(read.data.token_policies as string[])].sort(), ['app', 'default']);
  // hvac's generate_secret_id sends metadata: null and cidr_list: null.
  const sid = await api(b, 'POST', 'auth/approle/role/app/secret-id', { body: { metadata: null, cidr_list: null, token_bound_cidrs: null } });
  t.is(sid.status, 200, sid.text);
  t.deepEqual((sid.json as { warnings: unknown }).warnings, null, 'a null field is unset, not an unknown one');
  const token = await api(b, 'POST', 'auth/token/create', { body: { policies: 'default', ttl: '1h', num_uses: '2', renewable: 'false', no_parent: null, meta: null } });
  t.is(token.status, 200, token.text);
  t.like((token.json as { auth: Record<string, unknown> }).auth, { renewable: false, num_uses: 2 });
});

test('bad input keeps its 4xx: a wrong type names the field, an unknown field warns', async (t) => {
  const wrong = await api(b, 'POST', 'auth/token/create', { body: { num_uses: 'many' } });
  t.is(wrong.status, 400);
  t.regex(errorsOf(wrong.json)[0] ?? '', /^num_uses: /);
  const unknown = await api(b, 'POST', 'auth/token/create', { body: { policies: ['default'], colour: 'blue' } });
  t.is(unknown.status, 200);
  t.deepEqual((unknown.json as { warnings: string[] }).warnings, ['Endpoint ignored these unrecognized parameters: [colour]']);
});

test('token create: type "" and "service" are taken; Vault\'s "batch" is refused as unsupported, naming the field', async (t) => {
  for (const type of ['', 'service']) t.is((await api(b, 'POST', 'auth/token/create', { body: { type } })).status, 200, type);
  const batch = await api(b, 'POST', 'auth/token/create', { body: { type: 'batch' } });
  t.is(batch.status, 400);
  t.deepEqual(errorsOf(batch.json), ['type: only "service" tokens are supported (batch tokens are not)']);
});

test('PKI key_bits Vault takes but sealbox cannot (EC 224, RSA 8192): a 400 that names key_bits', async (t) => {
  for (const body of [{ key_type: 'ec', key_bits: 224 }, { key_type: 'rsa', key_bits: 8192 }]) {
    const r = await api(b, 'POST', 'pki/roles/bits', { body });
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(errorsOf(r.json)[0] ?? '', /^key_bits: unsupported bit length/);
  }
  t.regex(errorsOf((await api(b, 'POST', 'pki/roles/bits', { body: { key_type: 'dsa' } })).json)[0] ?? '', /^key_type: unsupported key_type "dsa"/);
});

test('PKI sign-verbatim: signature_bits and use_pss are ignored for an EC issuer, as Vault ignores them (RSA: test/vault-enums-2.test.ts)', async (t) => {
  const req = spawnSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=verbatim.example.com'], { encoding: 'utf8' });
  t.is(req.status, 0, req.stderr);
  const csr = req.stdout;
  const signed = await api(b, 'POST', 'pki/sign-verbatim', { body: { csr, signature_bits: '0', use_pss: 'false' } });
  t.is(signed.status, 200, signed.text);
  // certutil.ValidateSignatureLength: "When KeyType is ec, we also can't validate this value as we're forcefully
  // ignoring the users' choice and specifying a value based on issuer type."
  const bits = await api(b, 'POST', 'pki/sign-verbatim', { body: { csr, signature_bits: 384, use_pss: true } });
  t.is(bits.status, 200, bits.text);
});

test('database role credential_type: "password" is taken; Vault\'s rsa_private_key and client_certificate are refused, naming the field', async (t) => {
  t.is((await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } })).status, 204);
  for (const credential_type of ['rsa_private_key', 'client_certificate']) {
    const r = await api(b, 'POST', 'database/roles/app', { body: { db_name: 'pg', creation_statements: 'CREATE ROLE "{{name}}"', credential_type } });
    t.is(r.status, 400, credential_type);
    t.deepEqual(errorsOf(r.json), [`credential_type: "${credential_type}" is not supported; only "password"`]);
  }
  // "password" passes the field check and reaches the next one (no config "pg" on this mount).
  const pw = await api(b, 'POST', 'database/roles/app', { body: { db_name: 'pg', creation_statements: 'CREATE ROLE "{{name}}"', credential_type: 'password' } });
  t.is(pw.status, 400);
  t.deepEqual(errorsOf(pw.json), ['db_name: no database config named "pg"']);
});
