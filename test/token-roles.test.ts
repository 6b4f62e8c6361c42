// Token store parity (issue 15): last_renewal_time after a renewal, exact lease_duration, auth/token/accessors,
// renew-accessor, and token roles (auth/token/roles/:name, auth/token/create/:role) stored sealed. A real broker on
// a real PostgreSQL, through node-vault and raw HTTP.
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient } from './helpers/broker.ts';
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
  orphan: boolean;
}
const authOf = (json: unknown): Auth => (json as { auth: Auth }).auth;
const dataOf = <T>(json: unknown): T => (json as { data: T }).data;
const must = async (method: string, path: string, body?: unknown, token?: string): Promise<unknown> => {
  const r = await api(b, method, path, { body, token });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
};

test.serial('lease_duration is exactly the TTL, and lookups after a renewal carry last_renewal_time and last_renewal', async (t) => {
  const v = vaultClient(b);
  const created = (await v.tokenCreate({ policies: ['default'], ttl: '1h' })) as unknown as { auth: Auth };
  t.is(created.auth.lease_duration, 3600);
  const token = created.auth.client_token;
  const before = dataOf<Record<string, unknown>>(await must('GET', 'auth/token/lookup-self', undefined, token));
  t.false('last_renewal_time' in before, 'never renewed: no last_renewal_time, as in Vault');

  const renewedAt = Date.now();
  const renewed = authOf(await must('POST', 'auth/token/renew-self', { increment: '2h' }, token));
  t.is(renewed.lease_duration, 7200);
  const after = dataOf<{ last_renewal_time: number; last_renewal: string; ttl: number }>(await must('POST', 'auth/token/lookup', { token }));
  t.true(Math.abs(after.last_renewal_time * 1000 - renewedAt) < 60_000);
  t.is(Math.floor(Date.parse(after.last_renewal) / 1000), after.last_renewal_time);
  t.true(after.ttl > 7190 && after.ttl <= 7200);
  const byAccessor = dataOf<{ last_renewal_time: number }>(await must('POST', 'auth/token/lookup-accessor', { accessor: created.auth.accessor }));
  t.is(byAccessor.last_renewal_time, after.last_renewal_time);
});

test.serial('auth/token/accessors lists live accessors (sudo), and renew-accessor renews without revealing the token', async (t) => {
  const a = authOf(await must('POST', 'auth/token/create', { policies: ['default'], ttl: '10m' }));
  const list = await api(b, 'GET', 'auth/token/accessors?list=true');
  t.is(list.status, 200);
  t.true(dataOf<{ keys: string[] }>(list.json).keys.includes(a.accessor));
  t.is((await api(b, 'GET', 'auth/token/accessors?list=true', { token: a.client_token })).status, 403, 'listing accessors needs sudo');

  const r = await api(b, 'POST', 'auth/token/renew-accessor', { body: { accessor: a.accessor, increment: '30m' } });
  t.is(r.status, 200);
  const auth = authOf(r.json);
  t.is(auth.client_token, '');
  t.is(auth.accessor, a.accessor);
  t.is(auth.lease_duration, 1800);
  t.is((await api(b, 'POST', 'auth/token/renew-accessor', { body: { accessor: 'nope' } })).status, 400);
  t.is((await api(b, 'POST', 'auth/token/renew-accessor', { body: {} })).status, 400);
});

test.serial('token roles: CRUD and LIST, read back what was written, stored sealed', async (t) => {
  await must('POST', 'auth/token/roles/deployer', {
    allowed_policies: ['deploy', 'read-only'],
    disallowed_policies: 'admin',
    orphan: true,
    renewable: false,
    token_period: '1h',
    token_explicit_max_ttl: '24h',
    path_suffix: 'v1',
    allowed_entity_aliases: ['ci-bot'],
  });
  const role = dataOf<Record<string, unknown>>(await must('GET', 'auth/token/roles/deployer'));
  t.like(role, {
    name: 'deployer',
    allowed_policies: ['deploy', 'read-only'],
    disallowed_policies: ['admin'],
    orphan: true,
    renewable: false,
    token_period: 3600,
    period: 3600,
    token_explicit_max_ttl: 86400,
    path_suffix: 'v1',
    allowed_entity_aliases: ['ci-bot'],
  });
  await must('POST', 'auth/token/roles/other', {});
  t.deepEqual(dataOf<{ keys: string[] }>(await must('GET', 'auth/token/roles?list=true')).keys, ['deployer', 'other']);

  const rows = await withPgClient(dbUrl, async (c) => (await c.query('SELECT id, sealed FROM core_entries WHERE id LIKE $1', ['token/roles/%'])).rows);
  t.is(rows.length, 2);
  t.false(JSON.stringify(rows.map((r: { sealed: Buffer }) => r.sealed.toString('latin1'))).includes('read-only'), 'role bodies are sealed');

  await must('DELETE', 'auth/token/roles/other');
  t.is((await api(b, 'GET', 'auth/token/roles/other')).status, 404);
  t.is((await api(b, 'POST', 'auth/token/roles/bad name!', { body: {} })).status, 400);
  t.is((await api(b, 'POST', 'auth/token/roles/x', { body: { allowed_policies: ['root'] } })).status, 400);
  t.is((await api(b, 'POST', 'auth/token/roles/x', { body: { token_period: 'soon' } })).status, 400);
  t.is((await api(b, 'POST', 'auth/token/roles/x', { body: { orphan: 'maybe' } })).status, 400);
});

