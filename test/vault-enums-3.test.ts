// Issue 15 item 7, third pass: the enum and format fields of the JWT and Kubernetes auth methods, checked against
// Vault's field definitions (hashicorp/vault-plugin-auth-jwt path_config.go and path_role.go,
// hashicorp/vault-plugin-auth-kubernetes path_config.go and path_role.go). What Vault accepts is accepted, string forms
// included; what it refuses gets one 400 naming the field once; what sealbox cannot honour (OIDC login, group aliases,
// namespace selectors) is refused with a 400 that says so, never stored and ignored. An in-process broker (PGlite).
import { randomUUID } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, type ApiResponse } from './helpers/broker.ts';

interface KeyPair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
  alg: string;
}

let b: Broker;
let es: KeyPair;
let rs: KeyPair;
const INVALID = { errors: ['invalid credentials'] };

const errorsOf = (r: ApiResponse): string[] => (r.json as { errors?: string[] } | undefined)?.errors ?? [];
const warningsOf = (r: ApiResponse): string[] => (r.json as { warnings?: string[] | null } | undefined)?.warnings ?? [];
const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;
const nowSeconds = (): number => Math.floor(b.clock.now().getTime() / 1000);

async function pair(alg: string): Promise<KeyPair> {
  return { ...(await generateKeyPair(alg, { extractable: true })), alg };
}
const sign = (claims: JWTPayload, key: KeyPair): Promise<string> => new SignJWT(claims).setProtectedHeader({ alg: key.alg }).sign(key.privateKey);
const login = (mount: string, role: string, jwt: string) => api(b, 'POST', `auth/${mount}/login`, { token: null, body: { role, jwt } });

function written(t: ExecutionContext, r: ApiResponse): void {
  t.true(r.status === 200 || r.status === 204, r.text);
  t.deepEqual(warningsOf(r), [], 'no unknown-field warnings');
}

/** A 400 whose one error starts with the field name, once. */
function refused(t: ExecutionContext, r: ApiResponse, field: string, re: RegExp): void {
  t.is(r.status, 400, r.text);
  const errors = errorsOf(r);
  t.is(errors.length, 1, r.text);
  const [e = ''] = errors;
  t.true(e.startsWith(`${field}: `), e);
  t.false(e.startsWith(`${field}: ${field}`), `the field is named once: ${e}`);
  t.regex(e, re);
}

test.before(async () => {
  [es, rs] = await Promise.all([pair('ES256'), pair('RS256')]);
  b = await startApp();
  for (const [path, type] of [['jwt', 'jwt'], ['kubernetes', 'kubernetes']]) {
    const r = await api(b, 'POST', `sys/auth/${path}`, { body: { type } });
    if (r.status !== 204 && r.status !== 200) throw new Error(`enabling ${type} failed: ${r.status} ${r.text}`);
  }
});
test.after.always(async () => {
  await b?.stop();
});

// ---- JWT: auth/<jwt>/config ----

test.serial('jwt config: the OIDC fields Terraform sends at their defaults are accepted; keys and algorithms as comma strings', async (t) => {
  const pubkeys = `${await exportSPKI(es.publicKey)},${await exportSPKI(rs.publicKey)}`;
  written(
    t,
    await api(b, 'POST', 'auth/jwt/config', {
      body: {
        jwt_validation_pubkeys: pubkeys,
        jwt_supported_algs: 'ES256, RS256',
        bound_issuer: 'https://issuer.example.test',
        default_role: '',
        oidc_discovery_url: '',
        oidc_discovery_ca_pem: '',
        oidc_client_id: '',
        oidc_client_secret: '',
        oidc_response_mode: '',
        oidc_response_types: [],
        provider_config: {},
        namespace_in_state: 'true',
        jwks_url: '',
        jwks_ca_pem: '',
        jwks_pairs: [],
        unsupported_critical_cert_extensions: '',
      },
    }),
  );
  const read = dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/jwt/config'));
  t.is((read.jwt_validation_pubkeys as string[]).length, 2, 'a comma string of PEMs is two keys');
  t.deepEqual(read.jwt_supported_algs, ['ES256', 'RS256']);
  t.like(read, { namespace_in_state: true, oidc_client_id: '', oidc_response_types: [], provider_config: {}, jwks_pairs: [], unsupported_critical_cert_extensions: [] });
  t.false('oidc_client_secret' in read, 'the client secret is never read back');
});

