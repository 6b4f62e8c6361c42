// Database static roles and scheduled root rotation (issue 7): existing PostgreSQL users whose passwords the broker
// rotates through core's persisted create → set → test → finish state machine, by schedule and by rotate-role, with
// the `single` and `alternating` strategies; crash safety at every step (SIGKILL through test-only failpoints, then
// a restart on the same data); zero failed logins across alternating rotations; one run per slot across two
// replicas; the rotation/finished event; and bad input. Targets are real PostgreSQL databases.
// Most tests run the broker in-process (test/helpers/app.ts): a schedule's slot comes when the test sets the clock to
// it and runs the rotations job. Real processes stay where they are the point: SIGKILL (at a failpoint, or of a
// replica) and two replicas running slots on their own timers.
import test from 'ava';
import pg from 'pg';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { until } from './helpers/replica-pair.ts';
import { subscribe, tokenWith, type Sse } from './helpers/sse.ts';
import { startPostgres, withPgClient, type PgCluster } from './helpers/postgres.ts';

// This file's schedules run every few seconds: lower the broker's rotation floor (rotation_min_interval, default 1 minute).
process.env.SEALBOX_ROTATION_MIN_INTERVAL = '1s';

interface Target {
  cluster: PgCluster;
  url: string;
  dbName: string;
}
interface Creds {
  username: string;
  password: string;
}
interface StaticCreds extends Creds {
  ttl: number;
  last_vault_rotation: string;
}
interface RotationWire {
  id: string;
  next_run_at: string | null;
  last_status: string | null;
  last_error: string | null;
  last_run_at: string | null;
  in_progress: { run_id: string; step: string } | null;
}
interface RunWire {
  run_id: string;
  slot: string | null;
  kind: string;
  replica: string;
  status: string;
  step: string | null;
}

/** What the HTTP helpers need: a spawned broker or an in-process one. */
type Http = Pick<Broker, 'address' | 'rootToken'>;
let seq = 0;
/** Role names are cluster-wide: unique per test. */
const uniq = (p: string) => `${p}_${process.pid}_${++seq}`;

async function newTarget(): Promise<Target> {
  const cluster = await startPostgres();
  const url = await cluster.createDatabase();
  return { cluster, url, dbName: new URL(url).pathname.slice(1) };
}

/** Creates LOGIN users with a known initial password (the one the operator had before handing them over). */
async function createUsers(target: Target, names: string[]): Promise<void> {
  await withPgClient(target.url, async (c) => {
    for (const n of names) await c.query(`CREATE ROLE ${pg.escapeIdentifier(n)} LOGIN PASSWORD ${pg.escapeLiteral(`initial-${n}`)}`);
  });
}

/** Mounts database/ and a config `main` (as `user`, default the cluster's superuser). */
async function mountDatabase(b: Http, target: Target, config: Record<string, unknown> = {}, user?: Creds): Promise<void> {
  let r = await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } });
  if (r.status !== 204 && !r.text.includes('already in use')) throw new Error(`mount: ${r.status} ${r.text}`);
  r = await api(b, 'POST', 'database/config/main', {
    body: {
      plugin_name: 'postgresql-database-plugin',
      connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
      username: user?.username ?? target.cluster.user,
      password: user?.password ?? target.cluster.password,
      allowed_roles: '*',
      ...config,
    },
  });
  if (r.status >= 300) throw new Error(`config: ${r.status} ${r.text}`);
}

async function writeStatic(b: Http, name: string, body: Record<string, unknown>): Promise<void> {
  const r = await api(b, 'POST', `database/static-roles/${name}`, { body: { db_name: 'main', ...body } });
  if (r.status !== 204) throw new Error(`static role: ${r.status} ${r.text}`);
}

async function staticCreds(b: Http, name: string, token?: string): Promise<StaticCreds> {
  const r = await api(b, 'GET', `database/static-creds/${name}`, token ? { token } : {});
  if (r.status !== 200) throw new Error(`static-creds: ${r.status} ${r.text}`);
  return (r.json as { data: StaticCreds }).data;
}

