// Issue 13, the database-writer battery (mounts, leases, quotas, password policies, rotations, seal config): the
// attacker changes rows by SQL and sends the NOTIFY that makes the replicas reload; the brokers refuse to act on a
// changed row (500, logged with table and key) and never widen access. Ordinary operations keep working.
import test from 'ava';
import { watchTable } from './helpers/activity.ts';
import { api, startBroker } from './helpers/broker.ts';
import { newTarget, type Target } from './helpers/pg-target.ts';
import { stopPostgres } from './helpers/postgres.ts';
import { createToken, loggedIntegrityError, notify, refused, startReplicaPair, until, type ReplicaPair } from './helpers/replica-pair.ts';

let p: ReplicaPair;
let target: Target;
test.before(async () => {
  target = await newTarget('untrusted_readers');
  p = await startReplicaPair();
});
test.after.always(async () => {
  await p?.stop();
  await stopPostgres();
});

const ok = (r: { status: number; text: string }, what: string): void => {
  if (r.status >= 300) throw new Error(`${what}: ${r.status} ${r.text}`);
};
const read = async (b: ReplicaPair['a'], path: string, token?: string) => api(b, 'GET', path, token ? { token } : {});
const owner = (r: { json: unknown }): unknown => (r.json as { data?: { data?: { owner?: unknown } } } | undefined)?.data?.data?.owner;

test.serial("two mounts' paths swapped by SQL: a team-a token never reaches team-b's secrets; mount tune still works", async (t) => {
  for (const team of ['team-a', 'team-b']) {
    ok(await api(p.a, 'POST', `sys/mounts/${team}`, { body: { type: 'kv', options: { version: '2' } } }), 'mount');
    ok(await api(p.a, 'POST', `${team}/data/s`, { body: { data: { owner: team } } }), 'write');
  }
  ok(await api(p.a, 'PUT', 'sys/policies/acl/team-a', { body: { policy: JSON.stringify({ path: { 'team-a/data/*': { capabilities: ['read'] } } }) } }), 'policy');
  const { token } = await createToken(p.a, { policies: ['team-a'] });
  await until('b serves team-a', async () => owner(await read(p.b, 'team-a/data/s', token)) === 'team-a');

  // Ordinary operation: tune through the API (signed), seen by both replicas.
  ok(await api(p.a, 'POST', 'sys/mounts/team-a/tune', { body: { description: 'tuned' } }), 'tune');
  await until('b reloads the tuned mount', async () => {
    const m = await api(p.b, 'GET', 'sys/mounts');
    return (m.json as { data: Record<string, { description: string }> }).data['team-a/']?.description === 'tuned';
  });
  t.is(owner(await read(p.b, 'team-a/data/s', token)), 'team-a');

  await p.sql.query(`UPDATE mounts SET path = 'swap-tmp/' WHERE path = 'team-a/'`);
  await p.sql.query(`UPDATE mounts SET path = 'team-a/' WHERE path = 'team-b/'`);
  await p.sql.query(`UPDATE mounts SET path = 'team-b/' WHERE path = 'swap-tmp/'`);
  // Before the reload both replicas still route with the table they checked.
  t.is(owner(await read(p.a, 'team-a/data/s', token)), 'team-a');
  await notify(p.sql, 'sealbox_mounts');
  for (const b of [p.a, p.b]) {
    await until('the replica reloads its mount table', async () => refused(await read(b, 'team-a/data/s', token)));
    const r = await read(b, 'team-a/data/s', token);
    t.not(owner(r), 'team-b');
    t.false(r.text.includes('team-b'));
    t.true(await loggedIntegrityError(b, 'mounts', 'team-a/'));
  }
  t.true(refused(await read(p.a, 'team-b/data/s')), 'root is refused too: the row is not acted on');

  // Swapped back: the rows check again and serve again.
  await p.sql.query(`UPDATE mounts SET path = 'swap-tmp/' WHERE path = 'team-a/'`);
  await p.sql.query(`UPDATE mounts SET path = 'team-a/' WHERE path = 'team-b/'`);
  await p.sql.query(`UPDATE mounts SET path = 'team-b/' WHERE path = 'swap-tmp/'`);
  await notify(p.sql, 'sealbox_mounts');
  await until('a serves team-a again', async () => owner(await read(p.a, 'team-a/data/s', token)) === 'team-a');
  t.is((await read(p.a, 'team-b/data/s', token)).status, 403);
});

