// `sealbox rotation list|run|pause|resume|history` (issue 7), run as real CLI processes against a dev broker, using
// the barrier keyring rotation (sys/keyring) that every broker has.
import test from 'ava';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { runCli, type CliRun } from './helpers/cli.ts';

let b: Broker;
test.before(async () => {
  b = await startBroker();
});
test.after.always(async () => {
  await b.stop();
});

function cli(args: string[], token: string | null = b.rootToken): Promise<CliRun> {
  return runCli(b, args, { token });
}

/** The row of `id` in a table, split on runs of two or more spaces. */
const rowOf = (table: string, id: string): string[] | undefined =>
  table
    .split('\n')
    .map((l) => l.split(/\s{2,}/))
    .find((cols) => cols[0] === id);

test.serial('list shows sys/keyring; json parses', async (t) => {
  const r = await cli(['rotation', 'list']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^ID\s+KIND\s+SCHEDULE\s+NEXT RUN \(UTC\)\s+LAST RUN \(UTC\)\s+LAST STATUS\s+PAUSED\n/);
  t.deepEqual(rowOf(r.stdout, 'sys/keyring'), ['sys/keyring', 'keyring', 'on demand', '-', '-', '-', 'no']);
  const j = await cli(['rotation', 'list', '-format=json']);
  t.is(j.code, 0, j.stderr);
  const rows = (JSON.parse(j.stdout) as { data: { rotations: { id: string; paused: boolean }[] } }).data.rotations;
  t.true(rows.some((x) => x.id === 'sys/keyring' && !x.paused));
});

test.serial('run rotates the keyring; history shows the run', async (t) => {
  const before = (await api(b, 'GET', 'sys/key-status')).json as { data: { term: number } };
  const r = await cli(['rotation', 'run', 'sys/keyring']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'Success! Rotated sys/keyring\n');
  const after = (await api(b, 'GET', 'sys/key-status')).json as { data: { term: number } };
  t.is(after.data.term, before.data.term + 1);

  const j = await cli(['rotation', 'run', '-format', 'json', 'sys/keyring']);
  t.is(j.code, 0, j.stderr);
  t.is((JSON.parse(j.stdout) as { data: { status: string } }).data.status, 'ok');

  const h = await cli(['rotation', 'history', 'sys/keyring']);
  t.is(h.code, 0, h.stderr);
  const lines = h.stdout.trim().split('\n');
  t.regex(lines[0] ?? '', /^STARTED \(UTC\)\s+FINISHED \(UTC\)\s+KIND\s+STATUS\s+STEP\s+REPLICA\s+STEPS\s+ERROR$/);
  t.is(lines.length, 3, h.stdout);
  for (const l of lines.slice(1)) t.regex(l, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+manual\s+ok\s+-\s+\S+\s+create \d\d:\d\d:\d\d( -> \w+ \d\d:\d\d:\d\d)+\s+-$/);
  const hj = await cli(['rotation', 'history', '-limit=1', '-format=json', 'sys/keyring']);
  t.is(hj.code, 0, hj.stderr);
  const runs = (JSON.parse(hj.stdout) as { data: { runs: { status: string }[] } }).data.runs;
  t.is(runs.length, 1);
  t.is(runs[0]?.status, 'ok');

  const list = await cli(['rotation', 'list']);
  const row = rowOf(list.stdout, 'sys/keyring');
  t.is(row?.[5], 'ok');
  t.regex(row?.[4] ?? '', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
});

test.serial('pause and resume flip paused', async (t) => {
  const p = await cli(['rotation', 'pause', 'sys/keyring']);
  t.is(p.code, 0, p.stderr);
  t.is(p.stdout, 'Success! Paused rotation: sys/keyring\n');
  t.is(rowOf((await cli(['rotation', 'list'])).stdout, 'sys/keyring')?.[6], 'yes');
  t.true(((await api(b, 'GET', 'sys/rotations/sys/keyring')).json as { data: { paused: boolean } }).data.paused);
  const r = await cli(['rotation', 'resume', 'sys/keyring']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'Success! Resumed rotation: sys/keyring\n');
  t.is(rowOf((await cli(['rotation', 'list'])).stdout, 'sys/keyring')?.[6], 'no');
});

test('unknown ids exit 2 with the server message; usage mistakes exit 1', async (t) => {
  for (const args of [
    ['rotation', 'run', 'no/such/rotation'],
    ['rotation', 'pause', 'no/such/rotation'],
    ['rotation', 'resume', 'nope'],
    ['rotation', 'history', 'nope'],
  ]) {
    const r = await cli(args);
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /^Error: .*\(HTTP 404\)\n$/);
  }
  const denied = await cli(['rotation', 'list'], 'not-a-token');
  t.is(denied.code, 2);
  t.regex(denied.stderr, /permission denied \(HTTP 403\)/);
  const missing = await cli(['rotation', 'run']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /missing ID[\s\S]*usage: sealbox rotation run/);
  const extra = await cli(['rotation', 'pause', 'a', 'b']);
  t.is(extra.code, 1);
  const limit = await cli(['rotation', 'history', '-limit=0', 'sys/keyring']);
  t.is(limit.code, 1);
  t.regex(limit.stderr, /-limit must be between 1 and 1000/);
  const none = await cli(['rotation']);
  t.is(none.code, 1);
  t.regex(none.stderr, /usage: sealbox rotation <command>[\s\S]*pause/);
  const help = await cli(['rotation', 'history', '-help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^usage: sealbox rotation history/);
});

test.serial('operator key-status -wait shows the rewrap progress and returns once no value uses an old term', async (t) => {
  await Promise.all(Array.from({ length: 300 }, (_, i) => api(b, 'POST', `secret/data/rewrap/s${i}`, { body: { data: { v: i } } })));
  t.is((await api(b, 'PUT', 'sys/rotate')).status, 204);
  const r = await cli(['operator', 'key-status', '-wait', '-progress', '-format=json']);
  t.is(r.code, 0, r.stderr);
  const status = JSON.parse(r.stdout) as { data: { rewrap: { pending_values: number } } };
  t.is(status.data.rewrap.pending_values, 0);
  t.regex(r.stderr, /rewrapped \d[\d,]* entries/);
});
