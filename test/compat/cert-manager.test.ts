// cert-manager's Vault issuer: its requests, in its order, through HashiCorp's Go client.
// Source (cert-manager/cert-manager @ 2d0d7f7): internal/vault/vault.go — New (namespaced client for auth and signing,
// a namespace-less clientSys for sys/health), setToken (tokenSecretRef, appRole, clientCertificate, kubernetes),
// requestTokenWithAppRoleRef (POST /v1/auth/<path|approle>/login), requestTokenWithKubernetesAuth
// (POST /v1/auth/kubernetes/login {role, jwt}, JWT audience vault://<namespace>/<issuer>), Sign (POST /v1/<spec.path>
// with every value a string, then certutil.ParsePKIMap of data.certificate, data.issuing_ca, data.ca_chain), and
// IsVaultInitializedAndUnsealed (GET /v1/sys/health; 200/429/472/473 healthy).
// Vault's Go client sets no Content-Type and json.Encoder ends the body with a newline: replay.ts sends exactly that.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { startBroker, type Broker } from '../helpers/broker.ts';
import { clusterKey, setupAppRole, setupKubernetesAuth, setupPki, setupPolicy, tokenRequest, type ClusterKey, type PkiHierarchy } from './setup.ts';
import { authOf, dataOf, goClient, goDuration, goPathJoin, need, sequence, type Checks, type GoClient } from './replay.ts';

let b: Broker;
let key: ClusterKey;
let pki: PkiHierarchy;
let csrPem: string;
const ISSUER_AUDIENCE = 'vault://cert-manager/vault-issuer';

test.before(async () => {
  key = await clusterKey();
  b = await startBroker();
  pki = await setupPki(b, 'pki', 'pki_int', 'web', {
    allowed_domains: ['example.com'],
    allow_subdomains: true,
    allow_ip_sans: true,
    allowed_uri_sans: ['spiffe://cluster.local/*'],
    key_type: 'any',
    max_ttl: '2200h',
  });
  await setupPolicy(b, 'cert-manager', { 'pki_int/sign/web': ['update'], 'pki_int/sign-verbatim/web': ['update'], 'pki_int/sign-verbatim': ['update'] });
  await setupKubernetesAuth(b, key, 'kubernetes', { name: 'issuer', namespace: 'cert-manager', serviceAccount: 'vault-issuer', policies: ['cert-manager'], audience: ISSUER_AUDIENCE });
  // The CertificateRequest's CSR, as cert-manager builds it from a Certificate with dnsNames, ipAddresses and uris.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'compat-cm-'));
  execFileSync('openssl', [
    'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'csr.pem'),
    '-subj', '/CN=web.example.com', '-addext', 'subjectAltName=DNS:web.example.com,DNS:www.example.com,IP:10.0.0.5,URI:spiffe://cluster.local/ns/app/sa/web',
  ], { stdio: 'ignore' });
  csrPem = fs.readFileSync(path.join(dir, 'csr.pem'), 'utf8');
  fs.rmSync(dir, { recursive: true, force: true });
});
test.after.always(async () => {
  await b?.stop();
});

/** Sign's parameters: map[string]string, so every value is a string. */
function signParameters(seconds: number): Record<string, string> {
  return {
    common_name: 'web.example.com',
    alt_names: 'web.example.com,www.example.com',
    ip_sans: '10.0.0.5',
    uri_sans: 'spiffe://cluster.local/ns/app/sa/web',
    ttl: goDuration(seconds),
    csr: csrPem,
    exclude_cn_from_sans: 'true',
  };
}

/** IsVaultInitializedAndUnsealed, through clientSys (never a namespace header, but the same token). */
async function health(c: Checks, sys: GoClient): Promise<void> {
  const r = await sys.request('GET', '/v1/sys/health');
  c.status(r, 200, 429, 472, 473);
}

/** Sign, then what extractCertificatesFromVaultCertificateSecret reads: the chain ca_chain + issuing_ca + certificate. */
async function sign(c: Checks, client: GoClient, specPath: string, seconds = 2160 * 3600): Promise<void> {
  const r = await client.request('POST', goPathJoin('/v1', specPath), { body: signParameters(seconds) });
  if (!c.status(r, 200)) return;
  const d = dataOf(r);
  const leaf = new X509Certificate(need(r, d.certificate, 'data.certificate'));
  const issuing = new X509Certificate(need(r, d.issuing_ca, 'data.issuing_ca'));
  c.true(Array.isArray(d.ca_chain), 'data.ca_chain is a list of PEM strings');
  const chain = (Array.isArray(d.ca_chain) ? d.ca_chain : []).map((p) => new X509Certificate(String(p)));
  c.true(leaf.verify(issuing.publicKey), 'the certificate is signed by issuing_ca');
  c.is(issuing.fingerprint256, new X509Certificate(pki.intermediatePem).fingerprint256, 'issuing_ca is the intermediate');
  c.true(chain.some((c) => c.fingerprint256 === issuing.fingerprint256), 'ca_chain holds the issuing CA');
  c.true(chain.some((c) => c.fingerprint256 === new X509Certificate(pki.rootPem).fingerprint256), 'ca_chain reaches the root');
  c.is(leaf.subject, 'CN=web.example.com');
  for (const san of ['DNS:web.example.com', 'DNS:www.example.com', 'IP Address:10.0.0.5', 'URI:spiffe://cluster.local/ns/app/sa/web']) {
    c.true((leaf.subjectAltName ?? '').includes(san), `${san} in ${leaf.subjectAltName ?? ''}`);
  }
  const lifetime = (Date.parse(leaf.validTo) - Date.now()) / 1000;
  c.true(Math.abs(lifetime - seconds) < 120, `ttl "${goDuration(seconds)}" gives a certificate valid for ${seconds} s (got ${Math.round(lifetime)})`);
}

