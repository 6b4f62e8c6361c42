// Issue 20 item 2 for KV: a generated KV secret's rotation gains the retire step. With `destroy_previous`, the
// version a rotation replaced stays readable until every live consumer of data/<path> acknowledged the new version,
// then it is destroyed; without it, the previous version stays (Vault's KV history) and the run ends at finish.
import test from 'ava';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { history, must, rotation, runClosed } from './consumers/kit.ts';

process.env.SEALBOX_ROTATION_MIN_INTERVAL = '1s';

let b: Broker;
test.before(async () => {
  b = await startBroker({ env: { SEALBOX_CONSUMER_LIVE_WINDOW: '5m' } });
});
test.after.always(async () => {
  await b.stop();
});

const version = async (path: string, v: number) => api(b, 'GET', `secret/data/${path}?version=${v}`);
const ack = async (path: string, v: number, token?: string) => {
  const r = await api(b, 'PUT', 'sys/consumers/ack', { body: { path: `secret/data/${path}`, version: v }, ...(token ? { token } : {}) });
  if (r.status !== 200) throw new Error(`ack: ${r.status} ${r.text}`);
};

async function setUp(path: string, destroyPrevious: boolean): Promise<string> {
  await must(b, 'POST', `secret/data/${path}`, { data: { username: 'app', password: 'initial' } });
  const cfg = await api(b, 'POST', `secret/rotate-config/${path}`, { body: { period: '1h', key: 'password', generator: { length: 20 }, destroy_previous: destroyPrevious } });
  if (cfg.status !== 200) throw new Error(`rotate-config: ${cfg.status} ${cfg.text}`);
  const id = `secret/rotate/${path}`;
  await must(b, 'PUT', `sys/rotations/${id}`, { grace: '10m' });
  return id;
}

test.serial('destroy_previous: the replaced version stays readable until the consumer acknowledges the new one, then it is destroyed', async (t) => {
  const id = await setUp('app/db', true);
  t.is(((await must(b, 'GET', 'secret/rotate-config/app/db')) as { data: { destroy_previous: boolean } }).data.destroy_previous, true);
  await ack('app/db', 1);
  const run = await api(b, 'POST', `sys/rotations/${id}/run`);
  t.is(run.status, 200, run.text);
  const waiting = await rotation(b, id);
  t.is(waiting.in_progress?.step, 'retire', 'the run waits for its consumer');
  t.deepEqual(waiting.consumers?.pending.length, 1);
  t.is((await version('app/db', 1)).status, 200, 'version 1 is readable while a consumer still has it');
  const v2 = ((await must(b, 'GET', 'secret/data/app/db')) as { data: { data: { password: string }; metadata: { version: number } } }).data;
  t.is(v2.metadata.version, 2);

  await ack('app/db', 2);
  await runClosed(b, id, 'the retire step to finish', 30_000);
  const gone = await version('app/db', 1);
  t.is(gone.status, 404, gone.text);
  t.true((gone.json as { data?: { metadata?: { destroyed?: boolean } } }).data?.metadata?.destroyed === true, gone.text);
  t.is(((await must(b, 'GET', 'secret/data/app/db')) as { data: { data: { password: string } } }).data.data.password, v2.data.password);
  t.is((await history(b, id))[0]?.consumers?.reason, 'acknowledged');
});

test.serial('without destroy_previous nothing is retired: the run ends at finish although a consumer has not moved on', async (t) => {
  const id = await setUp('app/keep', false);
  await ack('app/keep', 1);
  t.is((await api(b, 'POST', `sys/rotations/${id}/run`)).status, 200);
  t.is((await rotation(b, id)).in_progress, null, 'no retire step to wait in');
  t.is((await history(b, id))[0]?.status, 'ok');
  const old = await version('app/keep', 1);
  t.is(old.status, 200, old.text);
  t.is((old.json as { data: { data: { password: string } } }).data.data.password, 'initial');
});

test.serial('acknowledgements of a KV path: a version that does not exist is a 400; destroy_previous must be a boolean', async (t) => {
  await must(b, 'POST', 'secret/data/app/acks', { data: { password: 'x' } });
  const r = await api(b, 'PUT', 'sys/consumers/ack', { body: { path: 'secret/data/app/acks', version: 2 } });
  t.is(r.status, 400, r.text);
  const bad = await api(b, 'POST', 'secret/rotate-config/app/acks', { body: { generator: { length: 20 }, destroy_previous: 'sometimes' } });
  t.is(bad.status, 400, bad.text);
  t.regex(bad.text, /destroy_previous/);
});