async function rotateRole(b: Http, name: string): Promise<void> {
  const r = await api(b, 'POST', `database/rotate-role/${name}`, { timeoutMs: 60_000 });
  if (r.status !== 204) throw new Error(`rotate-role: ${r.status} ${r.text}`);
}

async function rotation(b: Http, id: string): Promise<RotationWire> {
  const r = await api(b, 'GET', `sys/rotations/${id}`);
  if (r.status !== 200) throw new Error(`sys/rotations/${id}: ${r.status} ${r.text}`);
  return (r.json as { data: RotationWire }).data;
}

async function history(b: Http, id: string): Promise<RunWire[]> {
  const r = await api(b, 'GET', `sys/rotations/${id}/history`);
  if (r.status !== 200) throw new Error(`history: ${r.status} ${r.text}`);
  return (r.json as { data: { runs: RunWire[] } }).data.runs;
}

async function canLogin(target: Target, c: Creds): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: c.username, password: c.password, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The slot of a schedule, now: the in-process broker's clock goes to the rotation's next run and the rotations job
 * runs (it drives every due rotation to its end before it returns).
 */
async function runNextSlot(b: InProcessBroker, id: string): Promise<void> {
  const next = (await rotation(b, id)).next_run_at;
  if (next === null) throw new Error(`${id} has no next run`);
  if (Date.parse(next) > b.clock.now().getTime()) b.clock.set(next);
  const outcome = await b.kick('rotations');
  if (outcome !== 'ok') throw new Error(`the rotations job: ${outcome}`);
}

/** sse.ts is typed for a spawned broker but uses only its address (and, through api, its root token). */
const sseBroker = (b: InProcessBroker): Broker => b as unknown as Broker;

const errorsOf = (r: { json: unknown }): string => ((r.json as { errors?: string[] } | undefined)?.errors ?? []).join(' ');

// ---------------------------------------------------------------------------------------------------------------

