// The scheduler (issue 7 groundwork): exclusive jobs run each slot on exactly one replica, keep running when that
// replica dies, catch up a missed slot once after downtime, and can be listed, paused, run and reviewed.
// Only the SIGKILL test runs real processes on real time (node-cron's timers in two brokers; it waits for the slots
// it needs to have run, polling their history). The others run the app in-process with a fake clock: a test puts the
// clock on a slot and ticks the job (`app.jobs.tick`, what the job's timer does when its schedule matches).
import test from 'ava';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';
import { until } from './helpers/replica-pair.ts';
import { watchTable } from './helpers/activity.ts';

const EVERY_2S = { SEALBOX_MAINTENANCE_SCHEDULE: '*/2 * * * * *' };
const JOB = 'engine-maintenance';

interface Run {
  slot: string;
  kind: string;
  replica: string;
  status: string;
}

async function runs(b: Pick<Broker, 'address' | 'rootToken'>, job = JOB): Promise<Run[]> {
  const r = await api(b, 'GET', `sys/scheduler/jobs/${job}/history?limit=1000`);
  if (r.status !== 200) throw new Error(`history: ${r.status} ${r.text}`);
  return (r.json as { data: { runs: Run[] } }).data.runs;
}

/** The first even second (a slot of EVERY_2S) at least `ms` after `from`. */
const slotAfter = (from: number, ms = 0): number => Math.ceil((from + ms) / 2000) * 2000;

test('two replicas: every slot of an exclusive job runs once; killing the replica that ran the last slot does not stop the next', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const a = await startBroker({ databaseUrl, env: EVERY_2S });
  const b = await startBroker({ databaseUrl, dataDir: a.dataDir, rootToken: a.rootToken, env: EVERY_2S });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  // A slot that runs logs nothing: its job_runs rows are the event the waits re-check on.
  const stopWatch = await watchTable(databaseUrl, 'job_runs');
  t.teardown(stopWatch);
  const scheduled = async (x: Broker): Promise<Run[]> => (await runs(x)).filter((r) => r.kind === 'scheduled');
  // node-cron's timers in both processes: wait for three of their slots to have run (a condition, not a duration).
  await until('three scheduled slots have run', async () => (await scheduled(a)).filter((r) => r.status !== 'running').length >= 3, 60_000);
  const seen = await scheduled(a);
  t.is(new Set(seen.map((r) => r.slot)).size, seen.length, 'no slot ran twice');
  // A slot may be running as the history is read: the finished ones all succeeded.
  const before = seen.filter((r) => r.status !== 'running');
  t.true(before.length >= 3, `${before.length} slots ran`);
  t.true(before.every((r) => r.status === 'ok'), JSON.stringify(before));
  for (const r of before) t.is(new Date(r.slot).getUTCSeconds() % 2, 0, `slot ${r.slot} is on the schedule`);

  // The job_runs primary key is the guarantee; the logs of both processes show no second execution either.
  const last = seen[0];
  const victim = last?.replica.includes(String(a.proc.pid)) ? a : b;
  const survivor = victim === a ? b : a;
  await victim.stop('SIGKILL');
  const killedAt = Date.now();
  const afterKill = async (): Promise<Run[]> => (await scheduled(survivor)).filter((r) => new Date(r.slot).getTime() > killedAt);
  await until('two slots have run after the kill', async () => (await afterKill()).filter((r) => r.status !== 'running').length >= 2, 60_000);
  const after = (await afterKill()).filter((r) => r.status !== 'running');
  t.true(after.length >= 2, `${after.length} slots ran after the kill`);
  t.true(
    after.every((r) => r.replica.includes(String(survivor.proc.pid)) && r.status === 'ok'),
    JSON.stringify(after),
  );
});