test.serial('each protected mount column changed by SQL takes the mount out of service (500) until it checks again', async (t) => {
  ok(await api(p.a, 'POST', 'sys/mounts/team-c', { body: { type: 'kv', options: { version: '2' } } }), 'mount');
  ok(await api(p.a, 'POST', 'team-c/data/s', { body: { data: { owner: 'team-c' } } }), 'write');
  const saved = (await p.sql.query(`SELECT type, class, description, config, options, mac FROM mounts WHERE path = 'team-c/'`)).rows[0] as Record<string, unknown>;
  const changes: [string, string][] = [
    ['type', `type = 'kv-v2'`],
    ['description', `description = 'x'`],
    ['config', `config = '{"max_lease_ttl": 999999999}'`],
    ['options', `options = '{"version": "1"}'`],
    ['mac', `mac = (SELECT mac FROM mounts WHERE path = 'team-a/')`],
  ];
  for (const [column, set] of changes) {
    await p.sql.query(`UPDATE mounts SET ${set} WHERE path = 'team-c/'`);
    await notify(p.sql, 'sealbox_mounts');
    await until(`b refuses the mount (${column})`, async () => refused(await read(p.b, 'team-c/data/s')));
    await p.sql.query(`UPDATE mounts SET type = $1, class = $2, description = $3, config = $4, options = $5, mac = $6 WHERE path = 'team-c/'`, [
      saved.type, saved.class, saved.description, saved.config, saved.options, saved.mac,
    ]);
    await notify(p.sql, 'sealbox_mounts');
    await until(`b serves the restored mount (${column})`, async () => owner(await read(p.b, 'team-c/data/s')) === 'team-c');
  }
  t.true(await loggedIntegrityError(p.b, 'mounts', 'team-c/'));
});

async function mountDatabase(): Promise<void> {
  ok(await api(p.a, 'POST', 'sys/mounts/database', { body: { type: 'database' } }), 'mount');
  ok(
    await api(p.a, 'POST', 'database/config/main', {
      body: {
        plugin_name: 'postgresql-database-plugin',
        connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
        username: target.cluster.user,
        password: target.cluster.password,
        allowed_roles: '*',
      },
    }),
    'config',
  );
  ok(await api(p.a, 'POST', 'database/roles/ro', { body: { db_name: 'main', default_group: 'untrusted_readers', default_ttl: '10m', max_ttl: '1h' } }), 'role');
  ok(await api(p.a, 'PUT', 'sys/policies/acl/db', { body: { policy: JSON.stringify({ path: { 'database/creds/ro': { capabilities: ['read'] } } }) } }), 'policy');
}

const mint = async (token: string): Promise<string> => {
  const r = await api(p.a, 'GET', 'database/creds/ro', { token });
  ok(r, 'creds');
  return (r.json as { lease_id: string }).lease_id;
};
const renew = (b: ReplicaPair['a'], leaseId: string, token?: string) => api(b, 'PUT', 'sys/leases/renew', { body: { lease_id: leaseId, increment: 1800 }, ...(token ? { token } : {}) });