test.serial('single: rotated by schedule and by rotate-role; each new password logs in and the old one stops working', async (t) => {
  const target = await newTarget();
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target);
  const user = uniq('svc');
  await createUsers(target, [user]);
  const id = `database/static-roles/app`;

  await writeStatic(b, 'app', { username: user, rotation_schedule: '*/3 * * * * *' });
  // Created, it is rotated at once: the operator's initial password no longer works.
  const c0 = await staticCreds(b, 'app');
  t.is(c0.username, user);
  t.true(await canLogin(target, c0));
  t.false(await canLogin(target, { username: user, password: `initial-${user}` }));
  t.true(c0.ttl >= 0 && c0.ttl <= 3, `ttl ${c0.ttl}`);
  const role = (await api(b, 'GET', 'database/static-roles/app')).json as { data: Record<string, unknown> };
  t.like(role.data, { db_name: 'main', username: user, rotation_schedule: '*/3 * * * * *', rotation_strategy: 'single', credential_type: 'password' });
  t.false(JSON.stringify(role.data).includes(c0.password), 'a static role read never shows the password');
  t.is((await api(b, 'GET', 'database/static-roles?list=true')).status, 200);

  // By schedule: each slot rotates it, and the slot after it is next (counted on the broker's clock).
  let c1 = c0;
  for (let i = 0; i < 3; i++) {
    await runNextSlot(b, id);
    const c = await staticCreds(b, 'app');
    t.not(c.password, c1.password, 'the slot rotated it');
    const next = (await rotation(b, id)).next_run_at;
    t.is(next === null ? null : Date.parse(next) - b.clock.now().getTime(), 3000, `slot ${i + 1}: the next run is the next slot`);
    c1 = c;
  }
  t.true(await canLogin(target, c1));
  t.false(await canLogin(target, c0), 'single: the old password stops working');
  t.true(Date.parse(c1.last_vault_rotation) > Date.parse(c0.last_vault_rotation));
  const runs = await history(b, id);
  t.true(runs.some((r) => r.kind === 'scheduled' && r.status === 'ok'), JSON.stringify(runs));

  // By rotate-role (the schedule paused, so that only rotate-role changes it).
  t.is((await api(b, 'PUT', `sys/rotations/${id}`, { body: { paused: true } })).status, 200);
  b.clock.advance(9_000);
  t.is(await b.kick('rotations'), 'ok');
  const c1b = await staticCreds(b, 'app');
  t.is(c1b.password, c1.password, 'paused: its slots pass without a rotation');
  await rotateRole(b, 'app');
  const c2 = await staticCreds(b, 'app');
  t.not(c2.password, c1b.password);
  t.true(await canLogin(target, c2));
  t.false(await canLogin(target, c1b));
  t.true((await history(b, id)).some((r) => r.kind === 'manual' && r.status === 'ok'));

  // An operator reschedules it through sys/rotations: static-creds' ttl follows the stored schedule.
  t.is((await api(b, 'PUT', `sys/rotations/${id}`, { body: { schedule: '0 0 1 1 *' } })).status, 200);
  const creds = (await api(b, 'GET', 'database/static-creds/app')).json as { data: { ttl: number } };
  t.true(creds.data.ttl > 86_400, `ttl ${creds.data.ttl}`);

  // Its verifier is SCRAM, set by the broker.
  const verifier = await withPgClient(target.url, async (c) => (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [user])).rows[0].rolpassword as string);
  t.regex(verifier, /^SCRAM-SHA-256\$4096:/);
  // Delete: the rotation goes too.
  t.is((await api(b, 'DELETE', 'database/static-roles/app')).status, 204);
  t.is((await api(b, 'GET', `sys/rotations/${id}`)).status, 404);
  t.is((await api(b, 'GET', 'database/static-creds/app')).status, 400);
  t.true(await canLogin(target, c2), 'deleting the static role leaves the user alone');
  for (const c of [c0, c1, c2]) t.false(b.logs().includes(c.password), 'no password in the logs');
});

test.serial('alternating: the user not handed out is rotated, then they flip; the previous credentials work for one more period', async (t) => {
  const target = await newTarget();
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target);
  const [a, z] = [uniq('alt_a'), uniq('alt_b')];
  await createUsers(target, [a, z]);

  await writeStatic(b, 'pair', { rotation_strategy: 'alternating', usernames: [a, z], rotation_period: '1h' });
  const c0 = await staticCreds(b, 'pair');
  t.is(c0.username, a);
  t.true(c0.ttl > 3500 && c0.ttl <= 3600, `ttl ${c0.ttl}`);
  t.true(await canLogin(target, c0));
  const read = (await api(b, 'GET', 'database/static-roles/pair')).json as { data: Record<string, unknown> };
  t.like(read.data, { rotation_strategy: 'alternating', usernames: [a, z], rotation_period: 3600, username: a });

  await rotateRole(b, 'pair');
  const c1 = await staticCreds(b, 'pair');
  t.is(c1.username, z);
  t.true(await canLogin(target, c1));
  t.true(await canLogin(target, c0), 'the previous credentials still work (overlap)');

  await rotateRole(b, 'pair');
  const c2 = await staticCreds(b, 'pair');
  t.is(c2.username, a);
  t.true(await canLogin(target, c2));
  t.true(await canLogin(target, c1), 'the previous credentials still work (overlap)');
  t.false(await canLogin(target, c0), 'two rotations later they do not');

  // Now on a schedule: a scheduled rotation flips again.
  await writeStatic(b, 'pair', { rotation_schedule: '*/3 * * * * *' });
  await runNextSlot(b, 'database/static-roles/pair');
  const c3 = await staticCreds(b, 'pair');
  t.not(c3.password, c2.password, 'the slot rotated it');
  t.is(c3.username, z);
  t.true(await canLogin(target, c3));
  t.true(await canLogin(target, c2));
  for (const c of [c0, c1, c2, c3]) t.false(b.logs().includes(c.password));
});

