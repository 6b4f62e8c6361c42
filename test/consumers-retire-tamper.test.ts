// Issue 20, the security gap: a database writer must not keep a rotated-out credential alive. The retire step acts on
// the deadline and consumer path sealed with the run's pending value, not on the retire_at/retire_path columns, and a
// claim_until further ahead than the broker ever sets does not hold the run back. The broker runs on a real
// PostgreSQL the test also writes to by SQL, as an attacker with database access would. And a run that has nothing to
// retire (a single-user role) does not wait in the retire step.
import test from 'ava';
import { api, startBroker } from './helpers/broker.ts';
import { withPgClient } from './helpers/postgres.ts';
import { newTarget } from './helpers/pg-target.ts';
import { canLogin, createUsers, history, mountDatabase, must, rotation, runClosed, staticCreds, uniq } from './consumers/kit.ts';

process.env.SEALBOX_ROTATION_MIN_INTERVAL = '1s';
const PATH = 'database/static-creds/pair';
const ID = 'database/static-roles/pair';

test('retire_at and claim_until moved 30 days ahead by SQL: the previous user is still retired when the signed grace ends', async (t) => {
  t.timeout(300_000);
  const target = await newTarget();
  const databaseUrl = await target.cluster.createDatabase();
  const b = await startBroker({ databaseUrl, timeoutMs: 180_000, env: { SEALBOX_CONSUMER_LIVE_WINDOW: '5m' } });
  t.teardown(() => b.stop());
  await mountDatabase(b, target);
  const users = [uniq('tamper_a'), uniq('tamper_b')];
  await createUsers(target, users);
  await must(b, 'POST', ID, { db_name: 'main', rotation_strategy: 'alternating', usernames: users, rotation_period: '1h' });
  const v1 = await staticCreds(b, 'pair');
  // One live consumer that acknowledges version 1 and then never the next one: the retire step must wait for the grace.
  const ack = await api(b, 'PUT', 'sys/consumers/ack', { body: { path: PATH, version: v1.version } });
  t.is(ack.status, 200, ack.text);
  await must(b, 'PUT', `sys/rotations/${ID}`, { grace: '3s' });
  await must(b, 'POST', 'database/rotate-role/pair');
  const v2 = await staticCreds(b, 'pair');
  t.is((await rotation(b, ID)).in_progress?.step, 'retire', 'the run waits for its consumer');
  t.true(await canLogin(target, v1), 'the previous user works during the grace');

  await withPgClient(databaseUrl, async (c) => {
    const r = await c.query(`UPDATE rotations SET retire_at = now() + interval '30 days', claim_until = now() + interval '30 days' WHERE id = $1`, [ID]);
    t.is(r.rowCount, 1);
  });
  await runClosed(b, ID, 'the run to retire the previous user', 60_000);
  const runs = await history(b, ID);
  t.is(runs[0]?.consumers?.reason, 'grace', JSON.stringify(runs[0]?.consumers));
  t.is(runs[0]?.consumers?.pending.length, 1, 'the consumer that never acknowledged is on record');
  t.false(await canLogin(target, v1), 'the previous user is refused after the signed grace, whatever the columns said');
  t.true(await canLogin(target, v2));
});

test('a single-user static role has nothing to retire: its run ends at finish even with a consumer on the old version', async (t) => {
  t.timeout(300_000);
  const target = await newTarget();
  const b = await startBroker({ timeoutMs: 180_000, env: { SEALBOX_CONSUMER_LIVE_WINDOW: '5m' } });
  t.teardown(() => b.stop());
  await mountDatabase(b, target);
  const [user] = [uniq('single')];
  await createUsers(target, [user as string]);
  const id = 'database/static-roles/one';
  await must(b, 'POST', id, { db_name: 'main', username: user, rotation_period: '1h' });
  const v1 = await staticCreds(b, 'one');
  t.is((await api(b, 'PUT', 'sys/consumers/ack', { body: { path: 'database/static-creds/one', version: v1.version } })).status, 200);
  await must(b, 'PUT', `sys/rotations/${id}`, { grace: '10m' });
  await must(b, 'POST', 'database/rotate-role/one');
  t.is((await rotation(b, id)).in_progress, null, 'no retire step: the previous password stopped working at set');
  t.false(await canLogin(target, v1));
  t.true(await canLogin(target, await staticCreds(b, 'one')));
});
