// Barrier keyring rotation (issue 7): the core rotation sys/keyring adds a key term, the keyring-rewrap job moves
// every stored value's DEK to it in the background (progress in sys/key-status), and the old term can then be
// retired. Over 10,000 KV secrets: a sample reads right after the rewrap, and every secret reads after the retire
// and a restart (which only the new term can open). In-process (test/helpers/app.ts): the clock moves and the jobs
// run only when the test says so. The 10,000-secret case stores on the harness's PostgreSQL: on embedded PGlite its
// ~20,000 requests cost about two CPU-minutes.
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, stopPostgres } from './helpers/postgres.ts';

test.after.always(() => stopPostgres());

const SECRETS = 10_000;
const CONCURRENCY = 24;

interface Rewrap {
  pending_values: number;
  done_values: number;
  old_terms_in_use: number[];
  retirable_terms: number[];
}
interface KeyStatus {
  term: number;
  install_time: string;
  encryptions: unknown;
  rewrap: Rewrap;
}

const valueOf = (i: number): string => `kr-${i}-${(i * 2654435761) % 1_000_003}`;

/** Runs fn(0..n-1) with `limit` calls in flight. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function keyStatus(b: Broker): Promise<KeyStatus> {
  const r = await api(b, 'GET', 'sys/key-status');
  if (r.status !== 200) throw new Error(`key-status: ${r.status} ${r.text}`);
  return (r.json as { data: KeyStatus }).data;
}

/** Reads every secret through the API; returns the indexes that did not read back their value. */
async function unreadable(b: Broker, indexes: readonly number[]): Promise<number[]> {
  const bad: number[] = [];
  await pool(indexes.length, CONCURRENCY, async (k) => {
    const i = indexes[k] ?? 0;
    const r = await api(b, 'GET', `secret/data/kr/${i}`);
    const v = (r.json as { data?: { data?: { v?: string } } } | undefined)?.data?.data?.v;
    if (r.status !== 200 || v !== valueOf(i)) bad.push(i);
  });
  return bad;
}

const all = Array.from({ length: SECRETS }, (_, i) => i);

