import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

let b: Broker;
let dbUrl: string;
test.before(async () => {
  const pg = await startPostgres();
  dbUrl = await pg.createDatabase();
  b = await startApp({ databaseUrl: dbUrl });
});
test.after.always(async () => {
  await b?.stop();
});

interface Auth {
  client_token: string;
  accessor: string;
  policies: string[];
  lease_duration: number;
  renewable: boolean;
}
const authOf = (json: unknown): Auth => (json as { auth: Auth }).auth;
const dataOf = <T>(json: unknown): T => (json as { data: T }).data;

test.serial('create, lookup-self, lookup, lookup-accessor record policies, TTL and accessor', async (t) => {
  const c = await api(b, 'POST', 'auth/token/create', { body: { policies: ['app'], ttl: '1h', display_name: 'ci', meta: { team: 'x' } } });
  t.is(c.status, 200);
  const auth = authOf(c.json);
  t.deepEqual(auth.policies, ['app', 'default']);
  t.true(auth.lease_duration > 3590 && auth.lease_duration <= 3600);
  t.true(auth.renewable);

  const self = await api(b, 'GET', 'auth/token/lookup-self', { token: auth.client_token });
  t.is(self.status, 200);
  const d = dataOf<{ accessor: string; policies: string[]; display_name: string; meta: Record<string, string>; id: string; ttl: number }>(self.json);
  t.is(d.accessor, auth.accessor);
  t.is(d.display_name, 'token-ci');
  t.deepEqual(d.meta, { team: 'x' });
  t.is(d.id, auth.client_token);

  const byToken = await api(b, 'POST', 'auth/token/lookup', { body: { token: auth.client_token } });
  t.is(dataOf<{ accessor: string }>(byToken.json).accessor, auth.accessor);
  const byAccessor = await api(b, 'POST', 'auth/token/lookup-accessor', { body: { accessor: auth.accessor } });
  t.is(dataOf<{ id: string }>(byAccessor.json).id, '', 'an accessor lookup never reveals the token');

  // Until ACL policies land, a non-root token may only manage itself.
  t.is((await api(b, 'GET', 'secret/data/x', { token: auth.client_token })).status, 403);
  t.is((await api(b, 'GET', 'sys/mounts', { token: auth.client_token })).status, 403);
});

test.serial('tokens are stored only as HMACs', async (t) => {
  const auth = authOf((await api(b, 'POST', 'auth/token/create', { body: { policies: ['a'] } })).json);
  const rows = await withPgClient(dbUrl, async (c) => (await c.query('SELECT * FROM tokens')).rows);
  const dump = JSON.stringify(rows);
  t.false(dump.includes(auth.client_token));
  t.false(dump.includes(b.rootToken));
  t.true(dump.includes(auth.accessor));
});

test.serial('renew-self extends up to the max TTL; renew of a non-renewable token is a 400', async (t) => {
  const auth = authOf((await api(b, 'POST', 'auth/token/create', { body: { ttl: '10m', explicit_max_ttl: '30m' } })).json);
  const r = await api(b, 'POST', 'auth/token/renew-self', { token: auth.client_token, body: { increment: '1h' } });
  t.is(r.status, 200);
  const ld = authOf(r.json).lease_duration;
  t.true(ld > 1790 && ld <= 1800, `capped at explicit_max_ttl, got ${ld}`);
  const fixed = authOf((await api(b, 'POST', 'auth/token/create', { body: { renewable: false } })).json);
  const nr = await api(b, 'POST', 'auth/token/renew', { body: { token: fixed.client_token } });
  t.is(nr.status, 400);
  t.deepEqual(nr.json, { errors: ['token is not renewable'] });
});

test.serial('revoking a token revokes its children; orphans survive; revoke-self and revoke-accessor work', async (t) => {
  const parent = authOf((await api(b, 'POST', 'auth/token/create', { body: { policies: ['root'] } })).json);
  const child = authOf((await api(b, 'POST', 'auth/token/create', { token: parent.client_token, body: { policies: ['root'] } })).json);
  const grandchild = authOf((await api(b, 'POST', 'auth/token/create', { token: child.client_token, body: { policies: ['p'] } })).json);
  const orphan = authOf((await api(b, 'POST', 'auth/token/create-orphan', { token: parent.client_token, body: { policies: ['p'] } })).json);
  t.deepEqual(grandchild.policies, ['default', 'p']);

  t.is((await api(b, 'POST', 'auth/token/revoke', { body: { token: parent.client_token } })).status, 204);
  for (const tok of [parent, child, grandchild]) {
    t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: tok.client_token })).status, 403);
  }
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: orphan.client_token })).status, 200);
  t.is((await api(b, 'POST', 'auth/token/revoke-self', { token: orphan.client_token })).status, 204);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: orphan.client_token })).status, 403);

  const other = authOf((await api(b, 'POST', 'auth/token/create', { body: {} })).json);
  t.is((await api(b, 'POST', 'auth/token/revoke-accessor', { body: { accessor: other.accessor } })).status, 204);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: other.client_token })).status, 403);
});

