// jwt auth method, end to end against a real broker: PEM keys (ES256 and RS256) and a JWKS served from a local
// HTTP server; every refused JWT gets the same 400, and refused JWTs never lock anyone out.
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';
import { createTestPki } from './helpers/test-pki.ts';

interface KeyPair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  alg: string;
}

let b: Broker;
let jwks: http.Server;
let jwksUrl: string;
let es: KeyPair;
let rs: KeyPair;
let foreign: KeyPair;
let jwksKey: KeyPair;
const ISSUER = 'https://issuer.example.test';
const INVALID = { errors: ['invalid credentials'] };
const issuedJwts: string[] = [];

const now = (): number => Math.floor(Date.now() / 1000);
const dataOf = <T>(json: unknown): T => (json as { data: T }).data;
const authOf = (json: unknown): { client_token: string; policies: string[] } =>
  (json as { auth: { client_token: string; policies: string[] } }).auth;

async function pair(alg: string): Promise<KeyPair> {
  return { ...(await generateKeyPair(alg, { extractable: true })), alg };
}

async function sign(claims: JWTPayload, key: KeyPair = es, header: Record<string, string> = {}): Promise<string> {
  const jwt = await new SignJWT(claims).setProtectedHeader({ alg: key.alg, ...header }).sign(key.privateKey);
  issuedJwts.push(jwt);
  return jwt;
}

/** Claims that pass the "app" role, for subject `sub`. */
const good = (sub: string, extra: JWTPayload = {}): JWTPayload => ({
  iss: ISSUER,
  sub,
  aud: ['sealbox', 'other'],
  iat: now(),
  nbf: now() - 5,
  exp: now() + 300,
  team: 'blue',
  email: `${sub}@example.test`,
  ...extra,
});

const login = (jwt: string, role = 'app', mount = 'jwt') => api(b, 'POST', `auth/${mount}/login`, { token: null, body: { role, jwt } });

