// Issue 20, PKI: crash safety of the issuer rotation's retire step. SIGKILL at each retire failpoint (after `finish`
// recorded the retire step; after the previous issuer was marked retired but before the run was closed), restart on
// the same data: the step completes once, the previous issuer refuses leaves and still signs its CRL, and the new
// issuer signs. Real broker processes (failpoints are process-wide).
import test from 'ava';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { history, must, runClosed, waitFor } from './consumers/kit.ts';

const ID = 'pki/issuer/default';

for (const failpoint of ['rotation:after-finish', 'rotation:after-retire-before-persist']) {
  test.serial(`SIGKILL at ${failpoint}: after the restart the previous issuer is retired once and the new one signs`, async (t) => {
    t.timeout(600_000);
    const setup = await startBroker({ timeoutMs: 180_000 });
    await must(setup, 'POST', 'sys/mounts/pki', { type: 'pki' });
    await must(setup, 'POST', 'pki/root/generate/internal', { common_name: 'Crash Root', ttl: '8760h' });
    await must(setup, 'POST', 'pki/roles/web', { allowed_domains: ['example.com'], allow_subdomains: true });
    await must(setup, 'POST', 'pki/config/issuer-rotation', { ttl: '17520h' });
    await must(setup, 'PUT', 'sys/policies/acl/trust', { policy: 'path "pki/cert/ca_chain" { capabilities = ["read"] }' });
    const consumer = ((await must(setup, 'POST', 'auth/token/create', { policies: ['trust'] })) as { auth: { client_token: string } }).auth.client_token;
    await must(setup, 'PUT', 'sys/consumers/ack', { path: 'pki/cert/ca_chain', version: 1 }, consumer);
    // The consumer never acknowledges generation 2: the grace (short here) decides.
    await must(setup, 'PUT', `sys/rotations/${ID}`, { grace: '2s' });
    const oldRoot = (await api(setup, 'GET', 'pki/ca/pem')).text;
    await setup.stop();
    const opts = { dataDir: setup.dataDir, rootToken: setup.rootToken, timeoutMs: 180_000, env: { SEALBOX_CONSUMER_LIVE_WINDOW: '5m' } };

    const crashing: Broker = await startBroker({ ...opts, env: { ...opts.env, SEALBOX_TEST_MODE: '1', SEALBOX_TEST_FAILPOINTS: failpoint } });
    t.teardown(() => crashing.stop());
    await api(crashing, 'POST', `sys/rotations/${ID}/run`, { timeoutMs: 60_000 }).catch(() => null);
    await waitFor('the broker to kill itself at the failpoint', async () => crashing.proc.exitCode !== null || crashing.proc.signalCode !== null, 60_000);
    t.is(crashing.proc.signalCode, 'SIGKILL');

    const again = await startBroker(opts);
    t.teardown(() => again.stop());
    t.not((await api(again, 'GET', 'pki/ca/pem')).text.trim(), oldRoot.trim(), 'the rotation had finished: the new issuer is the default');
    const done = await runClosed(again, ID);
    t.is(done.last_status, 'ok');
    const runs = await history(again, ID);
    t.is(runs.length, 1, 'the retire step closed its run once');
    t.is(runs[0]?.status, 'ok');
    t.is(runs[0]?.consumers?.reason, 'grace');
    t.is(runs[0]?.consumers?.pending.length, 1);
    const refused = await api(again, 'POST', 'pki/issuer/previous/issue/web', { body: { common_name: 'old.example.com', ttl: '1h' } });
    t.is(refused.status, 400, refused.text);
    t.regex(refused.text, /was retired at/);
    t.is((await api(again, 'GET', 'pki/issuer/previous/crl/pem')).status, 200, 'the retired issuer still signs its CRL');
    const issued = await api(again, 'POST', 'pki/issue/web', { body: { common_name: 'new.example.com', ttl: '1h' } });
    t.is(issued.status, 200, issued.text);
  });
}