test.serial('zero downtime: a client that refreshes from static-creds when its login fails sees no failed login across 20 alternating rotations', async (t) => {
  const target = await newTarget();
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target);
  const users = [uniq('zd_a'), uniq('zd_b')];
  await createUsers(target, users);
  await writeStatic(b, 'zd', { rotation_strategy: 'alternating', usernames: users, rotation_period: '24h' });

  let stop = false;
  const stats = { logins: 0, staleOwn: 0, refreshes: 0, failedFresh: 0 };
  /** Told after each round of the client (one login, or a failed one, a refresh and another). */
  const rounds = new Set<() => void>();
  const client = (async () => {
    let creds = await staticCreds(b, 'zd');
    while (!stop) {
      if (await canLogin(target, creds)) stats.logins++;
      else {
        stats.staleOwn++;
        creds = await staticCreds(b, 'zd');
        stats.refreshes++;
        if (await canLogin(target, creds)) stats.logins++;
        else stats.failedFresh++;
      }
      for (const r of [...rounds]) r();
    }
  })();
  const clientEnded = client.then(() => {
    throw new Error('the client stopped');
  });
  clientEnded.catch(() => undefined);
  /** Resolves once the client has logged in `n` more times. */
  const logins = (n: number): Promise<void> => {
    const want = stats.logins + n;
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (stats.logins < want) return;
        rounds.delete(check);
        resolve();
      };
      rounds.add(check);
    });
  };
  for (let i = 0; i < 20; i++) {
    await rotateRole(b, 'zd');
    // Rotations are a period apart in real life; here a few logins of the client apart.
    await Promise.race([logins(3), clientEnded]);
  }
  stop = true;
  await client;
  t.log(stats);
  t.is(stats.failedFresh, 0, 'no login with fresh credentials failed');
  t.true(stats.staleOwn > 0, 'the client did hold credentials that were rotated away (and recovered)');
  t.true(stats.logins >= 60, `${stats.logins} logins`);
  const runs = await history(b, 'database/static-roles/zd');
  t.is(runs.filter((r) => r.status === 'ok').length, 21);
});

test.serial('an event reaches a subscriber within 1 s of a rotation; a token without read access to the path gets nothing', async (t) => {
  const target = await newTarget();
  const app = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => app.stop());
  const b = sseBroker(app);
  await mountDatabase(b, target);
  const user = uniq('ev');
  await createUsers(target, [user]);
  await writeStatic(b, 'ev', { username: user, rotation_period: '1h' });

  const subscribing = { 'sys/events/subscribe': { capabilities: ['read'] } };
  const reader = await tokenWith(b, { ...subscribing, 'database/static-creds/ev': { capabilities: ['read'] } });
  const outsider = await tokenWith(b, { ...subscribing, 'secret/*': { capabilities: ['read'] }, 'database/static-creds/other': { capabilities: ['read'] } });
  // Subscribed once the answer has come: the broker adds the listener before it sends the response head.
  const [mine, theirs, root] = await Promise.all([subscribe(b, reader), subscribe(b, outsider), subscribe(b, b.rootToken)]);
  t.teardown(() => {
    for (const s of [mine, theirs, root]) s.close();
  });
  t.deepEqual([mine.status, theirs.status, root.status], [200, 200, 200]);

  const lags: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = mine.events.length;
    await rotateRole(b, 'ev');
    const done = Date.now();
    const e = await mine.waitFor((x) => x.event === 'rotation/finished' && mine.events.indexOf(x as Sse['events'][number]) >= before, 5000);
    lags.push(e.at - done);
    t.like(e.data, { type: 'rotation/finished', path: 'database/static-creds/ev' });
    // The agent re-reads at once and gets the new password.
    t.true(await canLogin(target, await staticCreds(b, 'ev', reader)));
  }
  t.log(`event arrival relative to the rotate-role response: ${lags.join(', ')} ms`);
  // How fast is bench/rotation-event's figure (p99 at each subscriber); here each event must arrive (5 s deadline above).
  await root.waitFor((x) => x.event === 'rotation/finished' && x.data.path === 'database/static-roles/ev');
  // Each subscriber's events are checked and sent in the order published: once the outsider hears of a later write
  // it may read, the rotations' events (published before it) were withheld, not late.
  t.is((await api(b, 'POST', 'secret/data/after-rotations', { body: { data: { a: 1 } } })).status, 200);
  await theirs.waitFor((x) => x.event === 'kv-v2/data-write' && x.data.path === 'secret/data/after-rotations');
  t.deepEqual(theirs.events.filter((e) => e.event.startsWith('rotation')), [], 'no read access to the path: nothing');
  t.false(JSON.stringify([...mine.events, ...root.events]).includes((await staticCreds(b, 'ev')).password), 'events carry no secret');
});