test.serial('leases: moved to another token, given a later expiry, or any protected column changed: never renewed or acted on; renew still works', async (t) => {
  await mountDatabase();
  const one = await createToken(p.a, { policies: ['db'] });
  const two = await createToken(p.a, { policies: ['db'] });
  // Ordinary operation: a lease renews on the other replica.
  const good = await mint(one.token);
  const renewed = await renew(p.b, good, one.token);
  t.is(renewed.status, 200, renewed.text);
  t.is((await api(p.b, 'PUT', 'sys/leases/lookup', { body: { lease_id: good } })).status, 200);

  const changes: [string, string][] = [
    ['token_accessor', `token_accessor = '${two.accessor}'`],
    ['expires_at', `expires_at = expires_at + interval '1 year', due_at = due_at + interval '1 year'`],
    ['max_expires_at', `max_expires_at = max_expires_at + interval '10 years'`],
    ['ttl_seconds', `ttl_seconds = 31536000`],
    ['mount_id', `mount_id = (SELECT id::text FROM mounts WHERE path = 'team-a/')`],
    ['secret_type', `secret_type = 'other'`],
    ['renewable', `renewable = NOT renewable`],
    ['issued_at', `issued_at = issued_at + interval '1 day'`],
    ['mac (copied from another lease)', `mac = (SELECT mac FROM leases WHERE id = '${good}')`],
  ];
  for (const [column, set] of changes) {
    const id = await mint(one.token);
    t.is((await p.sql.query(`UPDATE leases SET ${set} WHERE id = $1`, [id])).rowCount, 1);
    for (const b of [p.a, p.b]) {
      const r = await renew(b, id, one.token);
      t.true(refused(r), `${column}: ${r.status} ${r.text}`);
      t.true(refused(await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: id } })), column);
    }
    t.true(await loggedIntegrityError(p.b, 'leases', id), column);
  }

  // A changed lease is not handed to its (possibly repointed) engine on revoke: the failure is recorded and retried.
  const moved = await mint(one.token);
  await p.sql.query(`UPDATE leases SET token_accessor = $2 WHERE id = $1`, [moved, two.accessor]);
  const rv = await api(p.a, 'PUT', 'sys/leases/revoke', { body: { lease_id: moved } });
  t.is(rv.status, 503, rv.text);
  const row = (await p.sql.query('SELECT last_error, revoke_attempts FROM leases WHERE id = $1', [moved])).rows[0] as { last_error: string; revoke_attempts: number };
  t.regex(row.last_error, /integrity check/);
});

test.serial('a lease whose token was revoked is not renewed even if SQL sets it active again', async (t) => {
  const holder = await createToken(p.a, { policies: ['db'] });
  const id = await mint(holder.token);
  // The attacker holds the lease out of the revocation with a fake claim (not prevented: see SECURITY.md) ...
  t.is((await p.sql.query(`UPDATE leases SET claim_id = 'attacker' WHERE id = $1`, [id])).rowCount, 1);
  ok(await api(p.a, 'POST', 'auth/token/revoke-accessor', { body: { accessor: holder.accessor } }), 'revoke');
  // ... and, once the token is gone, revives the lease.
  t.is((await p.sql.query(`UPDATE leases SET state = 'active', claim_id = NULL WHERE id = $1`, [id])).rowCount, 1);
  const r = await renew(p.b, id);
  t.is(r.status, 400, r.text);
  t.regex(r.text, /lease not found/);
});

test.serial('a lease count quota raised by SQL still caps leases at the authenticated maximum', async (t) => {
  const holder = await createToken(p.a, { policies: ['db'] });
  ok(await api(p.a, 'POST', 'sys/quotas/lease-count/db-cap', { body: { path: 'database/', max_leases: 1 } }), 'quota');
  // Earlier tests left leases under database/: the quota is full from the start.
  const full = await api(p.a, 'GET', 'database/creds/ro', { token: holder.token });
  t.is(full.status, 429, full.text);
  await p.sql.query(`UPDATE lease_count_quotas SET max_leases = 1000000 WHERE name = 'db-cap'`);
  for (const b of [p.a, p.b]) {
    const r = await api(b, 'GET', 'database/creds/ro', { token: holder.token });
    t.true(refused(r), r.text);
    t.true(refused(await api(b, 'GET', 'sys/quotas/lease-count/db-cap')));
  }
  t.true(await loggedIntegrityError(p.a, 'lease_count_quotas', 'db-cap'));
  ok(await api(p.a, 'DELETE', 'sys/quotas/lease-count/db-cap'), 'delete');
});