test.serial("a revoked or unknown token: lookup is Vault's 403 bad token, renew 400 token not found, lookup-accessor 400 invalid accessor", async (t) => {
  const gone = authOf((await api(b, 'POST', 'auth/token/create', { body: {} })).json);
  t.is((await api(b, 'POST', 'auth/token/revoke', { body: { token: gone.client_token } })).status, 204);
  for (const token of [gone.client_token, 'hvs.never-issued']) {
    const look = await api(b, 'POST', 'auth/token/lookup', { body: { token } });
    t.is(look.status, 403);
    t.deepEqual(look.json, { errors: ['bad token'] });
    const renew = await api(b, 'POST', 'auth/token/renew', { body: { token } });
    t.is(renew.status, 400);
    t.deepEqual(renew.json, { errors: ['token not found'] });
  }
  const byAccessor = await api(b, 'POST', 'auth/token/lookup-accessor', { body: { accessor: gone.accessor } });
  t.is(byAccessor.status, 400);
  t.deepEqual(byAccessor.json, { errors: ['invalid accessor'] });
});

test.serial('an expired token is 403 permission denied', async (t) => {
  const short = authOf((await api(b, 'POST', 'auth/token/create', { body: { ttl: '1s' } })).json);
  b.clock.advance(1_500);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: short.client_token })).status, 403);
});

test.serial('num_uses limits how many requests a token can make', async (t) => {
  const auth = authOf((await api(b, 'POST', 'auth/token/create', { body: { num_uses: 2 } })).json);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: auth.client_token })).status, 200);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: auth.client_token })).status, 200);
  t.is((await api(b, 'GET', 'auth/token/lookup-self', { token: auth.client_token })).status, 403);
});

test.serial('a one-use token is good for exactly one request, even under 40 concurrent requests', async (t) => {
  await api(b, 'PUT', 'sys/policy/one-use', { body: { rules: 'path "secret/data/*" { capabilities = ["read"] }' } });
  await api(b, 'POST', 'secret/data/once', { body: { data: { v: 1 } } });
  const auth = authOf((await api(b, 'POST', 'auth/token/create', { body: { num_uses: 1, policies: ['one-use'] } })).json);
  const results = await Promise.all(Array.from({ length: 40 }, () => api(b, 'GET', 'secret/data/once', { token: auth.client_token })));
  t.is(results.filter((r) => r.status === 200).length, 1);
  t.is(results.filter((r) => r.status === 403).length, 39);
});

test.serial('a duplicate token id is a 400 and changes nothing', async (t) => {
  const first = await api(b, 'POST', 'auth/token/create', { body: { id: 'dup-id-1', policies: ['a'] } });
  t.is(first.status, 200);
  const again = await api(b, 'POST', 'auth/token/create', { body: { id: 'dup-id-1', policies: ['root'] } });
  t.is(again.status, 400);
  t.deepEqual(again.json, { errors: ['cannot create a token with a duplicate ID'] });
  const self = await api(b, 'GET', 'auth/token/lookup-self', { token: 'dup-id-1' });
  t.deepEqual(dataOf<{ policies: string[] }>(self.json).policies, ['a', 'default']);
});

test.serial('TTL rules: explicit_max_ttl caps periodic tokens, and a root child with a max TTL is alive', async (t) => {
  const rootChild = authOf((await api(b, 'POST', 'auth/token/create', { body: { policies: ['root'], explicit_max_ttl: '1h' } })).json);
  const self = await api(b, 'GET', 'auth/token/lookup-self', { token: rootChild.client_token });
  t.is(self.status, 200);
  const ttl = dataOf<{ ttl: number }>(self.json).ttl;
  t.true(ttl > 3590 && ttl <= 3600, `ttl ${ttl}`);

  const periodic = authOf((await api(b, 'POST', 'auth/token/create', { body: { period: '1h', explicit_max_ttl: '90s' } })).json);
  t.true(periodic.lease_duration <= 90);
  const renewed = await api(b, 'POST', 'auth/token/renew-self', { token: periodic.client_token, body: {} });
  t.true(authOf(renewed.json).lease_duration <= 90, 'renewal never passes the explicit max');
  t.is((await api(b, 'POST', 'auth/token/create', { body: { period: '30000d' } })).status, 400);
});

test.serial('without a valid token, an unknown mount is indistinguishable from a forbidden one', async (t) => {
  t.is((await api(b, 'GET', 'nosuchmount/x', { token: null })).status, 403);
  t.is((await api(b, 'GET', 'nosuchmount/x', { token: 'forged' })).status, 403);
  t.is((await api(b, 'GET', 'secret/data/x', { token: null })).status, 403);
  t.is((await api(b, 'GET', 'nosuchmount/x')).status, 404);
});