test.serial('root credentials on a schedule: the broker user gets a new password nobody is shown; creds and static roles keep working', async (t) => {
  const target = await newTarget();
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  const brokerUser = { username: uniq('brk'), password: 'broker-initial-pw' };
  const group = uniq('grp');
  const svc = uniq('rsvc');
  await withPgClient(target.url, async (c) => {
    await c.query(`CREATE ROLE ${brokerUser.username} LOGIN CREATEROLE PASSWORD '${brokerUser.password}'`);
    await c.query(`CREATE ROLE ${group} NOLOGIN`);
    await c.query(`GRANT ${group} TO ${brokerUser.username} WITH ADMIN OPTION`);
  });
  await createUsers(target, [svc]);
  // Vault 1.18's name (rotation_schedule) for the root schedule.
  await mountDatabase(b, target, { rotation_schedule: '*/3 * * * * *' }, brokerUser);
  const cfg = (await api(b, 'GET', 'database/config/main')).json as { data: Record<string, unknown> };
  t.like(cfg.data, { root_rotation_schedule: '*/3 * * * * *', rotation_schedule: '*/3 * * * * *' });
  await runNextSlot(b, 'database/root/main');
  const rot = await rotation(b, 'database/root/main');
  t.like(rot, { last_status: 'ok', in_progress: null }, 'the scheduled root rotation ran');
  t.truthy(rot.last_run_at);
  t.false(await canLogin(target, brokerUser), 'the initial root password no longer works');
  t.false(JSON.stringify(cfg).includes('broker-initial-pw'));

  // The broker still works with the password only it knows.
  t.is((await api(b, 'POST', 'database/roles/dyn', { body: { db_name: 'main', default_group: group, default_ttl: '5m' } })).status, 204);
  const minted = await api(b, 'GET', 'database/creds/dyn');
  t.is(minted.status, 200, minted.text);
  t.true(await canLogin(target, (minted.json as { data: Creds }).data));
  await writeStatic(b, 'svc', { username: svc, rotation_period: '1h' });
  t.true(await canLogin(target, await staticCreds(b, 'svc')));
  // Another scheduled root rotation, then rotate-root by hand: all still fine.
  const first = rot.last_run_at ?? '';
  await runNextSlot(b, 'database/root/main');
  const second = await rotation(b, 'database/root/main');
  t.is(second.last_status, 'ok', 'a second root rotation ran');
  t.true((second.last_run_at ?? '') > first, `${second.last_run_at} after ${first}`);
  t.is((await history(b, 'database/root/main')).filter((r) => r.kind === 'scheduled' && r.status === 'ok').length, 2);
  t.is((await api(b, 'POST', 'database/rotate-root/main')).status, 204);
  t.is((await api(b, 'GET', 'database/creds/dyn')).status, 200);
  // Unscheduled: the rotation goes away.
  t.is((await api(b, 'POST', 'database/config/main', { body: { root_rotation_schedule: '' } })).status, 204);
  t.is((await api(b, 'GET', 'sys/rotations/database/root/main')).status, 404);
  t.is((await api(b, 'GET', 'database/creds/dyn')).status, 200);
});