test.serial('jwt config: OIDC values, JWKS pairs, provider configs and unknown algorithms are refused, naming the field', async (t) => {
  const before = dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/jwt/config'));
  const base = { jwt_validation_pubkeys: [await exportSPKI(es.publicKey)] };
  const put = (extra: Record<string, unknown>) => api(b, 'POST', 'auth/jwt/config', { body: { ...base, ...extra } });
  refused(t, await put({ oidc_client_id: 'sealbox' }), 'oidc_client_id', /OIDC login is not supported/);
  refused(t, await put({ oidc_client_secret: 's3cret' }), 'oidc_client_secret', /OIDC login is not supported/);
  refused(t, await put({ oidc_discovery_ca_pem: '-----BEGIN CERTIFICATE-----' }), 'oidc_discovery_ca_pem', /OIDC login is not supported/);
  refused(t, await put({ oidc_response_types: 'code,id_token' }), 'oidc_response_types', /OIDC login is not supported/);
  refused(t, await put({ oidc_response_mode: 'form_post' }), 'oidc_response_mode', /OIDC login is not supported/);
  refused(t, await put({ oidc_response_mode: 'fragment' }), 'oidc_response_mode', /"query" or "form_post"/);
  refused(t, await put({ provider_config: { provider: 'azure' } }), 'provider_config', /OIDC login is not supported/);
  refused(t, await put({ jwks_pairs: [{ jwks_url: 'https://a.example.test/jwks', jwks_ca_pem: '' }] }), 'jwks_pairs', /jwks_url/);
  refused(t, await put({ unsupported_critical_cert_extensions: '2.5.29.99' }), 'unsupported_critical_cert_extensions', /not supported/);
  refused(t, await put({ jwt_supported_algs: 'RS256,none' }), 'jwt_supported_algs', /unsupported algorithm "none"/);
  refused(t, await put({ jwt_supported_algs: ['rs256'] }), 'jwt_supported_algs', /unsupported algorithm "rs256"/);
  refused(t, await put({ namespace_in_state: 'maybe' }), 'namespace_in_state', /boolean/);
  t.deepEqual(dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/jwt/config')), before, 'no refused write changed the config');
});

// ---- JWT: auth/<jwt>/role/:name ----

test.serial('jwt role: Vault string forms for audiences, claim mappings, signed leeways, booleans and token fields', async (t) => {
  written(
    t,
    await api(b, 'POST', 'auth/jwt/role/forms', {
      body: {
        role_type: 'jwt',
        user_claim: 'sub',
        user_claim_json_pointer: 'false',
        bound_audiences: 'sealbox, other',
        bound_claims_type: 'glob',
        bound_claims: { team: ['blue*'] },
        claim_mappings: ['team=team', 'email=mail'],
        clock_skew_leeway: '-1',
        expiration_leeway: '-1m',
        not_before_leeway: '2m30s',
        groups_claim: '',
        oidc_scopes: '',
        allowed_redirect_uris: [],
        verbose_oidc_logging: 'false',
        max_age: '0s',
        token_ttl: '1h',
        token_max_ttl: 7200,
        token_num_uses: '3',
        token_no_default_policy: 'true',
        token_policies: 'b,a',
        token_type: 'service',
        token_bound_cidrs: '',
      },
    }),
  );
  const read = dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/jwt/role/forms'));
  t.like(read, {
    role_type: 'jwt',
    user_claim_json_pointer: false,
    bound_audiences: ['sealbox', 'other'],
    bound_claims_type: 'glob',
    claim_mappings: { team: 'team', email: 'mail' },
    clock_skew_leeway: -1,
    expiration_leeway: -60,
    not_before_leeway: 150,
    groups_claim: '',
    oidc_scopes: [],
    allowed_redirect_uris: [],
    verbose_oidc_logging: false,
    max_age: 0,
    token_ttl: 3600,
    token_max_ttl: 7200,
    token_num_uses: 3,
    token_no_default_policy: true,
    token_policies: ['a', 'b'],
  });

  // TypeKVPairs also takes one "claim=key" string and weakly decodes object values; leeways truncate like Go's int().
  written(t, await api(b, 'POST', 'auth/jwt/role/forms2', { body: { user_claim: 'sub', bound_subject: 's', claim_mappings: 'team=group', clock_skew_leeway: 30.9 } }));
  t.like(dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/jwt/role/forms2')), { role_type: 'jwt', claim_mappings: { team: 'group' }, clock_skew_leeway: 30 });
  written(t, await api(b, 'POST', 'auth/jwt/role/forms2', { body: { claim_mappings: { level: 3 } } }));
  t.like(dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/jwt/role/forms2')), { claim_mappings: { level: '3' } });
});

test.serial('jwt role: role_type "oidc" and OIDC-only or identity-only values are refused with a 400 that says so; bad values name the field', async (t) => {
  const base = { user_claim: 'sub', bound_subject: 'svc' };
  const put = (extra: Record<string, unknown>) => api(b, 'POST', 'auth/jwt/role/refused', { body: { ...base, ...extra } });
  refused(t, await put({ role_type: 'oidc' }), 'role_type', /"oidc" roles \(browser login\) are not supported/);
  refused(t, await put({ role_type: 'saml' }), 'role_type', /must be "jwt" or "oidc"/);
  refused(t, await put({ allowed_redirect_uris: ['https://app.example.test/callback'] }), 'allowed_redirect_uris', /only used by OIDC roles/);
  refused(t, await put({ oidc_scopes: 'openid,profile' }), 'oidc_scopes', /only used by OIDC roles/);
  refused(t, await put({ verbose_oidc_logging: 'true' }), 'verbose_oidc_logging', /OIDC/);
  refused(t, await put({ max_age: '1h' }), 'max_age', /only used by OIDC roles/);
  refused(t, await put({ max_age: 'soon' }), 'max_age', /not a duration/);
  refused(t, await put({ groups_claim: 'groups' }), 'groups_claim', /identity store/);
  refused(t, await put({ bound_claims_type: 'regex' }), 'bound_claims_type', /must be "string" or "glob"/);
  refused(t, await put({ bound_claims_type: '' }), 'bound_claims_type', /must be "string" or "glob"/);
  refused(t, await put({ claim_mappings: ['novalue'] }), 'claim_mappings', /claim=key/);
  refused(t, await put({ claim_mappings: { team: '' } }), 'claim_mappings', /1 to 128 characters/);
  refused(t, await put({ expiration_leeway: 'soon' }), 'expiration_leeway', /not a duration/);
  refused(t, await put({ not_before_leeway: '-soon' }), 'not_before_leeway', /not a duration/);
  refused(t, await put({ clock_skew_leeway: true }), 'clock_skew_leeway', /not a duration/);
  refused(t, await put({ user_claim_json_pointer: 'maybe' }), 'user_claim_json_pointer', /boolean/);
  refused(t, await put({ bound_audiences: [1, { a: 1 }] }), 'bound_audiences', /list of strings/);
  refused(t, await put({ token_type: 'batch' }), 'token_type', /"default" and "service"/);
  refused(t, await put({ token_num_uses: -1 }), 'token_num_uses', /non-negative integer/);
  refused(t, await put({ token_ttl: 'soon' }), 'token_ttl', /not a duration/);
  refused(t, await put({ token_bound_cidrs: '10.0.0.0/8' }), 'token_bound_cidrs', /not supported/);
  t.is((await api(b, 'GET', 'auth/jwt/role/refused')).status, 404, 'nothing was stored');
});

test.serial('jwt login: user_claim is a top-level claim unless user_claim_json_pointer is set; a -1 clock skew leeway disables the skew', async (t) => {
  const claims = (extra: JWTPayload = {}): JWTPayload => ({ iss: 'https://issuer.example.test', sub: 'svc', iat: nowSeconds() - 30, exp: nowSeconds() + 300, user: { name: 'builder' }, ...extra });
  written(t, await api(b, 'POST', 'auth/jwt/role/plain', { body: { role_type: 'jwt', user_claim: '/user/name', bound_subject: 'svc' } }));
  written(t, await api(b, 'POST', 'auth/jwt/role/pointer', { body: { role_type: 'jwt', user_claim: '/user/name', user_claim_json_pointer: true, bound_subject: 'svc' } }));
  t.like(dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/jwt/role/pointer')), { user_claim_json_pointer: true });
  t.deepEqual((await login('jwt', 'plain', await sign(claims(), es))).json, INVALID, 'without the flag "/user/name" is a claim of that name');
  const literal = await login('jwt', 'plain', await sign(claims({ '/user/name': 'literal' }), es));
  t.is(literal.status, 200, literal.text);
  const ok = await login('jwt', 'pointer', await sign(claims(), rs));
  t.is(ok.status, 200, ok.text);
  const self = await api(b, 'GET', 'auth/token/lookup-self', { token: (ok.json as { auth: { client_token: string } }).auth.client_token });
  t.is(dataOf<{ display_name: string }>(self).display_name, 'jwt-builder');

  // Expired 10 s ago: inside the default 60 s skew, outside a disabled one.
  written(t, await api(b, 'POST', 'auth/jwt/role/strict', { body: { role_type: 'jwt', user_claim: 'sub', bound_subject: 'svc', clock_skew_leeway: -1 } }));
  const stale = await sign(claims({ exp: nowSeconds() - 10 }), es);
  const skewed = await login('jwt', 'pointer', stale);
  t.is(skewed.status, 200, `the default skew accepts it: ${skewed.text}`);
  t.deepEqual((await login('jwt', 'strict', stale)).json, INVALID);
});

// ---- Kubernetes: auth/<k8s>/config and role/:name ----

const saClaims = (namespace: string, name: string): JWTPayload => ({
  iss: 'https://kubernetes.default.svc.cluster.local',
  sub: `system:serviceaccount:${namespace}:${name}`,
  aud: ['vault'],
  iat: nowSeconds(),
  nbf: nowSeconds(),
  exp: nowSeconds() + 600,
  'kubernetes.io': { namespace, serviceaccount: { name, uid: randomUUID() } },
});

test.serial('kubernetes config: pem_keys as a comma string, boolean strings for disable_iss_validation and disable_local_ca_jwt', async (t) => {
  const pems = `${await exportSPKI(rs.publicKey)},${await exportSPKI(es.publicKey)}`;
  written(
    t,
    await api(b, 'POST', 'auth/kubernetes/config', {
      body: {
        pem_keys: pems,
        issuer: 'https://kubernetes.default.svc.cluster.local',
        disable_iss_validation: 'false',
        disable_local_ca_jwt: 'true',
        use_annotations_as_alias_metadata: 'false',
        kubernetes_ca_cert: '',
        token_reviewer_jwt: '',
      },
    }),
  );
  const read = dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/kubernetes/config'));
  t.is((read.pem_keys as string[]).length, 2, 'a comma string of PEMs is two keys');
  t.like(read, { issuer: 'https://kubernetes.default.svc.cluster.local', disable_iss_validation: false, disable_local_ca_jwt: true, use_annotations_as_alias_metadata: false });

  const before = read;
  const put = (extra: Record<string, unknown>) => api(b, 'POST', 'auth/kubernetes/config', { body: { pem_keys: pems, ...extra } });
  refused(t, await put({ disable_iss_validation: 'maybe' }), 'disable_iss_validation', /boolean/);
  refused(t, await put({ disable_local_ca_jwt: 2 }), 'disable_local_ca_jwt', /boolean/);
  refused(t, await put({ use_annotations_as_alias_metadata: 'true' }), 'use_annotations_as_alias_metadata', /annotations/);
  refused(t, await put({ issuer: { url: 'x' } }), 'issuer', /string/);
  const badPem = await put({ pem_keys: 'not a key,another' });
  t.is(badPem.status, 400, badPem.text);
  t.regex(errorsOf(badPem).join(' '), /^pem_keys\[0\]: /);
  t.deepEqual(dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/kubernetes/config')), before, 'no refused write changed the config');
});

test.serial('kubernetes role: names and namespaces as comma strings, alias_name_source "" keeps the source, token fields as strings; the second comma-string key verifies', async (t) => {
  written(
    t,
    await api(b, 'POST', 'auth/kubernetes/role/web', {
      body: {
        bound_service_account_names: 'web, api',
        bound_service_account_namespaces: 'prod',
        bound_service_account_namespace_selector: '',
        alias_name_source: '',
        audience: 'vault',
        token_ttl: '30m',
        token_max_ttl: '3600',
        token_policies: 'b,a',
        token_num_uses: '2',
        token_no_default_policy: 'false',
        token_type: 'default-service',
        token_bound_cidrs: [],
      },
    }),
  );
  const read = dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/kubernetes/role/web'));
  t.like(read, {
    bound_service_account_names: ['web', 'api'],
    bound_service_account_namespaces: ['prod'],
    bound_service_account_namespace_selector: '',
    alias_name_source: 'serviceaccount_uid',
    audience: 'vault',
    token_ttl: 1800,
    token_max_ttl: 3600,
    token_policies: ['a', 'b'],
    token_num_uses: 2,
    token_no_default_policy: false,
    token_type: 'default',
  });
  written(t, await api(b, 'POST', 'auth/kubernetes/role/web', { body: { alias_name_source: 'serviceaccount_name' } }));
  written(t, await api(b, 'POST', 'auth/kubernetes/role/web', { body: { alias_name_source: '' } }));
  t.like(dataOf<Record<string, unknown>>(await api(b, 'GET', 'auth/kubernetes/role/web')), { alias_name_source: 'serviceaccount_name' });

  const r = await login('kubernetes', 'web', await sign(saClaims('prod', 'api'), es));
  t.is(r.status, 200, r.text);
  t.deepEqual((await login('kubernetes', 'web', await sign(saClaims('dev', 'api'), es))).json, INVALID, 'the namespace binding holds');
});

test.serial('kubernetes role: namespace selectors, "*" mixed with values and unknown alias sources are refused, naming the field', async (t) => {
  const base = { bound_service_account_names: ['web'], bound_service_account_namespaces: ['prod'] };
  const put = (extra: Record<string, unknown>) => api(b, 'POST', 'auth/kubernetes/role/refused', { body: { ...base, ...extra } });
  refused(t, await put({ bound_service_account_namespace_selector: '{"matchLabels":{"team":"blue"}}' }), 'bound_service_account_namespace_selector', /not supported/);
  refused(t, await put({ bound_service_account_names: '*,web' }), 'bound_service_account_names', /can not mix "\*" with values/);
  refused(t, await put({ bound_service_account_namespaces: ['prod', '*'] }), 'bound_service_account_namespaces', /can not mix "\*" with values/);
  refused(t, await put({ bound_service_account_names: [7, { a: 1 }] }), 'bound_service_account_names', /list of strings/);
  refused(t, await put({ alias_name_source: 'serviceaccount_email' }), 'alias_name_source', /"serviceaccount_uid" or "serviceaccount_name"/);
  refused(t, await put({ audience: ['a', 'b'] }), 'audience', /string/);
  refused(t, await put({ token_type: 'default-batch' }), 'token_type', /"default" and "service"/);
  refused(t, await put({ token_num_uses: 'many' }), 'token_num_uses', /non-negative integer/);
  refused(t, await put({ token_no_default_policy: 'yes' }), 'token_no_default_policy', /boolean/);
  refused(t, await put({ token_bound_cidrs: ['10.0.0.0/8'] }), 'token_bound_cidrs', /not supported/);
  t.is((await api(b, 'GET', 'auth/kubernetes/role/refused')).status, 404, 'nothing was stored');
});