test.serial('a rate-limit quota raised by SQL keeps its checked limit; the changed row is refused', async (t) => {
  for (const m of ['rl', 'rl-marker']) ok(await api(p.a, 'POST', `sys/mounts/${m}`, { body: { type: 'kv', options: { version: '2' } } }), 'mount');
  ok(await api(p.a, 'POST', 'sys/quotas/rate-limit/rq', { body: { path: 'rl/', rate: 2, interval: '1h' } }), 'quota');
  await until('b enforces rq', async () => (await read(p.b, 'rl/data/s')).status === 429);
  await p.sql.query(`UPDATE rate_limit_quotas SET rate = 1000000 WHERE name = 'rq'`);
  await notify(p.sql, 'sealbox_quotas');
  // A legitimate quota written after the change: once b enforces it, b has reloaded the changed row too.
  ok(await api(p.a, 'POST', 'sys/quotas/rate-limit/marker', { body: { path: 'rl-marker/', rate: 1, interval: '1h' } }), 'marker');
  await until('b reloads', async () => (await read(p.b, 'rl-marker/data/s')).status === 429);
  t.is((await read(p.b, 'rl/data/s')).status, 429, 'the raised rate is not applied');
  t.true(refused(await api(p.b, 'GET', 'sys/quotas/rate-limit/rq')));
  t.true(await loggedIntegrityError(p.b, 'rate_limit_quotas', 'rq'));
  // Exempt paths added to the quota config by SQL are not honoured either.
  ok(await api(p.a, 'POST', 'sys/quotas/config', { body: { rate_limit_exempt_paths: [] } }), 'config');
  await p.sql.query(`UPDATE quota_config SET rate_limit_exempt_paths = '["rl/"]'`);
  await notify(p.sql, 'sealbox_quotas');
  t.true(refused(await api(p.b, 'GET', 'sys/quotas/config')));
  t.true(refused(await api(p.b, 'POST', 'sys/quotas/config', { body: { enable_rate_limit_response_headers: true } })), 'no partial update on top of it');
  t.is((await read(p.b, 'rl/data/s')).status, 429, 'the added exempt path is not honoured');
  t.true(await loggedIntegrityError(p.b, 'quota_config', 'id=1'));
  for (const name of ['rq', 'marker']) ok(await api(p.a, 'DELETE', `sys/quotas/rate-limit/${name}`), 'delete');
  await p.sql.query('DELETE FROM quota_config');
});

test.serial('a password policy weakened by SQL: its parsed form is ignored, its document is refused', async (t) => {
  const doc = 'length = 24\nrule "charset" {\n  charset = "abcdefghijklmnopqrstuvwxyz"\n  min-chars = 1\n}\n';
  ok(await api(p.a, 'PUT', 'sys/policies/password/strong', { body: { policy: doc } }), 'policy');
  const gen = async (b: ReplicaPair['a']) => api(b, 'GET', 'sys/policies/password/strong/generate');
  t.is(((await gen(p.b)).json as { data: { password: string } }).data.password.length, 24);
  await p.sql.query(`UPDATE password_policies SET policy = jsonb_set(policy, '{length}', '4') WHERE name = 'strong'`);
  t.is(((await gen(p.b)).json as { data: { password: string } }).data.password.length, 24, 'the rules come from the document');
  await p.sql.query(`UPDATE password_policies SET policy = jsonb_set(policy, '{document}', to_jsonb(replace(policy->>'document', '24', '4'))) WHERE name = 'strong'`);
  for (const b of [p.a, p.b]) t.true(refused(await gen(b)));
  t.true(await loggedIntegrityError(p.a, 'password_policies', 'strong'));
});