test.serial('exactly once: two replicas, a slot every 2 s; each slot runs once; killing the replica that ran the last slot does not stop later slots', async (t) => {
  const target = await newTarget();
  const databaseUrl = await target.cluster.createDatabase();
  const first = await startBroker({ databaseUrl });
  const second = await startBroker({ databaseUrl, dataDir: first.dataDir, rootToken: first.rootToken });
  t.teardown(async () => {
    await first.stop();
    await second.stop();
  });
  await mountDatabase(first, target);
  const user = uniq('once');
  await createUsers(target, [user]);
  const id = 'database/static-roles/once';
  await writeStatic(first, 'once', { username: user, rotation_schedule: '*/2 * * * * *' });
  // The replicas' own timers run the slots (real time): wait until three of them have finished.
  let runs: RunWire[] = [];
  await until(
    'three scheduled slots to finish',
    async () => {
      runs = (await history(first, id)).filter((r) => r.kind === 'scheduled');
      return runs.filter((r) => r.status === 'ok').length >= 3;
    },
    60_000,
  );
  t.true(runs.length >= 3, `${runs.length} scheduled runs`);
  const slots = runs.map((r) => r.slot);
  t.is(new Set(slots).size, slots.length, `no slot ran twice: ${slots.join(', ')}`);
  for (const r of runs.slice(1)) t.is(r.status, 'ok', JSON.stringify(r));
  const pidOf = (r: RunWire) => Number(r.replica.split('/').pop());
  const byReplica = new Set(runs.map(pidOf));
  t.log(`replicas that ran slots: ${[...byReplica].join(', ')} (first ${first.proc.pid}, second ${second.proc.pid})`);

  const last = runs.find((r) => r.status === 'ok');
  if (!last) throw new Error('no finished scheduled run');
  const victim = pidOf(last) === first.proc.pid ? first : second;
  const survivor = victim === first ? second : first;
  await victim.stop('SIGKILL');
  const killedAt = Date.now();

  let later: RunWire[] = [];
  await until(
    'slots after the kill to run on the survivor',
    async () => {
      later = (await history(survivor, id)).filter((r) => r.kind === 'scheduled' && r.status === 'ok' && r.slot !== null && Date.parse(r.slot) > killedAt);
      return later.length >= 2;
    },
    40_000,
  );
  for (const r of later) t.is(pidOf(r), survivor.proc.pid ?? -1);
  const all = (await history(survivor, id)).filter((r) => r.kind === 'scheduled');
  t.is(new Set(all.map((r) => r.slot)).size, all.length, 'still no slot ran twice');
  t.true(all.every((r) => r.status === 'ok' || r.status === 'running'), JSON.stringify(all.filter((r) => r.status === 'failed')));
  // The stored current credential logs in.
  await api(survivor, 'PUT', `sys/rotations/${id}`, { body: { paused: true } });
  await until('the run in progress to finish', async () => (await rotation(survivor, id)).in_progress === null);
  t.true(await canLogin(target, await staticCreds(survivor, 'once')));
});

const FAILPOINTS = ['rotation:after-create', 'rotation:after-set-before-persist', 'rotation:after-set', 'rotation:after-test', 'rotation:after-finish-before-persist'];