test.before(async () => {
  [es, rs, foreign, jwksKey] = await Promise.all([pair('ES256'), pair('RS256'), pair('ES256'), pair('ES256')]);
  const jwk = { ...(await exportJWK(jwksKey.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  jwks = http.createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;

  b = await startApp();
  for (const path of ['jwt', 'jwks']) {
    const r = await api(b, 'POST', `sys/auth/${path}`, { body: { type: 'jwt' } });
    if (r.status !== 204 && r.status !== 200) throw new Error(`enabling jwt failed: ${r.status} ${r.text}`);
  }
});
test.after.always(async () => {
  await b?.stop();
  jwks?.close();
});

test.serial('config needs exactly one key source and refuses keys that are not public keys', async (t) => {
  t.is((await api(b, 'GET', 'auth/jwt/config')).status, 404);
  const none = await api(b, 'POST', 'auth/jwt/config', { body: { bound_issuer: ISSUER } });
  t.is(none.status, 400);
  t.deepEqual(none.json, { errors: ["exactly one of 'jwt_validation_pubkeys' or 'jwks_url' must be set"] });
  const both = await api(b, 'POST', 'auth/jwt/config', { body: { jwt_validation_pubkeys: [await exportSPKI(es.publicKey)], jwks_url: jwksUrl } });
  t.is(both.status, 400);

  const notPem = await api(b, 'POST', 'auth/jwt/config', { body: { jwt_validation_pubkeys: ['hello'] } });
  t.is(notPem.status, 400);
  t.regex((notPem.json as { errors: string[] }).errors[0] ?? '', /jwt_validation_pubkeys\[0\]: not a PEM-encoded public key/);
  const privatePem = await exportPKCS8(es.privateKey);
  const priv = await api(b, 'POST', 'auth/jwt/config', { body: { jwt_validation_pubkeys: [privatePem] } });
  t.is(priv.status, 400);
  t.false(priv.text.includes(privatePem.split('\n')[1] ?? 'x'), 'the private key is not echoed');

  const badAlg = await api(b, 'POST', 'auth/jwt/config', { body: { jwt_validation_pubkeys: [await exportSPKI(es.publicKey)], jwt_supported_algs: ['HS256'] } });
  t.is(badAlg.status, 400);
  const oidc = await api(b, 'POST', 'auth/jwt/config', { body: { oidc_discovery_url: 'https://accounts.example.test' } });
  t.is(oidc.status, 400);
  t.is((await api(b, 'GET', 'auth/jwt/config')).status, 404, 'nothing was stored by the refused writes');
});

test.serial('config and role round-trip with Vault field names', async (t) => {
  const pems = [await exportSPKI(es.publicKey), await exportSPKI(rs.publicKey)];
  t.is((await api(b, 'POST', 'auth/jwt/config', { body: { jwt_validation_pubkeys: pems, bound_issuer: ISSUER } })).status, 204);
  const cfg = dataOf<Record<string, unknown>>((await api(b, 'GET', 'auth/jwt/config')).json);
  t.deepEqual(cfg.jwt_validation_pubkeys, pems.map((p) => p.trim()));
  t.is(cfg.bound_issuer, ISSUER);
  t.is(cfg.jwks_url, '');

  const role = {
    role_type: 'jwt',
    user_claim: 'sub',
    bound_audiences: ['sealbox'],
    bound_claims: { team: ['blue', 'green'] },
    claim_mappings: { email: 'email', team: 'team' },
    token_policies: 'app-read,kv-writer',
    token_ttl: '1h',
    token_max_ttl: '2h',
  };
  t.is((await api(b, 'POST', 'auth/jwt/role/app', { body: role })).status, 204);
  const read = dataOf<Record<string, unknown>>((await api(b, 'GET', 'auth/jwt/role/app')).json);
  t.like(read, {
    role_type: 'jwt',
    user_claim: 'sub',
    bound_audiences: ['sealbox'],
    bound_claims: { team: ['blue', 'green'] },
    bound_claims_type: 'string',
    claim_mappings: { email: 'email', team: 'team' },
    token_policies: ['app-read', 'kv-writer'],
    token_ttl: 3600,
    token_max_ttl: 7200,
    clock_skew_leeway: 60,
  });
  const list = await api(b, 'GET', 'auth/jwt/role?list=true');
  t.deepEqual(dataOf<{ keys: string[] }>(list.json).keys, ['app']);
  t.is((await api(b, 'GET', 'auth/jwt/role/missing')).status, 404);
});

test.serial('role writes are checked as Vault checks them', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ bound_audiences: ['x'] }, /user claim must be defined/],
    [{ user_claim: 'sub' }, /at least one bound constraint/],
    [{ user_claim: 'sub', bound_subject: 'a', role_type: 'oidc' }, /role_type/],
    [{ user_claim: 'sub', bound_subject: 'a', claim_mappings: { x: 'role' } }, /reserved/],
    [{ user_claim: 'sub', bound_subject: 'a', claim_mappings: { x: 'k', y: 'k' } }, /multiple claims/],
    [{ user_claim: 'sub', bound_claims_type: 'glob', bound_claims: { n: 5 } }, /must be a string/],
    [{ user_claim: 'sub', bound_subject: 'a', token_policies: ['root'] }, /root policy/],
    [{ user_claim: 'sub', bound_subject: 'a', token_ttl: '2h', token_max_ttl: '1h' }, /ttl should not be greater than max ttl/],
    [{ user_claim: 'sub', bound_subject: 'a', token_ttl: 'soon' }, /token_ttl/],
  ];
  for (const [body, message] of cases) {
    const r = await api(b, 'POST', 'auth/jwt/role/bad', { body });
    t.is(r.status, 400, JSON.stringify(body));
    t.regex((r.json as { errors: string[] }).errors.join(' '), message);
  }
  t.is((await api(b, 'GET', 'auth/jwt/role/bad')).status, 404);
  t.is((await api(b, 'POST', 'auth/jwt/role/a%20b', { body: { user_claim: 'sub', bound_subject: 'a' } })).status, 400);
});

test.serial('a valid ES256 or RS256 JWT logs in; the token carries policies, display name and claim metadata', async (t) => {
  const r = await login(await sign(good('alice')));
  t.is(r.status, 200, r.text);
  t.deepEqual([...authOf(r.json).policies].sort(), ['app-read', 'default', 'kv-writer']);
  const self = await api(b, 'GET', 'auth/token/lookup-self', { token: authOf(r.json).client_token });
  const d = dataOf<{ display_name: string; meta: Record<string, string>; policies: string[]; ttl: number; path: string }>(self.json);
  t.is(d.display_name, 'jwt-alice');
  t.deepEqual(d.meta, { role: 'app', email: 'alice@example.test', team: 'blue' });
  t.deepEqual([...d.policies].sort(), ['app-read', 'default', 'kv-writer']);
  t.true(d.ttl > 3500 && d.ttl <= 3600, `ttl ${d.ttl}`);
  t.is(d.path, 'auth/jwt/login');

  // node-vault's jwtLogin, an RSA key and a single-string aud.
  const v = vaultClient(b, '');
  const res = await v.jwtLogin({ role: 'app', jwt: await sign(good('bob', { aud: 'sealbox', team: 'green' }), rs) });
  t.truthy(res.auth?.client_token);
  t.is(v.token, res.auth?.client_token ?? '');
});

