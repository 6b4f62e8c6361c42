// Issue 20 item 2, crash safety of the retire step: SIGKILL at each retire failpoint (after `finish` recorded the
// retire step; after the previous user was retired but before the run was closed), restart on the same data: the
// step completes once, the previous user is refused afterwards, and the current credentials keep logging in.
import test from 'ava';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { newTarget } from './helpers/pg-target.ts';
import { canLogin, createUsers, history, mountDatabase, must, runClosed, staticCreds, uniq, waitFor } from './consumers/kit.ts';

process.env.SEALBOX_ROTATION_MIN_INTERVAL = '1s';
const ID = 'database/static-roles/pair';
const PATH = 'database/static-creds/pair';

for (const failpoint of ['rotation:after-finish', 'rotation:after-retire-before-persist']) {
  test.serial(`SIGKILL at ${failpoint}: after the restart the retire step completes once and nobody is locked out`, async (t) => {
    t.timeout(900_000);
    const target = await newTarget();
    const databaseUrl = await target.cluster.createDatabase();
    const setup = await startBroker({ timeoutMs: 180_000, databaseUrl });
    await mountDatabase(setup, target);
    const users = [uniq('ret_a'), uniq('ret_b')];
    await createUsers(target, users);
    await must(setup, 'POST', 'database/static-roles/pair', { db_name: 'main', rotation_strategy: 'alternating', usernames: users, rotation_period: '1h' });
    await must(setup, 'PUT', 'sys/policies/acl/reader', { policy: `path "${PATH}" { capabilities = ["read"] }` });
    const consumer = ((await must(setup, 'POST', 'auth/token/create', { policies: ['reader'] })) as { auth: { client_token: string } }).auth.client_token;
    const v1 = await staticCreds(setup, 'pair');
    await must(setup, 'PUT', 'sys/consumers/ack', { path: PATH, version: v1.version }, consumer);
    // The consumer never acknowledges the next version: the grace (short here) decides.
    await must(setup, 'PUT', `sys/rotations/${ID}`, { grace: '2s' });
    await setup.stop();
    const opts = { databaseUrl, dataDir: setup.dataDir, rootToken: setup.rootToken, timeoutMs: 180_000 };

    const crashing: Broker = await startBroker({ ...opts, env: { SEALBOX_TEST_MODE: '1', SEALBOX_TEST_FAILPOINTS: failpoint } });
    t.teardown(() => crashing.stop());
    await api(crashing, 'POST', 'database/rotate-role/pair', { timeoutMs: 60_000 }).catch(() => null);
    await waitFor('the broker to kill itself at the failpoint', async () => crashing.proc.exitCode !== null || crashing.proc.signalCode !== null, 60_000);
    t.is(crashing.proc.signalCode, 'SIGKILL');

    const again = await startBroker(opts);
    t.teardown(() => again.stop());
    const current = await staticCreds(again, 'pair');
    t.not(current.username, v1.username, 'the rotation had finished: the other user is handed out');
    t.true(await canLogin(target, current), 'the current credentials log in right after the restart');
    const done = await runClosed(again, ID);
    t.is(done.last_status, 'ok');
    const runs = await history(again, ID);
    t.is(runs.length, 2, 'the first rotation and this one: the retire step closed its run once');
    t.true(runs.every((r) => r.status === 'ok'));
    t.is(runs[0]?.consumers?.reason, 'grace');
    t.is(runs[0]?.consumers?.pending.length, 1);
    t.false(await canLogin(target, v1), 'the previous user is refused after retirement');
    t.true(await canLogin(target, await staticCreds(again, 'pair')));
    // And rotation goes on: the retired user is rotated next and logs in with its new password.
    await must(again, 'POST', 'database/rotate-role/pair');
    t.true(await canLogin(target, await staticCreds(again, 'pair')));
  });
}