for (const failpoint of FAILPOINTS) {
  test(`crash safety: SIGKILL at ${failpoint}, restart without it: the rotation completes and nobody is locked out`, async (t) => {
    const target = await newTarget();
    const databaseUrl = await target.cluster.createDatabase();
    // The setup needs no process of its own (nor, below, the restart): only the broker killed at the failpoint is one.
    const setup = await startApp({ databaseUrl });
    await mountDatabase(setup, target);
    const [solo, a, z] = [uniq('crash'), uniq('crash_a'), uniq('crash_b')];
    await createUsers(target, [solo, a, z]);
    await writeStatic(setup, 'solo', { username: solo, rotation_period: '1h' });
    await writeStatic(setup, 'pair', { rotation_strategy: 'alternating', usernames: [a, z], rotation_period: '1h' });
    const before = await staticCreds(setup, 'solo');
    const pairBefore = await staticCreds(setup, 'pair');
    await setup.stop();

    const opts = { databaseUrl, dataDir: setup.dataDir, rootToken: setup.rootToken };
    const crashing = await startBroker({ ...opts, env: { SEALBOX_TEST_MODE: '1', SEALBOX_TEST_FAILPOINTS: failpoint } });
    t.teardown(() => crashing.stop());
    const died = await api(crashing, 'POST', 'database/rotate-role/solo').then(
      (r) => `answered ${r.status} ${r.text}`,
      (err: Error) => err,
    );
    t.true(died instanceof Error, `the request dies with the process: ${String(died)}`);
    await crashing.stop();
    t.is(crashing.proc.signalCode, 'SIGKILL');

    // The restart, on the same data: its clock goes past the dead broker's claim (15 s, kept alive by its heartbeat
    // until the kill), then its rotations job resumes the run from the stored step.
    const again = await startApp(opts);
    t.teardown(() => again.stop());
    const id = 'database/static-roles/solo';
    again.clock.advance(16_000);
    t.is(await again.kick('rotations'), 'ok');
    const done = await rotation(again, id);
    t.like(done, { last_status: 'ok', in_progress: null, last_error: null });
    t.true(Date.parse(done.last_run_at ?? '') > Date.parse(before.last_vault_rotation), `last run ${done.last_run_at}, before ${before.last_vault_rotation}`);
    const after = await staticCreds(again, 'solo');
    t.not(after.password, before.password, 'the interrupted rotation was completed, not dropped');
    t.true(await canLogin(target, after), 'the stored current credential logs in');
    t.false(await canLogin(target, before));
    const runs = await history(again, id);
    t.is(runs.length, 2, 'the initial rotation and the resumed one');
    t.true(runs.every((r) => r.status === 'ok'), JSON.stringify(runs));
    // Nobody else is locked out: the other static role and the broker's own login are untouched, and rotating works.
    const pairAfter = await staticCreds(again, 'pair');
    t.deepEqual([pairAfter.username, pairAfter.password], [pairBefore.username, pairBefore.password]);
    t.true(await canLogin(target, pairAfter));
    await rotateRole(again, 'solo');
    t.true(await canLogin(target, await staticCreds(again, 'solo')));
    t.false(again.logs().includes(after.password) || crashing.logs().includes(after.password));
  });
}

