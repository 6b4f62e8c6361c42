// The scheduler (issue 7 groundwork): exclusive jobs run each slot on exactly one replica, keep running when that
// replica dies, catch up a missed slot once after downtime, and can be listed, paused, run and reviewed.
import test from 'ava';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const EVERY_2S = { SEALBOX_MAINTENANCE_SCHEDULE: '*/2 * * * * *' };

interface Run {
  slot: string;
  kind: string;
  replica: string;
  status: string;
}

async function runs(b: Broker, job = 'engine-maintenance'): Promise<Run[]> {
  const r = await api(b, 'GET', `sys/scheduler/jobs/${job}/history?limit=1000`);
  if (r.status !== 200) throw new Error(`history: ${r.status} ${r.text}`);
  return (r.json as { data: { runs: Run[] } }).data.runs;
}

test('two replicas: every slot of an exclusive job runs once; killing the replica that ran the last slot does not stop the next', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const a = await startBroker({ databaseUrl, env: EVERY_2S });
  const b = await startBroker({ databaseUrl, dataDir: a.dataDir, rootToken: a.rootToken, env: EVERY_2S });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  await sleep(9000);
  const before = (await runs(a)).filter((r) => r.kind === 'scheduled');
  t.true(before.length >= 3, `${before.length} slots ran`);
  t.is(new Set(before.map((r) => r.slot)).size, before.length, 'no slot ran twice');
  t.true(before.every((r) => r.status === 'ok'));
  for (const r of before) t.is(new Date(r.slot).getUTCSeconds() % 2, 0, `slot ${r.slot} is on the schedule`);

  // The job_runs primary key is the guarantee; the logs of both processes show no second execution either.
  const last = before[0];
  const victim = last?.replica.includes(String(a.proc.pid)) ? a : b;
  const survivor = victim === a ? b : a;
  await victim.stop('SIGKILL');
  const killedAt = Date.now();
  await sleep(7000);
  const after = (await runs(survivor)).filter((r) => r.kind === 'scheduled' && new Date(r.slot).getTime() > killedAt);
  t.true(after.length >= 2, `${after.length} slots ran after the kill`);
  t.true(after.every((r) => r.replica.includes(String(survivor.proc.pid)) && r.status === 'ok'));
});

test('a slot missed while the broker was down runs once at start-up, not once per missed slot', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const first = await startBroker({ databaseUrl, env: EVERY_2S });
  await sleep(3000);
  await first.stop();
  await sleep(7000); // three or four slots pass with no broker
  const again = await startBroker({ databaseUrl, dataDir: first.dataDir, rootToken: first.rootToken, env: EVERY_2S });
  t.teardown(() => again.stop());
  await sleep(1500);
  const catchups = (await runs(again)).filter((r) => r.kind === 'catchup');
  t.is(catchups.length, 1);
  t.is(catchups[0]?.status, 'ok');
  const rows = await withPgClient(databaseUrl, async (c) => (await c.query(`SELECT count(*)::int AS n FROM job_runs WHERE kind = 'catchup'`)).rows[0].n as number);
  t.is(rows, 1);
});

test('operators list, pause, resume and run jobs and read their history; bad input is a 4xx; non-sudo tokens are refused', async (t) => {
  const b = await startBroker({ env: EVERY_2S });
  t.teardown(() => b.stop());
  const list = await api(b, 'GET', 'sys/scheduler/jobs');
  t.is(list.status, 200);
  const jobs = (list.json as { data: { jobs: { id: string; schedule: string; next_run_at: string | null; paused: boolean }[] } }).data.jobs;
  t.deepEqual(jobs.map((j) => j.id).sort(), ['audit-checkpoint', 'engine-maintenance', 'job-history-prune', 'keyring-rewrap', 'lease-expiry', 'lease-intent-sweep', 'lease-orphan-sweep', 'login-failures-prune', 'rate-limit-counter-purge', 'rate-limit-sweep', 'rotations', 'token-tidy']);
  const maint = jobs.find((j) => j.id === 'engine-maintenance');
  t.is(maint?.schedule, '*/2 * * * * *');
  t.truthy(maint?.next_run_at);

  t.is((await api(b, 'PUT', 'sys/scheduler/jobs/engine-maintenance', { body: { paused: true } })).status, 200);
  await sleep(4500);
  const paused = (await runs(b)).filter((r) => r.kind === 'scheduled').slice(0, 2);
  t.true(paused.length > 0 && paused.every((r) => r.status === 'skipped'), JSON.stringify(paused));
  const manual = await api(b, 'POST', 'sys/scheduler/jobs/engine-maintenance/run');
  t.deepEqual((manual.json as { data: unknown }).data, { status: 'ok' });
  t.is((await api(b, 'PUT', 'sys/scheduler/jobs/engine-maintenance', { body: { paused: false } })).status, 200);
  await sleep(2500);
  t.is((await runs(b))[0]?.status, 'ok');

  t.is((await api(b, 'PUT', 'sys/scheduler/jobs/engine-maintenance', { body: { paused: 'maybe' } })).status, 400);
  t.is((await api(b, 'PUT', 'sys/scheduler/jobs/nope', { body: { paused: true } })).status, 404);
  t.is((await api(b, 'GET', 'sys/scheduler/jobs/engine-maintenance/history?limit=x')).status, 400);
  const token = ((await api(b, 'POST', 'auth/token/create', { body: { policies: ['default'] } })).json as { auth: { client_token: string } }).auth.client_token;
  t.is((await api(b, 'GET', 'sys/scheduler/jobs', { token })).status, 403);

  const bad = await startBroker({ env: { SEALBOX_MAINTENANCE_SCHEDULE: 'every tuesday' } }).then(
    (x) => x.stop().then(() => 'started'),
    (err: Error) => err.message,
  );
  t.regex(bad, /maintenance_schedule|cron/);
});