test('keyring rotation: rewrap of 10,000 secrets, progress in key-status, retire of the old term, restart', async (t) => {
  t.timeout(600_000);
  const databaseUrl = await (await startPostgres()).createDatabase();
  const b = await startApp({ env: { SEALBOX_LOG_LEVEL: 'info' }, databaseUrl });
  t.teardown(() => b.stop());

  const t0 = Date.now();
  await pool(SECRETS, CONCURRENCY, async (i) => {
    const r = await api(b, 'POST', `secret/data/kr/${i}`, { body: { data: { v: valueOf(i) } } });
    if (r.status !== 200) throw new Error(`write ${i}: ${r.status} ${r.text}`);
  });
  t.log(`wrote ${SECRETS} secrets in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const before = await keyStatus(b);
  t.is(before.term, 1);
  t.deepEqual(before.rewrap.old_terms_in_use, []);
  t.is(before.rewrap.pending_values, 0);
  t.true(before.rewrap.done_values >= 2 * SECRETS, 'each KV secret is two stored values (metadata and version)');
  t.is(typeof before.install_time, 'string');

  // The core rotation is listed, with no schedule unless configured.
  const list = await api(b, 'GET', 'sys/rotations');
  const listed = (list.json as { data: { rotations: { id: string; kind: string; schedule: string | null; paused: boolean }[] } }).data.rotations;
  const kr = listed.find((r) => r.id === 'sys/keyring');
  t.truthy(kr, 'sys/keyring is a rotation');
  t.is(kr?.kind, 'keyring');
  t.is(kr?.schedule, null);

  const run = await api(b, 'POST', 'sys/rotations/sys/keyring/run', { timeoutMs: 120_000 });
  t.is(run.status, 200, run.text);
  t.is((run.json as { data: { status: string } }).data.status, 'ok');

  const right = await keyStatus(b);
  t.is(right.term, 2);
  t.deepEqual(right.rewrap.old_terms_in_use, [1], 'values still use term 1 right after the rotation');
  t.true(right.rewrap.pending_values > 0);

  // Old terms cannot be retired while in use; the current term never.
  const early = await api(b, 'POST', 'sys/keyring/retire', { body: { term: 1 } });
  t.is(early.status, 400);
  t.regex((early.json as { errors: string[] }).errors[0] ?? '', /still used by \d+ stored value/);
  const cur = await api(b, 'POST', 'sys/keyring/retire', { body: { term: 2 } });
  t.is(cur.status, 400);
  t.regex((cur.json as { errors: string[] }).errors[0] ?? '', /current term/);
  const junk = await api(b, 'POST', 'sys/keyring/retire', { body: { term: 'one' } });
  t.is(junk.status, 400);
  t.is((await api(b, 'POST', 'sys/keyring/retire', { body: { term: 99 } })).status, 400);

  // Progress: pending goes down to 0, one keyring-rewrap slot (every 5 s) at a time, each run through the scheduler.
  const seen: number[] = [right.rewrap.pending_values];
  let s = right;
  let slots = 0;
  while (s.rewrap.old_terms_in_use.length > 0) {
    if (++slots > 200) t.fail(`rewrap did not finish in 200 slots: ${JSON.stringify(s.rewrap)}`);
    b.clock.advance(5_000);
    const slot = await api(b, 'POST', 'sys/scheduler/jobs/keyring-rewrap/run', { timeoutMs: 120_000 });
    t.is(slot.status, 200, slot.text);
    s = await keyStatus(b);
    seen.push(s.rewrap.pending_values);
  }
  t.log(`rewrap progress (pending values): ${seen.join(' → ')}`);
  t.is(s.rewrap.pending_values, 0);
  t.true(s.rewrap.done_values >= 2 * SECRETS);
  t.deepEqual(s.rewrap.retirable_terms, [1]);
  for (let i = 1; i < seen.length; i++) t.true((seen[i] ?? 0) <= (seen[i - 1] ?? 0), 'pending never grows');

  // A sample reads now; every secret is read after the retire and a restart below, which only term 2 can open.
  t.deepEqual(await unreadable(b, all.filter((i) => i % 7 === 0)), [], 'secrets read after the rewrap');

  const retire = await api(b, 'POST', 'sys/keyring/retire', { body: { term: 1 } });
  t.is(retire.status, 200, retire.text);
  const again = await api(b, 'POST', 'sys/keyring/retire', { body: { term: 1 } });
  t.is(again.status, 400, 'a retired term is gone');
  const after = await keyStatus(b);
  t.deepEqual(after.rewrap.retirable_terms, []);
  t.deepEqual(after.rewrap.old_terms_in_use, []);

  // A sample after the retire (the full check follows the restart), and writes still work.
  t.deepEqual(await unreadable(b, all.filter((i) => i % 17 === 0)), []);
  t.is((await api(b, 'POST', 'secret/data/kr/new', { body: { data: { v: 'fresh' } } })).status, 200);

  const history = await api(b, 'GET', 'sys/rotations/sys/keyring/history');
  const runs = (history.json as { data: { runs: { status: string; kind: string }[] } }).data.runs;
  t.is(runs.length, 1);
  t.is(runs[0]?.status, 'ok');
  t.is(runs[0]?.kind, 'manual');

  const jobs = await api(b, 'GET', 'sys/scheduler/jobs/keyring-rewrap/history');
  t.is(jobs.status, 200, jobs.text);
  const jobRuns = (jobs.json as { data: { runs: { status: string }[] } }).data.runs;
  t.true(jobRuns.length > 0, 'the rewrap ran as scheduler slots');
  t.false(jobRuns.some((r) => r.status === 'failed'), JSON.stringify(jobRuns.slice(0, 3)));

  // Restart on the same data: the keyring without term 1 still opens everything.
  await b.stop();
  const b2 = await startApp({ dataDir: b.dataDir, rootToken: b.rootToken, databaseUrl });
  t.teardown(() => b2.stop());
  const restarted = await keyStatus(b2);
  t.is(restarted.term, 2);
  t.deepEqual(restarted.rewrap.old_terms_in_use, []);
  t.deepEqual(await unreadable(b2, all), [], 'every secret reads after a restart');

  const logs = b.logs() + b2.logs();
  for (const i of [0, 1, 4242, SECRETS - 1]) t.false(logs.includes(valueOf(i)), 'no secret value in the logs');
});

test('keyring rotation on a schedule (SEALBOX_KEYRING_ROTATION_SCHEDULE) and bad schedules', async (t) => {
  t.timeout(180_000);
  const b = await startApp({ env: { SEALBOX_KEYRING_ROTATION_SCHEDULE: '*/2 * * * * *' } });
  t.teardown(() => b.stop());
  t.is((await api(b, 'POST', 'secret/data/one', { body: { data: { v: 'scheduled-rotation-value' } } })).status, 200);
  // The rotations job ticks every second: two seconds of clock and a tick make one slot of the schedule due.
  const tick = async (ms: number): Promise<number> => {
    b.clock.advance(ms);
    await b.kick('rotations');
    return (await keyStatus(b)).term;
  };
  let term = 1;
  for (let i = 0; i < 12 && term < 3; i++) term = await tick(2_000);
  t.true(term >= 3, `scheduled rotations added terms (term ${term})`);
  const row = await api(b, 'GET', 'sys/rotations/sys/keyring');
  t.is((row.json as { data: { schedule: string } }).data.schedule, '*/2 * * * * *');
  // Pause: no more terms, however far the clock moves.
  t.is((await api(b, 'PUT', 'sys/rotations/sys/keyring', { body: { paused: true } })).status, 200);
  const paused = await tick(1_500);
  t.is(await tick(4_500), paused, 'a paused rotation does not run');
  t.is(await tick(60_000), paused, 'a paused rotation does not run');
  const read = await api(b, 'GET', 'secret/data/one');
  t.is((read.json as { data: { data: { v: string } } }).data.data.v, 'scheduled-rotation-value');
  const bad = await api(b, 'PUT', 'sys/rotations/sys/keyring', { body: { schedule: 'every tuesday' } });
  t.is(bad.status, 400);
  t.false(b.logs().includes('scheduled-rotation-value'));
});