test('bad input is a clear 4xx and stores nothing', async (t) => {
  const target = await newTarget();
  const b = await startApp({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target);
  const [u, v] = [uniq('bad'), uniq('bad')];
  await createUsers(target, [u, v]);
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ username: u, rotation_schedule: 'every tuesday' }, /rotation_schedule: .*not a valid cron/],
    [{ username: u, rotation_schedule: '61 * * * *' }, /rotation_schedule/],
    [{ username: u, rotation_period: '1h', rotation_strategy: 'round-robin' }, /rotation_strategy/],
    [{ username: 'no_such_user_here', rotation_period: '1h' }, /user "no_such_user_here" does not exist/],
    [{ rotation_strategy: 'alternating', usernames: [u, 'no_such_user_either'], rotation_period: '1h' }, /does not exist/],
    [{ rotation_strategy: 'alternating', username: u, rotation_period: '1h' }, /usernames/],
    [{ rotation_strategy: 'alternating', usernames: [u], rotation_period: '1h' }, /two/],
    [{ rotation_strategy: 'alternating', usernames: [u, u], rotation_period: '1h' }, /two/],
    [{ rotation_strategy: 'alternating', usernames: [u, v, 'x'], rotation_period: '1h' }, /two/],
    [{ username: u, usernames: [u, v], rotation_period: '1h' }, /usernames: only with rotation_strategy "alternating"/],
    [{ username: u, rotation_period: 'banana' }, /rotation_period/],
    [{ username: u, rotation_period: '2s' }, /rotation_period: must be at least 5 seconds/],
    [{ username: u, rotation_period: '1h', rotation_schedule: '0 * * * *' }, /mutually exclusive/],
    [{ username: u }, /rotation_period or rotation_schedule/],
    [{ username: u, rotation_period: '1h', credential_type: 'rsa_private_key' }, /credential_type/],
    [{ username: target.cluster.user, rotation_period: '1h' }, /rotate-root/],
    [{ username: u, rotation_period: '1h', db_name: 'nope' }, /db_name: no database config/],
    [{ username: 'a"b', rotation_period: '1h', rotation_statements: [`ALTER ROLE "{{name}}" PASSWORD '{{password}}'`] }, /username/],
    [{ username: 42, rotation_period: '1h' }, /username/],
  ];
  for (const [body, message] of cases) {
    const r = await api(b, 'POST', 'database/static-roles/bad', { body: { db_name: 'main', ...body } });
    t.true(r.status >= 400 && r.status < 500, `${JSON.stringify(body)} → ${r.status} ${r.text}`);
    t.regex(errorsOf(r), message, JSON.stringify(body));
  }
  t.is((await api(b, 'GET', 'database/static-roles?list=true')).status, 404, 'nothing was stored');
  t.is((await api(b, 'GET', 'sys/rotations/database/static-roles/bad')).status, 404);
  t.true(await canLogin(target, { username: u, password: `initial-${u}` }), 'nothing touched the user');

  // Changing what cannot change, and the other paths.
  await writeStatic(b, 'ok', { username: u, rotation_period: '1h' });
  for (const [body, message] of [
    [{ username: v }, /cannot be changed/],
    [{ rotation_strategy: 'alternating', usernames: [u, v] }, /cannot be changed/],
    [{ rotation_schedule: '* * *' }, /cron/],
  ] as [Record<string, unknown>, RegExp][]) {
    const r = await api(b, 'POST', 'database/static-roles/ok', { body });
    t.is(r.status, 400, r.text);
    t.regex(errorsOf(r), message);
  }
  t.like(((await api(b, 'GET', 'database/static-roles/ok')).json as { data: Record<string, unknown> }).data, { username: u, rotation_period: 3600 });
  for (const [method, path, status, message] of [
    ['POST', 'database/rotate-role/missing', 400, /unknown static role/],
    ['GET', 'database/static-creds/missing', 400, /unknown static role/],
    ['GET', 'database/static-roles/missing', 404, /^$/],
    ['POST', 'database/rotate-role/bad%20name', 400, /role name/],
  ] as [string, string, number, RegExp][]) {
    const r = await api(b, method, path);
    t.is(r.status, status, `${method} ${path}: ${r.text}`);
    t.regex(errorsOf(r), message);
  }
  for (const [body, message] of [
    [{ root_rotation_schedule: 'soon' }, /root_rotation_schedule/],
    [{ rotation_period: 'weekly' }, /root_rotation_period/],
    [{ root_rotation_schedule: '0 * * * *', root_rotation_period: '1h' }, /mutually exclusive/],
  ] as [Record<string, unknown>, RegExp][]) {
    const r = await api(b, 'POST', 'database/config/main', { body });
    t.is(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    t.regex(errorsOf(r), message);
  }
  t.is((await api(b, 'GET', 'sys/rotations/database/root/main')).status, 404);
});
