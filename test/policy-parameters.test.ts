// Policy parameter constraints (allowed/denied/required_parameters) and wrapping TTL bounds, enforced through a real
// broker and a real client (node-vault), as Vault's acl.go enforces them.
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';

let b: Broker;
test.before(async () => {
  b = await startApp();
});
test.after.always(async () => {
  await b?.stop();
});

const tokenWith = async (policies: string[]): Promise<string> => {
  const r = await api(b, 'POST', 'auth/token/create', { body: { policies } });
  if (r.status !== 200) throw new Error(`token create failed: ${r.status} ${r.text}`);
  return (r.json as { auth: { client_token: string } }).auth.client_token;
};

const POLICY = `
# Tokens may be minted only with the "app" or "app-*" policies, never "admin-app", with a display name, and no TTL override.
path "auth/token/create" {
  capabilities = ["update"]
  allowed_parameters = {
    "policies"     = [["app"], ["app-ro"]]
    "display_name" = []
    "meta"         = []
  }
  denied_parameters = {
    "ttl" = []
  }
  required_parameters = ["display_name"]
}
path "pki/roles/*" {
  capabilities = ["create", "update"]
  allowed_parameters {
    "allowed_domains" = ["example.com", "*.example.com"]
    "*"               = []
  }
  denied_parameters {
    "allow_any_name" = [true, "true"]
  }
}
path "secret/data/wrapped" {
  capabilities = ["read"]
  min_wrapping_ttl = "1m"
  max_wrapping_ttl = "1h"
}
`;

test.serial('a policy allowing only certain values refuses others with 403, through node-vault', async (t) => {
  const root = vaultClient(b);
  await root.addPolicy({ name: 'minter', rules: POLICY });
  t.true(((await root.getPolicy({ name: 'minter' })).data as { rules: string }).rules.includes('allowed_parameters'));
  await root.mount({ mount_point: 'pki', type: 'pki' });
  const minterToken = await tokenWith(['minter', 'app', 'app-ro']);
  const minter = vaultClient(b, minterToken);

  const created = await minter.tokenCreate({ policies: ['app'], display_name: 'svc', meta: { team: 'a' } });
  t.deepEqual(created.auth?.policies, ['app', 'default']);
  minter.token = minterToken; // node-vault's tokenCreate switched the client to the new token

  const refused = async (body: Record<string, unknown>, label: string): Promise<void> => {
    const r = await api(b, 'POST', 'auth/token/create', { token: minterToken, body });
    t.is(r.status, 403, label);
    t.deepEqual(r.json, { errors: ['permission denied'] }, label);
  };
  await refused({ policies: ['admin-app'], display_name: 'svc' }, 'a value not in the allowed list');
  await refused({ policies: ['app'] }, 'a required parameter is missing');
  await refused({ policies: ['app'], display_name: 'svc', ttl: '1h' }, 'a denied parameter (empty list: any value)');
  await refused({ policies: ['app'], display_name: 'svc', num_uses: 1 }, 'a parameter not in allowed_parameters');
  const viaClient = await t.throwsAsync(minter.tokenCreate({ policies: ['root'], display_name: 'x' }));
  t.regex(String(viaClient?.message), /permission denied/);
  minter.token = minterToken;

  // "*" allows any other name; a listed name keeps its values (globs); denied wins whatever allowed says.
  await minter.write('pki/roles/web', { allowed_domains: 'api.example.com', allow_subdomains: true, ttl: '30m', max_ttl: '1h' });
  const role = (await root.read('pki/roles/web')).data as { allowed_domains: string[] };
  t.deepEqual(role.allowed_domains, ['api.example.com']);
  for (const body of [{ allowed_domains: 'evil.com' }, { allowed_domains: 'example.com', allow_any_name: true }, { allow_any_name: 'true' }]) {
    const r = await api(b, 'POST', 'pki/roles/web2', { token: minterToken, body });
    t.is(r.status, 403, JSON.stringify(body));
  }
  t.is((await api(b, 'GET', 'pki/roles/web2')).status, 404, 'nothing was written');
});

test.serial('min/max_wrapping_ttl: an unwrapped request to such a path is refused, as in Vault', async (t) => {
  const root = vaultClient(b);
  await root.addPolicy({ name: 'wrapped-only', rules: POLICY });
  await root.write('secret/data/wrapped', { data: { v: 1 } });
  const tok = await tokenWith(['wrapped-only']);
  t.is((await api(b, 'GET', 'secret/data/wrapped', { token: tok })).status, 403);
});

test.serial('bad parameter constraints in a policy document are 400s that name the problem', async (t) => {
  for (const [policy, re] of [
    ['path "a" { allowed_parameters = "x" }', /allowed_parameters must be a map/],
    ['path "a" { min_wrapping_ttl = "1h" max_wrapping_ttl = "1m" }', /max_wrapping_ttl cannot be less than min_wrapping_ttl/],
    ['path "a" { required_parameters = [{}] }', /required_parameters must be a list of names/],
    ['path "a" { capabilities = ["read"]\n allowed_parameters = { "x" = [1, 2 }', /cannot parse HCL: line 2/],
  ] as const) {
    const r = await api(b, 'PUT', 'sys/policies/acl/bad', { body: { policy } });
    t.is(r.status, 400, policy);
    t.regex((r.json as { errors: string[] }).errors[0] ?? '', re);
  }
});