test.serial('forged, expired, not-yet-valid, wrong-audience, wrong-issuer, unbound and garbage JWTs all get the same 400', async (t) => {
  const cases: [string, string, string?][] = [
    ['signed by another key', await sign(good('f1'), foreign)],
    ['expired', await sign(good('f2', { iat: now() - 3600, nbf: now() - 3600, exp: now() - 120 }))],
    ['not yet valid', await sign(good('f3', { nbf: now() + 600, exp: now() + 900 }))],
    ['issued in the future', await sign(good('f4', { iat: now() + 600 }))],
    ['wrong audience', await sign(good('f5', { aud: 'someone-else' }))],
    ['no audience', await sign(good('f6', { aud: undefined }))],
    ['wrong issuer', await sign(good('f7', { iss: 'https://evil.example.test' }))],
    ['unbound claim value', await sign(good('f8', { team: 'red' }))],
    ['missing bound claim', await sign(good('f9', { team: undefined }))],
    ['missing user claim', await sign(good('f10', { sub: undefined }))],
    ['no exp, nbf or iat', await sign(good('f11', { iat: undefined, nbf: undefined, exp: undefined }))],
    ['exp not a number', await sign(good('f12', { exp: 'tomorrow' as unknown as number }))],
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(good('f13'))).toString('base64url')}.`],
    ['garbage', 'not-a-jwt'],
    ['three garbage parts', 'a.b.c'],
    ['oversize', await sign(good('f14', { pad: 'x'.repeat(17 * 1024) }))],
    ['unknown role', await sign(good('f15')), 'nope'],
    ['invalid role name', await sign(good('f16')), '../app'],
  ];
  for (const [what, jwt, role] of cases) {
    const r = await login(jwt, role);
    t.is(r.status, 400, what);
    t.deepEqual(r.json, INVALID, what);
  }
  t.deepEqual((await api(b, 'POST', 'auth/jwt/login', { token: null, body: { role: 'app' } })).json, { errors: ['missing jwt'] });
  t.is((await api(b, 'POST', 'auth/jwt/login', { token: null, body: { role: 'app', jwt: 42 } })).status, 400);
});

test.serial('a token with an aud claim is refused by a role without bound_audiences; bound_subject is enforced', async (t) => {
  t.is((await api(b, 'POST', 'auth/jwt/role/subject', { body: { user_claim: 'email', bound_subject: 'svc-1', token_policies: ['s'] } })).status, 204);
  t.deepEqual((await login(await sign(good('svc-1')), 'subject')).json, INVALID, 'aud present, none bound');
  t.is((await login(await sign(good('svc-1', { aud: undefined })), 'subject')).status, 200);
  t.deepEqual((await login(await sign(good('svc-2', { aud: undefined })), 'subject')).json, INVALID, 'other subject');
  const r = await login(await sign(good('svc-1', { aud: undefined })), 'subject');
  const self = await api(b, 'GET', 'auth/token/lookup-self', { token: authOf(r.json).client_token });
  t.is(dataOf<{ display_name: string }>(self.json).display_name, 'jwt-svc-1@example.test');
});

test.serial('glob bound claims and JSON-pointer claims', async (t) => {
  const body = { user_claim: '/user/name', user_claim_json_pointer: true, bound_claims_type: 'glob', bound_claims: { '/ci/project': ['org/*', 'x*y*z'] }, claim_mappings: { '/ci/ref': 'ref' } };
  t.is((await api(b, 'POST', 'auth/jwt/role/ci', { body })).status, 204);
  const claims = (project: string): JWTPayload => ({ iss: ISSUER, exp: now() + 60, user: { name: 'builder' }, ci: { project, ref: 'main' } });
  const ok = await login(await sign(claims('org/web')), 'ci');
  t.is(ok.status, 200, ok.text);
  const self = await api(b, 'GET', 'auth/token/lookup-self', { token: authOf(ok.json).client_token });
  t.deepEqual(dataOf<{ meta: Record<string, string> }>(self.json).meta, { role: 'ci', ref: 'main' });
  t.is((await login(await sign(claims('xAAyBBz')), 'ci')).status, 200);
  const listClaim = { iss: ISSUER, exp: now() + 60, user: { name: 'builder' }, ci: { project: ['nope', 'org/api'] } };
  t.is((await login(await sign(listClaim), 'ci')).status, 200, 'a list claim matches when one of its values does');
  t.deepEqual((await login(await sign(claims('other/web')), 'ci')).json, INVALID);
  t.deepEqual((await login(await sign(claims('xyzq')), 'ci')).json, INVALID);
});

test.serial('no lockout for JWT logins (as in Vault): forged or stale tokens cannot lock out a real identity', async (t) => {
  for (let i = 0; i < 6; i++) t.deepEqual((await login(await sign(good('dave'), foreign))).json, INVALID);
  t.is((await login(await sign(good('dave')))).status, 200);
  // A workload retrying a stale token keeps working once it has a fresh one.
  for (let i = 0; i < 6; i++) t.deepEqual((await login(await sign(good('erin', { exp: now() - 600 })))).json, INVALID);
  t.is((await login(await sign(good('erin')))).status, 200);
});

test.serial('JWKS: keys are fetched from jwks_url, and an unreachable URL is refused at config time', async (t) => {
  const unreachable = await api(b, 'POST', 'auth/jwks/config', { body: { jwks_url: 'http://127.0.0.1:1/jwks.json' } });
  t.is(unreachable.status, 400);
  t.regex((unreachable.json as { errors: string[] }).errors[0] ?? '', /^error checking jwks_url: /);
  t.is((await api(b, 'POST', 'auth/jwks/config', { body: { jwks_url: 'file:///etc/passwd' } })).status, 400);

  t.is((await api(b, 'POST', 'auth/jwks/config', { body: { jwks_url: jwksUrl, bound_issuer: ISSUER, jwt_supported_algs: ['ES256'] } })).status, 204);
  t.is((await api(b, 'POST', 'auth/jwks/role/svc', { body: { user_claim: 'sub', bound_audiences: 'sealbox', token_policies: ['svc'] } })).status, 204);
  const ok = await login(await sign(good('jwks-user'), jwksKey, { kid: 'k1' }), 'svc', 'jwks');
  t.is(ok.status, 200, ok.text);
  t.deepEqual([...authOf(ok.json).policies].sort(), ['default', 'svc']);
  t.is((await login(await sign(good('jwks-user2'), jwksKey), 'svc', 'jwks')).status, 200, 'no kid: the only EC key is used');
  t.deepEqual((await login(await sign(good('jwks-user3'), es, { kid: 'k1' }), 'svc', 'jwks')).json, INVALID, 'right kid, wrong key');
  t.deepEqual((await login(await sign(good('jwks-user4'), rs), 'svc', 'jwks')).json, INVALID, 'algorithm not allowed');
});

test.serial('JWKS over HTTPS: jwks_ca_pem is the trust anchor for the JWKS endpoint', async (t) => {
  const pki = createTestPki();
  const ca = pki.ca('jwks-ca');
  const leaf = pki.issue('jwks-server', { ca: 'jwks-ca', subject: '/CN=127.0.0.1', ext: ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth'] });
  const jwk = { ...(await exportJWK(jwksKey.publicKey)), kid: 'k1' };
  const server = https.createServer({ cert: leaf.cert, key: leaf.key }, (_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;

  const untrusted = await api(b, 'POST', 'auth/jwks/config', { body: { jwks_url: url } });
  t.is(untrusted.status, 400, 'the test CA is not a system CA');
  t.is((await api(b, 'POST', 'auth/jwks/config', { body: { jwks_url: url, jwks_ca_pem: 'nope' } })).status, 400);
  const w = await api(b, 'POST', 'auth/jwks/config', { body: { jwks_url: url, jwks_ca_pem: ca.cert, bound_issuer: ISSUER } });
  t.is(w.status, 204, w.text);
  t.is(dataOf<{ jwks_ca_pem: string }>((await api(b, 'GET', 'auth/jwks/config')).json).jwks_ca_pem, ca.cert.trim());
  const ok = await login(await sign(good('tls-user'), jwksKey, { kid: 'k1' }), 'svc', 'jwks');
  t.is(ok.status, 200, ok.text);
});

test.serial('no JWT reaches the broker logs', (t) => {
  const logs = b.logs();
  t.true(issuedJwts.length > 20);
  for (const jwt of issuedJwts) t.false(logs.includes(jwt.split('.')[2] ?? jwt));
});
