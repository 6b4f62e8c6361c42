// Issue 15 item 7, second pass: fields of the cert auth method, sys/quotas, sys/policies (acl, legacy, password),
// auth/token/lookup and PKI signature_bits/use_pss, checked against Vault's definitions in OpenBao's source
// (internal/builtin/credential/cert/path_certs.go, internal/vault/logical_system*.go, token_store.go,
// internal/builtin/logical/pki/fields.go and sdk/helper/certutil). What Vault accepts is accepted; what sealbox does not
// implement is refused with one 4xx naming the field once, never stored and ignored. A real broker (PGlite).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { api, startBroker, type ApiResponse, type Broker } from './helpers/broker.ts';

let b: Broker;
let caPem: string;
test.before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-enums-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-subj', '/CN=enums-ca', '-days', '1', '-addext', 'basicConstraints=critical,CA:true'], { stdio: 'ignore' });
  caPem = fs.readFileSync(path.join(dir, 'c.pem'), 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
  b = await startBroker();
});
test.after.always(async () => {
  await b?.stop();
});

const errorsOf = (r: ApiResponse): string[] => (r.json as { errors?: string[] } | undefined)?.errors ?? [];
const warningsOf = (r: ApiResponse): string[] => (r.json as { warnings?: string[] | null } | undefined)?.warnings ?? [];
const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;
/** A 400 whose one error starts with the field name, once. */
function refused(t: ExecutionContext, r: ApiResponse, field: string, re: RegExp): void {
  t.is(r.status, 400, r.text);
  const [e = ''] = errorsOf(r);
  t.true(e.startsWith(`${field}: `), e);
  t.false(e.startsWith(`${field}: ${field}`), `the field is named once: ${e}`);
  t.regex(e, re);
}

test.serial('cert auth: the fields Terraform sends with their defaults are accepted without warnings; explicit max TTL and lease apply', async (t) => {
  t.is((await api(b, 'POST', 'sys/auth/cert', { body: { type: 'cert' } })).status, 204);
  const w = await api(b, 'POST', 'auth/cert/certs/web', {
    body: {
      certificate: caPem,
      token_type: 'default',
      token_bound_cidrs: [],
      bound_cidrs: '',
      token_explicit_max_ttl: '2h',
      required_extensions: [],
      allowed_metadata_extensions: '',
      ocsp_enabled: false,
      ocsp_ca_certificates: '',
      ocsp_servers_override: [],
      ocsp_fail_open: 'false',
      ocsp_query_all_servers: false,
      lease: 60,
    },
  });
  t.true(w.status === 200 || w.status === 204, w.text);
  t.deepEqual(warningsOf(w), []);
  const read = dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/cert/certs/web'));
  t.like(read, { token_ttl: 60, token_explicit_max_ttl: 7200, token_type: 'default', token_bound_cidrs: [], required_extensions: [], ocsp_enabled: false });
});

test.serial('cert auth: constraints sealbox does not have are refused, naming the field', async (t) => {
  const put = (extra: Record<string, unknown>) => api(b, 'POST', 'auth/cert/certs/web2', { body: { certificate: caPem, ...extra } });
  refused(t, await put({ token_bound_cidrs: ['10.0.0.0/8'] }), 'token_bound_cidrs', /not supported/);
  refused(t, await put({ bound_cidrs: '10.0.0.0/8' }), 'bound_cidrs', /not supported/);
  refused(t, await put({ required_extensions: '1.2.3.4:*' }), 'required_extensions', /not supported/);
  refused(t, await put({ allowed_metadata_extensions: ['1.2.3.4'] }), 'allowed_metadata_extensions', /not supported/);
  refused(t, await put({ ocsp_enabled: 'true' }), 'ocsp_enabled', /OCSP/);
  refused(t, await put({ token_type: 'batch' }), 'token_type', /"default" and "service"/);
  refused(t, await put({ token_type: 'nope' }), 'token_type', /"default" and "service"/);
  t.is((await api(b, 'GET', 'auth/cert/certs/web2')).status, 404, 'nothing was stored');
});

test.serial('JWT and Kubernetes roles: an empty token_bound_cidrs is accepted, a real one refused', async (t) => {
  t.is((await api(b, 'POST', 'sys/auth/jwt', { body: { type: 'jwt' } })).status, 204);
  const base = { role_type: 'jwt', user_claim: 'sub', bound_audiences: ['a'], token_policies: ['default'] };
  const ok = await api(b, 'POST', 'auth/jwt/role/r1', { body: { ...base, token_bound_cidrs: [] } });
  t.true(ok.status === 200 || ok.status === 204, ok.text);
  t.deepEqual(warningsOf(ok), []);
  refused(t, await api(b, 'POST', 'auth/jwt/role/r2', { body: { ...base, token_bound_cidrs: '10.0.0.0/8' } }), 'token_bound_cidrs', /not supported/);
  t.is((await api(b, 'POST', 'sys/auth/kubernetes', { body: { type: 'kubernetes' } })).status, 204);
  const k8s = { bound_service_account_names: ['app'], bound_service_account_namespaces: ['default'] };
  refused(t, await api(b, 'POST', 'auth/kubernetes/role/k2', { body: { ...k8s, token_bound_cidrs: ['10.0.0.0/8'] } }), 'token_bound_cidrs', /not supported/);
});

