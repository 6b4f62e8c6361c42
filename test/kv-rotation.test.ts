// Generated KV secrets (issue 7): a rotation policy on a KV v2 path (`<mount>/rotate-config/<path>`) writes a new
// version with a freshly generated value on a schedule or on demand (sys/rotations/<mount>/rotate/<path>/run).
// In-process broker with a fake clock: a schedule's slots come due by clock.advance and run with kick('rotations').
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';

let b: Broker;
test.before(async () => {
  // This file's schedules run every few seconds: lower the broker's rotation floor (rotation_min_interval, default 1 minute).
  b = await startApp({ env: { SEALBOX_ROTATION_MIN_INTERVAL: '1s' } });
});
test.after.always(async () => {
  await b.stop();
});

interface Version {
  data: Record<string, unknown>;
  metadata: { version: number };
}
async function latest(path: string): Promise<Version> {
  const r = await api(b, 'GET', `secret/data/${path}`);
  if (r.status !== 200) throw new Error(`read ${path}: ${r.status} ${r.text}`);
  return (r.json as { data: Version }).data;
}
interface RunWire {
  status: string;
  kind: string;
  started_at: string;
  finished_at: string | null;
  steps: { step: string; at: string }[];
}
const errorOf = (r: { json: unknown }): string => (r.json as { errors?: string[] } | undefined)?.errors?.[0] ?? '';

const LOWER = /[a-z]/g;
const UPPER = /[A-Z]/g;
const DIGITS = /[0-9]/g;
const n = (s: string, re: RegExp): number => (s.match(re) ?? []).length;

test.serial('a schedule every 2 s writes new versions with values from the generator, keeping the other fields', async (t) => {
  t.is((await api(b, 'POST', 'secret/data/app/db', { body: { data: { username: 'app', password: 'initial' } } })).status, 200);
  const cfg = await api(b, 'POST', 'secret/rotate-config/app/db', {
    body: { schedule: '*/2 * * * * *', key: 'password', generator: { length: 24, lower: 2, upper: 2, digits: 3 } },
  });
  t.is(cfg.status, 200, cfg.text);
  const read = await api(b, 'GET', 'secret/rotate-config/app/db');
  t.deepEqual((read.json as { data: unknown }).data, {
    key: 'password',
    generator: { length: 24, lower: 2, upper: 2, digits: 3 },
    schedule: '*/2 * * * * *',
    period: null,
    destroy_previous: false,
  });
  const rot = await api(b, 'GET', 'sys/rotations/secret/rotate/app/db');
  t.is(rot.status, 200, rot.text);
  t.is((rot.json as { data: { schedule: string } }).data.schedule, '*/2 * * * * *');

  // Two seconds of clock make exactly one slot of the schedule due; the rotations job runs it.
  const tick = async (): Promise<void> => {
    b.clock.advance(2_000);
    t.is(await b.kick('rotations'), 'ok');
  };
  const seen = new Map<number, string>();
  for (let i = 0; i < 3; i++) {
    await tick();
    const v = await latest('app/db');
    seen.set(v.metadata.version, String(v.data.password));
    t.is(v.data.username, 'app', 'other fields are kept');
  }
  t.deepEqual([...seen.keys()], [2, 3, 4], 'one rotation per slot');
  const values = [...seen.values()];
  t.is(new Set(values).size, values.length, 'every rotation makes a new value');
  for (const p of values) {
    t.is(p.length, 24);
    t.regex(p, /^[A-Za-z0-9]+$/);
    t.true(n(p, LOWER) >= 2 && n(p, UPPER) >= 2 && n(p, DIGITS) >= 3, p.replace(/./g, '*'));
  }
  const history = await api(b, 'GET', 'sys/rotations/secret/rotate/app/db/history');
  const runs = (history.json as { data: { runs: RunWire[] } }).data.runs;
  t.true(runs.filter((r) => r.status === 'ok' && r.kind === 'scheduled').length >= 3);
  // Each finished run lists every step it went through, in order, with non-decreasing times within the run's span.
  for (const r of runs.filter((x) => x.status === 'ok')) {
    t.deepEqual(
      r.steps.map((x) => x.step),
      ['create', 'set', 'test', 'finish'],
      JSON.stringify(r),
    );
    const times = r.steps.map((x) => Date.parse(x.at));
    t.is(times[0], Date.parse(r.started_at), 'the run starts with create');
    t.true(
      times.every((x, i) => i === 0 || x >= (times[i - 1] ?? x)),
      JSON.stringify(r.steps),
    );
    t.true((times.at(-1) ?? 0) <= Date.parse(r.finished_at ?? ''), 'the last step is entered before the run finished');
  }

  // Removing the policy stops the rotation and removes it from sys/rotations.
  t.is((await api(b, 'DELETE', 'secret/rotate-config/app/db')).status, 204);
  t.is((await api(b, 'GET', 'sys/rotations/secret/rotate/app/db')).status, 404);
  t.is((await api(b, 'GET', 'secret/rotate-config/app/db')).status, 404);
  const stopped = (await latest('app/db')).metadata.version;
  for (let i = 0; i < 3; i++) await tick();
  t.is((await latest('app/db')).metadata.version, stopped, 'three more slots of clock and no rotation');
  for (const p of values) t.false(b.logs().includes(p), 'no generated value in the logs');
});