test.serial('tokenSecretRef issuer: GET sys/health, then POST pki_int/sign/web with all-string fields and a Go-duration ttl', (t) => sequence(t, async (c) => {
  const token = await setupToken();
  const client = goClient(b.address, { token });
  const sys = goClient(b.address, { token });
  await health(c, sys);
  await sign(c, client, 'pki_int/sign/web');
  // A Certificate with a 1h duration: ttl "1h0m0s".
  await sign(c, client, 'pki_int/sign/web', 3600);
}));

test.serial('appRole issuer: POST /v1/auth/approle/login {role_id, secret_id}, sys/health, then sign-verbatim/web', (t) => sequence(t, async (c) => {
  const { roleId, secretId } = await setupAppRole(b, 'cert-manager', ['cert-manager']);
  const client = goClient(b.address);
  // requestTokenWithAppRoleRef: map[string]string{role_id, secret_id}, POST /v1/auth/approle/login.
  const login = await client.request('POST', '/v1/auth/approle/login', { body: { role_id: roleId, secret_id: secretId } });
  c.status(login, 200);
  client.token = need(login, authOf(login).client_token, 'auth.client_token');
  await health(c, goClient(b.address, { token: client.token }));
  await sign(c, client, 'pki_int/sign/web');
  // spec.path may name sign-verbatim (with or without a role).
  await sign(c, client, 'pki_int/sign-verbatim/web');
}));

test.serial('kubernetes issuer: TokenRequest JWT (audience vault://<ns>/<issuer>, 600 s), POST /v1/auth/kubernetes/login {role, jwt}, sign', (t) => sequence(t, async (c) => {
  const client = goClient(b.address);
  const jwt = await tokenRequest(key, { namespace: 'cert-manager', serviceAccount: 'vault-issuer', audiences: [ISSUER_AUDIENCE], expirationSeconds: 600 });
  const login = await client.request('POST', '/v1/auth/kubernetes/login', { body: { role: 'issuer', jwt } });
  c.status(login, 200);
  client.token = need(login, authOf(login).client_token, 'auth.client_token');
  await health(c, goClient(b.address, { token: client.token }));
  await sign(c, client, 'pki_int/sign/web');
  // A JWT for another audience is refused (the role pins cert-manager's audience).
  const other = await tokenRequest(key, { namespace: 'cert-manager', serviceAccount: 'vault-issuer', audiences: ['vault'], expirationSeconds: 600 });
  c.status(await goClient(b.address).request('POST', '/v1/auth/kubernetes/login', { body: { role: 'issuer', jwt: other } }), 400, 403);
}));

test.serial('issuer with spec.vault.namespace: "root" is ignored; another namespace is a clear 400; sys/health never carries it', (t) => sequence(t, async (c) => {
  const token = await setupToken();
  const rootNs = goClient(b.address, { token, namespace: 'root' });
  await health(c, goClient(b.address, { token }));
  await sign(c, rootNs, 'pki_int/sign/web');

  const teamNs = goClient(b.address, { token, namespace: 'team-a' });
  const refused = await teamNs.request('POST', '/v1/pki_int/sign/web', { body: signParameters(3600) });
  c.status(refused, 400);
  c.regex(((refused.json as { errors?: string[] } | undefined)?.errors ?? []).join(' '), /namespace/i, 'the error names namespaces');
  const loginRefused = await goClient(b.address, { namespace: 'team-a' }).request('POST', '/v1/auth/kubernetes/login', {
    body: { role: 'issuer', jwt: await tokenRequest(key, { namespace: 'cert-manager', serviceAccount: 'vault-issuer', audiences: [ISSUER_AUDIENCE], expirationSeconds: 600 }) },
  });
  c.status(loginRefused, 400);
}));

/** A token with the cert-manager policy, as kept in the issuer's tokenSecretRef Secret. */
async function setupToken(): Promise<string> {
  const r = await goClient(b.address, { token: b.rootToken }).request('POST', '/v1/auth/token/create', { body: { policies: ['cert-manager'], ttl: '1h' } });
  const token = authOf(r).client_token;
  if (typeof token !== 'string') throw new Error(`token create failed: ${r.status} ${r.text}`);
  return token;
}