test.serial('sys/quotas: rates in Go float forms, inheritable, and the audit-logging switch at its default', async (t) => {
  const q = await api(b, 'POST', 'sys/quotas/rate-limit/e1', { body: { rate: '1e2', interval: '1s', inheritable: 'true', path: '' } });
  t.true(q.status === 200 || q.status === 204, q.text);
  t.deepEqual(warningsOf(q), []);
  t.like(dataOf<Record<string, unknown>>(await api(b, 'GET', 'sys/quotas/rate-limit/e1')), { rate: 100, interval: 1, inheritable: false });
  refused(t, await api(b, 'POST', 'sys/quotas/rate-limit/e2', { body: { rate: '-1' } }), 'rate', /greater than 0/);
  refused(t, await api(b, 'POST', 'sys/quotas/rate-limit/e2', { body: { rate: 'fast' } }), 'rate', /number/);
  t.is((await api(b, 'DELETE', 'sys/quotas/rate-limit/e1')).status, 204);
  const cfg = await api(b, 'POST', 'sys/quotas/config', { body: { enable_rate_limit_audit_logging: 'false', rate_limit_exempt_paths: [] } });
  t.true(cfg.status === 200 || cfg.status === 204, cfg.text);
  t.deepEqual(warningsOf(cfg), []);
  refused(t, await api(b, 'POST', 'sys/quotas/config', { body: { enable_rate_limit_audit_logging: true } }), 'enable_rate_limit_audit_logging', /not supported/);
});

test.serial('policies: a base64 policy document is decoded, as Vault does, on sys/policies/acl, sys/policy and sys/policies/password', async (t) => {
  const hcl = 'path "secret/data/b64/*" {\n  capabilities = ["read"]\n}\n';
  const b64 = Buffer.from(hcl).toString('base64');
  t.is((await api(b, 'PUT', 'sys/policies/acl/b64', { body: { policy: b64 } })).status, 204);
  t.is(dataOf<{ policy: string }>(await api(b, 'GET', 'sys/policies/acl/b64')).policy, hcl);
  t.is((await api(b, 'PUT', 'sys/policy/b64-legacy', { body: { policy: b64 } })).status, 204);
  t.is(dataOf<{ rules: string }>(await api(b, 'GET', 'sys/policy/b64-legacy')).rules, hcl);
  // Plain HCL stays as it is; broken base64-looking text is parsed as HCL (and fails as HCL).
  t.is((await api(b, 'PUT', 'sys/policies/acl/plain', { body: { policy: hcl } })).status, 204);
  refused(t, await api(b, 'PUT', 'sys/policies/acl/bad', { body: { policy: 'bm90IGhjbA==' } }), 'policy', /HCL/);
  const pw = 'length = 12\nrule "charset" {\n  charset = "abc"\n}\n';
  t.is((await api(b, 'PUT', 'sys/policies/password/pw-b64', { body: { policy: Buffer.from(pw).toString('base64') } })).status, 204);
  t.is(dataOf<{ policy: string }>(await api(b, 'GET', 'sys/policies/password/pw-b64')).policy, pw);
  t.regex(dataOf<{ password: string }>(await api(b, 'GET', 'sys/policies/password/pw-b64/generate')).password, /^[abc]{12}$/);
});

test.serial('auth/token/lookup: an empty or absent token looks up the caller, by update and by read', async (t) => {
  for (const r of [await api(b, 'POST', 'auth/token/lookup', { body: { token: '' } }), await api(b, 'POST', 'auth/token/lookup', { body: {} }), await api(b, 'GET', 'auth/token/lookup')]) {
    t.is(r.status, 200, r.text);
    t.is(dataOf<{ id: string; policies: string[] }>(r).id, b.rootToken);
  }
  const other = await api(b, 'POST', 'auth/token/lookup', { body: { token: 'sbx.not-a-token' } });
  t.is(other.status, 403, 'an unknown token is still "bad token"');
});

test.serial('PKI signature_bits and use_pss: ignored for EC keys as Vault does; SHA-256 PKCS #1 v1.5 for RSA, other choices refused', async (t) => {
  t.is((await api(b, 'POST', 'sys/mounts/pki-ec', { body: { type: 'pki' } })).status, 204);
  const ec = await api(b, 'POST', 'pki-ec/root/generate/internal', { body: { common_name: 'EC root', key_type: 'ec', signature_bits: 384, use_pss: true, ttl: '24h' } });
  t.is(ec.status, 200, ec.text);
  t.deepEqual(warningsOf(ec), []);
  const role = await api(b, 'POST', 'pki-ec/roles/r', { body: { allowed_domains: 'example.com', allow_subdomains: true, key_type: 'ec', signature_bits: '384' } });
  t.true(role.status === 200 || role.status === 204, role.text);
  t.is((await api(b, 'POST', 'sys/mounts/pki-rsa', { body: { type: 'pki' } })).status, 204);
  const gen = (extra: Record<string, unknown>) => api(b, 'POST', 'pki-rsa/root/generate/internal', { body: { common_name: 'RSA root', key_type: 'rsa', key_bits: 2048, ttl: '24h', ...extra } });
  refused(t, await gen({ signature_bits: 384 }), 'signature_bits', /SHA-384 .*not supported/);
  refused(t, await gen({ signature_bits: '512' }), 'signature_bits', /SHA-512/);
  refused(t, await gen({ signature_bits: 7 }), 'signature_bits', /unsupported hash signature algorithm: 7/);
  refused(t, await gen({ use_pss: 'true' }), 'use_pss', /PSS/);
  const rsa = await gen({ signature_bits: 256, use_pss: false });
  t.is(rsa.status, 200, rsa.text);
  t.deepEqual(warningsOf(rsa), []);
  refused(t, await api(b, 'POST', 'pki-rsa/roles/r', { body: { allowed_domains: 'example.com', key_type: 'rsa', signature_bits: 384 } }), 'signature_bits', /SHA-384/);
  refused(t, await api(b, 'POST', 'pki-rsa/intermediate/generate/internal', { body: { common_name: 'int', key_type: 'rsa', use_pss: true } }), 'use_pss', /PSS/);
});