test.serial('auth/token/create/:role applies the role: allowed and disallowed policies, orphan, renewable, period, path suffix', async (t) => {
  // A non-root parent with only create/deployer may mint tokens with the role's policies, which it does not hold.
  await must('PUT', 'sys/policies/acl/ci', { policy: 'path "auth/token/create/deployer" { capabilities = ["update"] }' });
  const parent = authOf(await must('POST', 'auth/token/create', { policies: ['ci'] }));

  const r = await api(b, 'POST', 'auth/token/create/deployer', { token: parent.client_token, body: { policies: ['deploy'] } });
  t.is(r.status, 200, r.text);
  const child = authOf(r.json);
  t.deepEqual(child.policies, ['default', 'deploy']);
  t.true(child.orphan);
  t.false(child.renewable);
  t.is(child.lease_duration, 3600, 'the role period is the TTL');
  const look = dataOf<{ path: string; period: number; explicit_max_ttl: number }>(await must('POST', 'auth/token/lookup', { token: child.client_token }));
  t.is(look.path, 'auth/token/create/deployer/v1');
  t.is(look.period, 3600);
  t.is(look.explicit_max_ttl, 86400);

  // No policies asked: the role's allowed list.
  t.deepEqual(authOf(await must('POST', 'auth/token/create/deployer', {}, parent.client_token)).policies, ['default', 'deploy', 'read-only']);
  // Outside the allowed list, or disallowed: 400.
  t.is((await api(b, 'POST', 'auth/token/create/deployer', { token: parent.client_token, body: { policies: ['admin'] } })).status, 400);
  t.is((await api(b, 'POST', 'auth/token/create/deployer', { token: parent.client_token, body: { policies: ['other'] } })).status, 400);
  // Entity aliases: only the allowed ones.
  t.is((await api(b, 'POST', 'auth/token/create/deployer', { token: parent.client_token, body: { entity_alias: 'ci-bot' } })).status, 200);
  t.is((await api(b, 'POST', 'auth/token/create/deployer', { token: parent.client_token, body: { entity_alias: 'someone' } })).status, 400);
  // Unknown role; and a role the parent's policy does not cover.
  t.is((await api(b, 'POST', 'auth/token/create/nope', { body: {} })).status, 400);
  await must('POST', 'auth/token/roles/wide', { allowed_policies: ['admin'] });
  t.is((await api(b, 'POST', 'auth/token/create/wide', { token: parent.client_token, body: {} })).status, 403);
});

test.serial('a role without allowed lists keeps the parent-subset rule', async (t) => {
  await must('POST', 'auth/token/roles/plain', { renewable: true });
  await must('PUT', 'sys/policies/acl/maker', { policy: 'path "auth/token/create/plain" { capabilities = ["update"] }' });
  const parent = authOf(await must('POST', 'auth/token/create', { policies: ['maker'] }));
  const own = authOf(await must('POST', 'auth/token/create/plain', {}, parent.client_token));
  t.deepEqual(own.policies, ['default', 'maker']);
  t.false(own.orphan);
  t.is((await api(b, 'POST', 'auth/token/create/plain', { token: parent.client_token, body: { policies: ['admin'] } })).status, 403);
});

test.serial('token roles are re-wrapped by the keyring rewrap like every other sealed value', async (t) => {
  await must('POST', 'auth/token/roles/rewrapped', { allowed_policies: ['x'] });
  const termOf = async (): Promise<number> =>
    withPgClient(dbUrl, async (c) => {
      const r = await c.query<{ sealed: Buffer }>('SELECT sealed FROM core_entries WHERE id = $1', ['token/roles/rewrapped']);
      return r.rows[0]?.sealed.readUInt32BE(1) ?? -1;
    });
  const before = await termOf();
  await must('PUT', 'sys/rotate', {});
  t.is(await termOf(), before, 'the role stays under the old term until the rewrap job runs');
  t.is(await b.kick('keyring-rewrap'), 'ok');
  const after = await termOf();
  t.is(after, before + 1, 'the rewrap job moved the role to the new term');
  t.deepEqual(dataOf<{ allowed_policies: string[] }>(await must('GET', 'auth/token/roles/rewrapped')).allowed_policies, ['x']);
});