test.serial('rotations: pause, resume and grace work; a schedule, target, pause or grace changed by SQL is refused', async (t) => {
  const id = 'sys/keyring';
  const set = (body: Record<string, unknown>) => api(p.a, 'POST', `sys/rotations/${id}`, { body });
  ok(await set({ grace: '10m' }), 'grace');
  t.is(((await api(p.b, 'GET', `sys/rotations/${id}`)).json as { data: { grace: number } }).data.grace, 600, 'a grace set through the API is signed');
  ok(await set({ paused: true }), 'pause');
  t.true(((await api(p.b, 'GET', `sys/rotations/${id}`)).json as { data: { paused: boolean } }).data.paused);
  ok(await set({ paused: false }), 'resume');
  t.false(((await api(p.b, 'GET', `sys/rotations/${id}`)).json as { data: { paused: boolean } }).data.paused);
  const saved = (await p.sql.query('SELECT schedule, period_seconds, paused, target, kind, mount_id, mac, grace_seconds FROM rotations WHERE id = $1', [id])).rows[0] as Record<string, unknown>;
  // A longer grace keeps a rotated-out credential alive; a null one falls back to the broker default.
  for (const change of [`schedule = '* * * * * *'`, `paused = true`, `target = 'other'`, `period_seconds = 1`, `grace_seconds = 2592000`, `grace_seconds = NULL`]) {
    await p.sql.query(`UPDATE rotations SET ${change} WHERE id = $1`, [id]);
    for (const b of [p.a, p.b]) t.true(refused(await api(b, 'GET', `sys/rotations/${id}`)), change);
    t.true(refused(await set({ paused: false })), `${change}: no signed write on top of a changed row`);
    await p.sql.query('UPDATE rotations SET schedule = $2, period_seconds = $3, paused = $4, target = $5, kind = $6, mount_id = $7, mac = $8, grace_seconds = $9 WHERE id = $1', [
      id, saved.schedule, saved.period_seconds, saved.paused, saved.target, saved.kind, saved.mount_id, saved.mac, saved.grace_seconds,
    ]);
  }
  t.is((await api(p.b, 'GET', `sys/rotations/${id}`)).status, 200);
  t.true(await loggedIntegrityError(p.b, 'rotations', id));
});

test.serial('a scheduler job paused by SQL keeps running; paused through the API it is skipped', async (t) => {
  const job = 'keyring-rewrap';
  const after = async (since: Date, status: string) =>
    ((await p.sql.query('SELECT 1 FROM job_runs WHERE job = $1 AND started_at > $2 AND status = $3', [job, since, status])).rowCount ?? 0) > 0;
  // A slot that runs logs nothing: its job_runs rows are the event.
  const stopWatch = await watchTable(p.databaseUrl, 'job_runs');
  t.teardown(stopWatch);
  const since = new Date();
  await p.sql.query('UPDATE scheduled_jobs SET paused = true WHERE name = $1', [job]);
  await until('a slot runs after the forged pause', () => after(since, 'ok'), 30_000);
  // The integrity line is logged by whichever replica ran the slot; it may still be in that replica's pipe.
  const flagged = (l: Record<string, unknown>) => l.table === 'scheduled_jobs' && l.primaryKey === job;
  const seen = await new Promise<boolean>((resolve) => {
    let left = 2;
    for (const x of [p.a, p.b]) void x.waitForLogLine(flagged, 10_000).then((found) => (found ? resolve(true) : --left === 0 && resolve(false)));
  });
  t.true(seen, 'a replica logged the forged scheduled_jobs row');
  ok(await api(p.a, 'POST', `sys/scheduler/jobs/${job}`, { body: { paused: true } }), 'pause');
  const paused = new Date();
  await until('a slot is skipped after the real pause', () => after(paused, 'skipped'), 30_000);
  ok(await api(p.a, 'POST', `sys/scheduler/jobs/${job}`, { body: { paused: false } }), 'resume');
  t.false(((await api(p.b, 'GET', `sys/scheduler/jobs/${job}`)).json as { data: { paused: boolean } }).data.paused);
});

test.serial('a seal configuration changed by SQL: a broker that unseals refuses to start; restored, it starts', async (t) => {
  await p.sql.query('UPDATE seal_configs SET secret_threshold = 3, secret_shares = 5');
  const err = await t.throwsAsync(startBroker({ dataDir: p.dataDir, databaseUrl: p.databaseUrl, rootToken: p.rootToken, timeoutMs: 60_000 }));
  t.regex(err?.message ?? '', /"table":"seal_configs"/);
  await p.sql.query('UPDATE seal_configs SET secret_threshold = 1, secret_shares = 1');
  const c = await startBroker({ dataDir: p.dataDir, databaseUrl: p.databaseUrl, rootToken: p.rootToken });
  t.teardown(() => c.stop());
  t.is(owner(await read(c, 'team-a/data/s')), 'team-a');
});