test('POST sys/rotations/<id>/run writes a new version now (random bytes, hex), creating the secret', async (t) => {
  const cfg = await api(b, 'POST', 'secret/rotate-config/svc/token', { body: { key: 'token', generator: { bytes: 32, encoding: 'hex' } } });
  t.is(cfg.status, 200, cfg.text);
  t.is((await api(b, 'GET', 'secret/data/svc/token')).status, 404, 'nothing is written before the first rotation');
  const first = await api(b, 'POST', 'sys/rotations/secret/rotate/svc/token/run');
  t.is(first.status, 200, first.text);
  t.is((first.json as { data: { status: string } }).data.status, 'ok');
  const v1 = await latest('svc/token');
  t.is(v1.metadata.version, 1);
  t.regex(String(v1.data.token), /^[0-9a-f]{64}$/);
  t.is((await api(b, 'POST', 'sys/rotations/secret/rotate/svc/token/run')).status, 200);
  const v2 = await latest('svc/token');
  t.is(v2.metadata.version, 2);
  t.regex(String(v2.data.token), /^[0-9a-f]{64}$/);
  t.not(v2.data.token, v1.data.token);
  // The previous version stays readable (KV history).
  const old = await api(b, 'GET', 'secret/data/svc/token?version=1');
  t.is((old.json as { data: Version }).data.data.token, v1.data.token);

  // base64 and the default classes (lower, upper, digits, at least one of each).
  t.is((await api(b, 'POST', 'secret/rotate-config/svc/b64', { body: { generator: { bytes: 18 } } })).status, 200);
  t.is((await api(b, 'POST', 'sys/rotations/secret/rotate/svc/b64/run')).status, 200);
  const b64 = String((await latest('svc/b64')).data.password);
  t.is(Buffer.from(b64, 'base64').length, 18);
  t.is((await api(b, 'POST', 'secret/rotate-config/svc/pw', { body: { generator: { length: 12 } } })).status, 200);
  t.is((await api(b, 'POST', 'sys/rotations/secret/rotate/svc/pw/run')).status, 200);
  const pw = String((await latest('svc/pw')).data.password);
  t.is(pw.length, 12);
  t.true(n(pw, LOWER) >= 1 && n(pw, UPPER) >= 1 && n(pw, DIGITS) >= 1);
  t.is((await api(b, 'POST', 'secret/rotate-config/svc/sym', { body: { generator: { length: 40, symbols: 5, lower: 0 } } })).status, 200);
  t.is((await api(b, 'POST', 'sys/rotations/secret/rotate/svc/sym/run')).status, 200);
  const sym = String((await latest('svc/sym')).data.password);
  t.regex(sym, /^[a-z!#$%&()*+,\-./:;<=>?@[\]^_{|}~]{40}$/);
  t.true(sym.replace(/[a-z]/g, '').length >= 5);
});

test('an unsatisfiable generator, a bad cron and other bad input are 400s and register nothing', async (t) => {
  const cases: [unknown, RegExp][] = [
    [{ generator: { length: 4, lower: 3, digits: 3 } }, /cannot be satisfied: length 4 is shorter than the minimum counts \(3 lower \+ 3 digits = 6\)/],
    [{ generator: { length: 0 } }, /length: must be at least 1/],
    [{ generator: { length: 5000 } }, /generator/],
    [{ generator: { bytes: 0 } }, /bytes: must be from 1/],
    [{ generator: { bytes: 16, length: 8 } }, /either bytes/],
    [{ generator: { bytes: 16, encoding: 'base32' } }, /encoding/],
    [{ generator: { length: 8, emoji: 2 } }, /emoji|unrecognized|Unrecognized/],
    [{ generator: {} }, /needs length/],
    [{}, /generator/],
    [{ generator: { length: 8 }, schedule: 'every tuesday' }, /not a valid cron expression/],
    [{ generator: { length: 8 }, schedule: '*/2 * * * * *', period: '1h' }, /not both/],
    [{ generator: { length: 8 }, period: 'soon' }, /period/],
    [{ generator: { length: 8 }, key: '' }, /key/],
  ];
  for (const [body, re] of cases) {
    const r = await api(b, 'POST', 'secret/rotate-config/bad/one', { body });
    t.is(r.status, 400, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
    t.regex(errorOf(r), re, JSON.stringify(body));
  }
  t.is((await api(b, 'GET', 'secret/rotate-config/bad/one')).status, 404);
  t.is((await api(b, 'GET', 'sys/rotations/secret/rotate/bad/one')).status, 404);
  t.is((await api(b, 'POST', 'sys/rotations/secret/rotate/nothing/here/run')).status, 404);
  // Malformed JSON.
  t.is((await api(b, 'POST', 'secret/rotate-config/bad/two', { rawBody: '{"generator":', headers: { 'content-type': 'application/json' } })).status, 400);
});

test('a token without access to rotate-config cannot set a policy', async (t) => {
  t.is((await api(b, 'PUT', 'sys/policies/acl/kv-reader', { body: { policy: { path: { 'secret/data/*': { capabilities: ['read'] } } } } })).status, 204);
  const tok = await api(b, 'POST', 'auth/token/create', { body: { policies: ['kv-reader'] } });
  const token = (tok.json as { auth: { client_token: string } }).auth.client_token;
  const r = await api(b, 'POST', 'secret/rotate-config/x', { token, body: { generator: { length: 8 } } });
  t.is(r.status, 403);
});