test('two replicas on one PostgreSQL tick the same slot at once: it runs on one of them, once; off the schedule neither runs', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const a = await startApp({ databaseUrl, env: EVERY_2S });
  t.teardown(() => a.stop());
  const b = await startApp({ databaseUrl, dataDir: a.dataDir, rootToken: a.rootToken, env: EVERY_2S });
  t.teardown(() => b.stop());
  const both = (at: number) => {
    a.clock.set(at);
    b.clock.set(at);
    return Promise.all([a.app.jobs.tick(JOB), b.app.jobs.tick(JOB)]);
  };
  const first = slotAfter(Math.max(a.clock.now().getTime(), b.clock.now().getTime()), 1000);
  const slots = [0, 1, 2, 3, 4].map((i) => first + 2000 * i);
  const winners: InProcessBroker[] = [];
  for (const at of slots) {
    const outcomes = await both(at);
    t.deepEqual([...outcomes].sort(), ['not-claimed', 'ok'], `slot ${new Date(at).toISOString()}: ${outcomes.join(', ')}`);
    winners.push(outcomes[0] === 'ok' ? a : b);
    t.deepEqual(await both(at + 1000), ['not-due', 'not-due'], 'an odd second is no slot of */2');
  }

  for (const x of [a, b]) {
    const seen = (await runs(x)).filter((r) => r.kind === 'scheduled');
    t.deepEqual(seen.map((r) => Date.parse(r.slot)).sort(), slots, 'both replicas read one history: each slot once');
    t.true(seen.every((r) => r.status === 'ok'), JSON.stringify(seen));
  }
  const rows = await withPgClient(databaseUrl, async (c) => (await c.query(`SELECT slot, replica FROM job_runs WHERE job = $1 AND kind = 'scheduled' ORDER BY slot`, [JOB])).rows as { slot: Date; replica: string }[]);
  t.deepEqual(
    rows.map((r) => r.slot.getTime()),
    slots,
  );
  // Each slot's row names the replica whose tick ran it.
  const replicaOf = new Map<InProcessBroker, Set<string>>();
  rows.forEach((r, i) => {
    const w = winners[i];
    if (w) replicaOf.set(w, (replicaOf.get(w) ?? new Set()).add(r.replica));
  });
  for (const names of replicaOf.values()) t.is(names.size, 1, [...names].join(', '));
  if (replicaOf.size === 2) t.not([...(replicaOf.get(a) ?? [])][0], [...(replicaOf.get(b) ?? [])][0]);

  // The replica left runs every slot after the other has gone.
  await a.stop();
  for (const at of [first + 10_000, first + 12_000]) {
    b.clock.set(at);
    t.is(await b.app.jobs.tick(JOB), 'ok');
  }
});

test('a slot missed while the broker was down runs once at start-up, not once per missed slot', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  // The first broker's timers run (as a real broker's do): it stores the job's next due time.
  const first = await startApp({ databaseUrl, env: EVERY_2S, timers: true });
  const list = await api(first, 'GET', 'sys/scheduler/jobs');
  t.is(list.status, 200);
  const listed = (list.json as { data: { jobs: { id: string; next_run_at: string | null }[] } }).data.jobs.find((j) => j.id === JOB);
  t.truthy(listed?.next_run_at, 'the running timer lists the next slot');
  await first.stop();
  const nextDue = await withPgClient(databaseUrl, async (c) => (await c.query(`SELECT next_run_at FROM scheduled_jobs WHERE name = $1`, [JOB])).rows[0].next_run_at as Date);

  // Three or four slots pass with no broker: the next one starts 7 s after the stored due time.
  const startAt = slotAfter(nextDue.getTime(), 7000) + 500;
  const again = await startApp({ databaseUrl, dataDir: first.dataDir, rootToken: first.rootToken, env: EVERY_2S, startAt });
  t.teardown(() => again.stop());
  const catchups = (await runs(again)).filter((r) => r.kind === 'catchup');
  t.is(catchups.length, 1, JSON.stringify(catchups));
  t.is(catchups[0]?.status, 'ok');
  t.is(catchups[0] && Date.parse(catchups[0].slot), nextDue.getTime(), 'the catch-up is the missed due slot');

  // The slots after start-up are scheduled runs, never a second catch-up.
  for (const at of [slotAfter(startAt), slotAfter(startAt) + 2000]) {
    again.clock.set(at);
    t.is(await again.app.jobs.tick(JOB), 'ok');
  }
  const rows = await withPgClient(databaseUrl, async (c) => (await c.query(`SELECT count(*)::int AS n FROM job_runs WHERE kind = 'catchup'`)).rows[0].n as number);
  t.is(rows, 1);
  t.is((await runs(again)).filter((r) => r.kind === 'catchup').length, 1);
});

test('operators list, pause, resume and run jobs and read their history; bad input is a 4xx; non-sudo tokens are refused', async (t) => {
  const b = await startApp({ env: EVERY_2S });
  t.teardown(() => b.stop());
  const list = await api(b, 'GET', 'sys/scheduler/jobs');
  t.is(list.status, 200);
  const jobs = (list.json as { data: { jobs: { id: string; schedule: string; next_run_at: string | null; paused: boolean }[] } }).data.jobs;
  t.deepEqual(jobs.map((j) => j.id).sort(), ['audit-checkpoint', 'engine-maintenance', 'job-history-prune', 'keyring-rewrap', 'lease-expiry', 'lease-intent-sweep', 'lease-orphan-sweep', 'login-failures-prune', 'rate-limit-counter-purge', 'rate-limit-sweep', 'rotations', 'token-tidy']);
  const maint = jobs.find((j) => j.id === JOB);
  t.is(maint?.schedule, '*/2 * * * * *');
  t.is(maint?.paused, false);

  t.is((await api(b, 'PUT', `sys/scheduler/jobs/${JOB}`, { body: { paused: true } })).status, 200);
  t.true(((await api(b, 'GET', 'sys/scheduler/jobs')).json as { data: { jobs: { id: string; paused: boolean }[] } }).data.jobs.find((j) => j.id === JOB)?.paused);
  // Two slots come while paused: both are claimed and recorded as skipped.
  let at = slotAfter(b.clock.now().getTime(), 1000);
  for (let i = 0; i < 2; i++, at += 2000) {
    b.clock.set(at);
    t.is(await b.app.jobs.tick(JOB), 'skipped');
  }
  const paused = (await runs(b)).filter((r) => r.kind === 'scheduled').slice(0, 2);
  t.true(paused.length === 2 && paused.every((r) => r.status === 'skipped'), JSON.stringify(paused));
  // A manual run is a slot of its own (the clock's now, here between two scheduled slots) and ignores the pause.
  b.clock.set(at - 1000);
  const manual = await api(b, 'POST', `sys/scheduler/jobs/${JOB}/run`);
  t.deepEqual((manual.json as { data: unknown }).data, { status: 'ok' });
  t.is((await api(b, 'PUT', `sys/scheduler/jobs/${JOB}`, { body: { paused: false } })).status, 200);
  b.clock.set(at);
  t.is(await b.app.jobs.tick(JOB), 'ok');
  const latest = (await runs(b))[0];
  t.is(latest?.status, 'ok');
  t.is(latest && Date.parse(latest.slot), at);
  t.is(latest?.kind, 'scheduled');

  t.is((await api(b, 'PUT', `sys/scheduler/jobs/${JOB}`, { body: { paused: 'maybe' } })).status, 400);
  t.is((await api(b, 'PUT', 'sys/scheduler/jobs/nope', { body: { paused: true } })).status, 404);
  t.is((await api(b, 'GET', `sys/scheduler/jobs/${JOB}/history?limit=x`)).status, 400);
  const token = ((await api(b, 'POST', 'auth/token/create', { body: { policies: ['default'] } })).json as { auth: { client_token: string } }).auth.client_token;
  t.is((await api(b, 'GET', 'sys/scheduler/jobs', { token })).status, 403);

  // A real broker process refuses a bad schedule at start.
  const bad = await startBroker({ env: { SEALBOX_MAINTENANCE_SCHEDULE: 'every tuesday' } }).then(
    (x) => x.stop().then(() => 'started'),
    (err: Error) => err.message,
  );
  t.regex(bad, /maintenance_schedule|cron/);
});

test('a run-now on the very second of a scheduled slot is a run of its own: neither takes the other’s slot', async (t) => {
  const b = await startApp({ env: EVERY_2S });
  t.teardown(() => b.stop());
  const at = slotAfter(b.clock.now().getTime(), 1000);
  b.clock.set(at);
  // Manual first, then the timer's tick on the same millisecond …
  t.deepEqual(((await api(b, 'POST', `sys/scheduler/jobs/${JOB}/run`)).json as { data: unknown }).data, { status: 'ok' });
  t.is(await b.app.jobs.tick(JOB), 'ok');
  // … and the other way round on the next slot.
  b.clock.set(at + 2000);
  t.is(await b.app.jobs.tick(JOB), 'ok');
  t.deepEqual(((await api(b, 'POST', `sys/scheduler/jobs/${JOB}/run`)).json as { data: unknown }).data, { status: 'ok' });
  const history = await runs(b);
  t.deepEqual(
    history.filter((r) => r.kind === 'scheduled').map((r) => [Date.parse(r.slot), r.status]),
    [[at + 2000, 'ok'], [at, 'ok']],
  );
  t.is(history.filter((r) => r.kind === 'manual' && r.status === 'ok').length, 2);
});
