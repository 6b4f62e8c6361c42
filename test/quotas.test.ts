import { mkdtemp } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { createLogger } from '../src/lib/log.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createPgDb } from '../src/storage/pg-db.ts';
import { createQuotasStore } from '../src/storage/quotas-store.ts';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { api, PROJECT_ROOT, type ApiResponse } from './helpers/broker.ts';
import { startPostgres } from './helpers/postgres.ts';

// Rate-limit quotas (sys/quotas/rate-limit/:name). Every request here comes from 127.0.0.1, so every test shares
// one client: the tests run serially and each uses its own mount.
//
// The brokers run in-process on a FakeClock, and a broker on a test's clock cuts its windows and blocks on that
// clock (a real broker cuts them on the database clock: wiring/core.ts, core/quotas/quotas.ts `windows`). Time stands
// still within a burst, so every count below is exact, and it moves to the next window or past a block only when a
// test moves it. The last test checks the database clock itself.

const EXCEEDED = '{"errors":["rate limit quota exceeded"]}';
const count = (rs: ApiResponse[], status: number) => rs.filter((r) => r.status === status).length;
const SECOND = 1000;

/**
 * Puts the brokers' clocks at the start of the next whole second (where a window of 1 s begins), all at the same
 * instant: replicas agree on a window only while their clocks read the same. Returns that instant.
 */
function nextWindow(...brokers: InProcessBroker[]): number {
  const latest = Math.max(...brokers.map((br) => br.clock.now().getTime()));
  const at = (Math.floor(latest / SECOND) + 1) * SECOND;
  for (const br of brokers) br.clock.set(at);
  return at;
}

let b: InProcessBroker;
test.before(async () => {
  b = await startApp();
});
test.after.always(async () => {
  await b.stop();
});

async function mount(br: InProcessBroker, path: string): Promise<void> {
  const r = await api(br, 'POST', `sys/mounts/${path}`, { body: { type: 'kv-v2' } });
  if (r.status !== 204) throw new Error(`mount ${path}: ${r.status} ${r.text}`);
  const w = await api(br, 'POST', `${path}/data/x`, { body: { data: { v: 1 } } });
  if (w.status !== 200) throw new Error(`write ${path}: ${w.status} ${w.text}`);
}

/** A GET from another loopback address (Linux routes all of 127/8 to lo): another client to the broker. */
function getFrom(br: InProcessBroker, localAddress: string, path: string): Promise<number> {
  const url = new URL(br.address);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path: `/v1/${path}`, localAddress, headers: { 'x-vault-token': br.rootToken } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
  });
}

/**
 * Resolves once `br` has applied the next quota change made on another replica (its debug line "notification handled"
 * on the quota channel, logged when the reload is done): call it before making the change.
 */
function quotaChangeApplied(br: InProcessBroker): () => Promise<void> {
  const isHandled = (l: Record<string, unknown>) => l.msg === 'notification handled' && l.channel === 'sealbox_quotas';
  const handled = () => br.logLines().filter(isHandled).length;
  const before = handled();
  return async () => {
    if (!(await br.waitForLogLine((l) => isHandled(l) && handled() > before, 30_000))) throw new Error('the quota change was not applied on the other replica');
  };
}

test.serial('bad quota definitions are refused with a 400 that says what is wrong, and nothing is stored', async (t) => {
  const bad: [string, unknown][] = [
    ['q1', { rate: 0 }],
    ['q1', { rate: -5 }],
    ['q1', { rate: 'fast' }],
    ['q1', { rate: true }],
    ['q1', {}],
    ['q1', { rate: 5, interval: 'often' }],
    ['q1', { rate: 5, interval: -1 }],
    ['q1', { rate: 5, block_interval: 'forever' }],
    ['q1', { rate: 5, path: 42 }],
    ['q1', { rate: 5, path: 'no-such-mount/x' }],
    ['q1', { rate: 5, path: 'secret/../sys' }],
    ['q1', { rate: 5, role: 'web' }],
    ['bad%20name!', { rate: 5 }],
    ['-dash', { rate: 5 }],
  ];
  for (const [name, body] of bad) {
    const r = await api(b, 'POST', `sys/quotas/rate-limit/${name}`, { body });
    t.is(r.status, 400, `${name} ${JSON.stringify(body)}: ${r.text}`);
    const errors = (r.json as { errors?: unknown }).errors;
    t.true(Array.isArray(errors) && typeof errors[0] === 'string' && errors[0].length > 0, r.text);
  }
  t.regex((await api(b, 'POST', 'sys/quotas/rate-limit/q1', { body: { rate: 0 } })).text, /rate/);
  t.regex((await api(b, 'POST', 'sys/quotas/rate-limit/q1', { body: { rate: 5, path: 'nope/x' } })).text, /invalid mount path/);
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/q1', { rawBody: '{"rate":', headers: { 'content-type': 'application/json' } })).status, 400);
  t.is((await api(b, 'GET', 'sys/quotas/rate-limit?list=true')).status, 404);
  t.is((await api(b, 'GET', 'sys/quotas/rate-limit/q1')).status, 404);
  const cfg = await api(b, 'POST', 'sys/quotas/config', { body: { rate_limit_exempt_paths: 'nope', enable_rate_limit_response_headers: 'maybe' } });
  t.is(cfg.status, 400, cfg.text);
  t.is((await api(b, 'POST', 'sys/quotas/config', { body: { rate_limit_exempt_paths: ['sys/../x'] } })).status, 400);
  // Managing quotas needs a token like every other sys path.
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/q1', { token: null, body: { rate: 5 } })).status, 403);
});

test.serial('a quota is created, read, listed, refused as a duplicate of its path, and deleted', async (t) => {
  await mount(b, 'crud');
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/crud-q', { body: { rate: 100, path: '/crud', interval: '2s', block_interval: 30 } })).status, 204);
  const r = await api(b, 'GET', 'sys/quotas/rate-limit/crud-q');
  t.is(r.status, 200, r.text);
  t.deepEqual((r.json as { data: unknown }).data, {
    name: 'crud-q',
    type: 'rate-limit',
    path: 'crud/',
    role: '',
    rate: 100,
    interval: 2,
    block_interval: 30,
    inheritable: false,
  });
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/sub-q', { body: { rate: 50, path: 'crud/data/app/' } })).status, 204);
  t.is(((await api(b, 'GET', 'sys/quotas/rate-limit/sub-q')).json as { data: { path: string; interval: number } }).data.path, 'crud/data/app');
  t.is(((await api(b, 'GET', 'sys/quotas/rate-limit/sub-q')).json as { data: { interval: number } }).data.interval, 1);
  t.deepEqual(((await api(b, 'GET', 'sys/quotas/rate-limit?list=true')).json as { data: unknown }).data, { keys: ['crud-q', 'sub-q'] });

  const dup = await api(b, 'POST', 'sys/quotas/rate-limit/other-q', { body: { rate: 5, path: 'crud' } });
  t.is(dup.status, 400);
  t.regex(dup.text, /crud-q/);
  // Replacing a quota under its own name is an update.
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/crud-q', { body: { rate: 200, path: 'crud/' } })).status, 204);
  t.like((await api(b, 'GET', 'sys/quotas/rate-limit/crud-q')).json, { data: { rate: 200, interval: 1, block_interval: 0 } });

  for (const n of ['crud-q', 'sub-q']) t.is((await api(b, 'DELETE', `sys/quotas/rate-limit/${n}`)).status, 204);
  t.is((await api(b, 'GET', 'sys/quotas/rate-limit/crud-q')).status, 404);
  t.is((await api(b, 'GET', 'sys/quotas/rate-limit?list=true')).status, 404);

  const cfg = await api(b, 'GET', 'sys/quotas/config');
  t.is(cfg.status, 200);
  t.like(cfg.json, { data: { enable_rate_limit_response_headers: false } });
  t.true((cfg.json as { data: { rate_limit_exempt_paths: string[] } }).data.rate_limit_exempt_paths.includes('sys/health'));
});

test.serial('a burst past the quota gets 429 with Retry-After; sys/health and other mounts are unaffected; it passes again later', async (t) => {
  await mount(b, 'limited');
  await mount(b, 'free');
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/limited', { body: { rate: 5, path: 'limited' } })).status, 204);

  nextWindow(b);
  const [burst, health, free] = await Promise.all([
    Promise.all(Array.from({ length: 30 }, () => api(b, 'GET', 'limited/data/x'))),
    Promise.all(Array.from({ length: 10 }, () => api(b, 'GET', 'sys/health', { token: null }))),
    Promise.all(Array.from({ length: 10 }, () => api(b, 'GET', 'free/data/x'))),
  ]);
  const limited = burst.filter((r) => r.status === 429);
  t.is(count(burst, 200), 5, burst.map((r) => r.status).join(','));
  t.is(limited.length, 25);
  for (const r of limited) {
    t.is(r.text, EXCEEDED);
    // The window began at this very instant: it ends in one second.
    t.is(r.headers.get('retry-after'), '1');
  }
  t.deepEqual(health.map((r) => r.status), Array(10).fill(200));
  t.deepEqual(free.map((r) => r.status), Array(10).fill(200));

  // Buckets are per client address: another client still gets its own share.
  const flooder = await Promise.all(Array.from({ length: 12 }, () => getFrom(b, '127.0.0.2', 'limited/data/x')));
  t.is(flooder.filter((s) => s === 200).length, 5, flooder.join(','));
  t.is(flooder.filter((s) => s === 429).length, 7);
  t.is(await getFrom(b, '127.0.0.3', 'limited/data/x'), 200);

  // The quota applies before authentication: a flood of bad tokens is limited too, and learns nothing about them.
  nextWindow(b);
  t.is(count(await Promise.all(Array.from({ length: 6 }, () => api(b, 'GET', 'limited/data/x'))), 429), 1);
  const forged = await api(b, 'GET', 'limited/data/x', { token: 'sbx.forged' });
  t.is(forged.status, 429);
  // Percent-encoding the path does not dodge the quota.
  t.is((await api(b, 'GET', 'limi%74ed/data/x')).status, 429);

  nextWindow(b);
  t.is((await api(b, 'GET', 'limited/data/x')).status, 200);
  t.is((await api(b, 'GET', 'limited/data/x', { token: 'sbx.forged' })).status, 403);

  // The most specific quota wins: a looser one on a sub-path.
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/limited-loose', { body: { rate: 1000, path: 'limited/data/x' } })).status, 204);
  // Still the window in which 'limited' passed 2 of its 5: the looser quota alone counts.
  const loose = await Promise.all(Array.from({ length: 20 }, () => api(b, 'GET', 'limited/data/x')));
  t.is(count(loose, 200), 20);
  t.is((await api(b, 'DELETE', 'sys/quotas/rate-limit/limited-loose')).status, 204);
  t.is((await api(b, 'DELETE', 'sys/quotas/rate-limit/limited')).status, 204);

  // The same window still: with the quota gone, nothing is counted.
  const after = await Promise.all(Array.from({ length: 20 }, () => api(b, 'GET', 'limited/data/x')));
  t.is(count(after, 200), 20);
  // Refusals are logged once per client and window, with the quota and the address but never a token.
  // Refused: 127.0.0.1 and 127.0.0.2 in the first window, 127.0.0.1 in the second.
  const refusals = b.logLines().filter((l) => l.msg === 'rate limit quota exceeded' && l.quota === 'limited');
  t.is(refusals.length, 3, JSON.stringify(refusals));
  t.false(JSON.stringify(refusals).includes('sbx.'));
  t.false(JSON.stringify(refusals).includes(b.rootToken));
});

test.serial('with block_interval the client stays blocked after the window ends, then passes', async (t) => {
  await mount(b, 'blocky');
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/blocky', { body: { rate: 2, path: 'blocky', block_interval: '3s' } })).status, 204);
  const blockedAt = nextWindow(b);
  const burst = await Promise.all(Array.from({ length: 6 }, () => api(b, 'GET', 'blocky/data/x')));
  t.is(count(burst, 200), 2, burst.map((r) => r.status).join(','));
  // Blocked for 3 s from the first refusal, which came at the instant the window began.
  t.deepEqual(burst.filter((r) => r.status === 429).map((r) => r.headers.get('retry-after')), ['3', '3', '3', '3']);

  // A new window has begun, but the block holds.
  b.clock.set(blockedAt + 1300);
  const still = await api(b, 'GET', 'blocky/data/x');
  t.is(still.status, 429);
  t.is(still.text, EXCEEDED);
  t.is(still.headers.get('retry-after'), '2');

  // Until its last millisecond.
  b.clock.set(blockedAt + 3 * SECOND - 1);
  t.is((await api(b, 'GET', 'blocky/data/x')).status, 429);
  b.clock.set(blockedAt + 3 * SECOND);
  t.is((await api(b, 'GET', 'blocky/data/x')).status, 200);
  t.is((await api(b, 'DELETE', 'sys/quotas/rate-limit/blocky')).status, 204);
});

test.serial('response headers and exempt paths follow sys/quotas/config; sys/health is exempt even from a global quota', async (t) => {
  await mount(b, 'hdr');
  t.is((await api(b, 'POST', 'sys/quotas/config', { body: { enable_rate_limit_response_headers: true, rate_limit_exempt_paths: ['/v1/hdr/data/free', 'hdr/metadata/*'] } })).status, 204);
  t.like((await api(b, 'GET', 'sys/quotas/config')).json, {
    data: { enable_rate_limit_response_headers: true, rate_limit_exempt_paths: ['hdr/data/free', 'hdr/metadata/*'] },
  });
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/hdr', { body: { rate: 3, path: 'hdr' } })).status, 204);

  nextWindow(b);
  const first = await api(b, 'GET', 'hdr/data/x');
  t.is(first.status, 200);
  t.is(first.headers.get('x-ratelimit-limit'), '3');
  t.is(first.headers.get('x-ratelimit-remaining'), '2');
  t.is(first.headers.get('x-ratelimit-reset'), '1');
  const rest = await Promise.all(Array.from({ length: 6 }, () => api(b, 'GET', 'hdr/data/x')));
  t.is(count(rest, 200), 2);
  t.is(count(rest, 429), 4);
  // Exempt: an exact path and a prefix, with no quota headers.
  const exempt = await Promise.all(Array.from({ length: 8 }, (_, i) => api(b, 'GET', i % 2 === 0 ? 'hdr/data/free' : 'hdr/metadata/x')));
  t.is(count(exempt, 429), 0);
  t.is(exempt[0]?.headers.get('x-ratelimit-limit'), null);
  t.is((await api(b, 'DELETE', 'sys/quotas/rate-limit/hdr')).status, 204);

  // An empty exempt list still leaves sys/health exempt from a global quota.
  t.is((await api(b, 'POST', 'sys/quotas/config', { body: { rate_limit_exempt_paths: [] } })).status, 204);
  t.is((await api(b, 'POST', 'sys/quotas/rate-limit/global', { body: { rate: 2 } })).status, 204);
  nextWindow(b);
  const health = await Promise.all(Array.from({ length: 15 }, () => api(b, 'GET', 'sys/health', { token: null })));
  t.deepEqual(health.map((r) => r.status), Array(15).fill(200));
  const everything = await Promise.all(Array.from({ length: 6 }, () => api(b, 'GET', 'sys/seal-status', { token: null })));
  t.is(count(everything, 200), 2);
  t.is(count(everything, 429), 4);
  // The global quota limits managing it too: this window is spent, the next one lets the delete through.
  t.is((await api(b, 'DELETE', 'sys/quotas/rate-limit/global')).status, 429);
  nextWindow(b);
  t.is((await api(b, 'DELETE', 'sys/quotas/rate-limit/global')).status, 204);
  t.is((await api(b, 'POST', 'sys/quotas/config', { body: { enable_rate_limit_response_headers: false, rate_limit_exempt_paths: ['sys/health'] } })).status, 204);
});

test('two replicas on one PostgreSQL share the limit and each other\'s quota definitions', async (t) => {
  const pg = await startPostgres();
  const databaseUrl = await pg.createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sealbox-quotas-'));
  const rootToken = 'quota-root';
  // Debug logs: "notification handled" says when a change made on one replica has been applied on the other.
  const env = { SEALBOX_LOG_LEVEL: 'debug' };
  // One after the other (booting replicas together is replicas.test.ts's business): the second finds the store and
  // the dev credentials the first made.
  const a = await startApp({ dataDir, databaseUrl, rootToken, env });
  t.teardown(() => a.stop());
  const c = await startApp({ dataDir, databaseUrl, rootToken, env });
  t.teardown(() => c.stop());
  t.is((await api(a, 'POST', 'secret/data/x', { body: { data: { v: 1 } } })).status, 200);

  const appliedOnC = quotaChangeApplied(c);
  t.is((await api(a, 'POST', 'sys/quotas/rate-limit/shared', { body: { rate: 5, path: 'secret/' } })).status, 204);
  await appliedOnC();
  t.like((await api(c, 'GET', 'sys/quotas/rate-limit/shared')).json, { data: { rate: 5, path: 'secret/' } });

  // rate 5 → chunks of 1, reserved under the counter's row lock: together the replicas admit exactly rate in one window.
  for (let round = 0; round < 2; round++) {
    nextWindow(a, c);
    const [fromA, fromC] = await Promise.all([
      Promise.all(Array.from({ length: 15 }, () => api(a, 'GET', 'secret/data/x'))),
      Promise.all(Array.from({ length: 15 }, () => api(c, 'GET', 'secret/data/x'))),
    ]);
    const ok = count(fromA, 200) + count(fromC, 200);
    t.is(ok, 5, `round ${round}: ${ok} passed`);
    t.is(count(fromA, 429) + count(fromC, 429), 30 - ok);
    t.true(count(fromC, 429) > 0, 'the quota defined on the first replica applies on the second');
  }

  // A block recorded by one replica holds on the other, after the window that caused it.
  const appliedOnA = quotaChangeApplied(a);
  t.is((await api(c, 'POST', 'sys/quotas/rate-limit/shared', { body: { rate: 5, path: 'secret/', block_interval: '4s' } })).status, 204);
  await appliedOnA();
  const blockedAt = nextWindow(a, c);
  const flood = await Promise.all(Array.from({ length: 10 }, () => api(a, 'GET', 'secret/data/x')));
  t.is(count(flood, 200), 5);
  for (const br of [a, c]) br.clock.set(blockedAt + 1200);
  const onC = await api(c, 'GET', 'secret/data/x');
  t.is(onC.status, 429);
  t.is(onC.headers.get('retry-after'), '3');

  // Deleted on one replica, gone on the other.
  const deletedOnA = quotaChangeApplied(a);
  t.is((await api(c, 'DELETE', 'sys/quotas/rate-limit/shared')).status, 204);
  await deletedOnA();
  const after = await Promise.all(Array.from({ length: 10 }, () => api(a, 'GET', 'secret/data/x')));
  t.is(count(after, 200), 10);
});

test('on the database clock (every real broker\'s), windows and blocks are cut where PostgreSQL\'s now() falls', async (t) => {
  const pg = await startPostgres();
  const db = createPgDb({ url: await pg.createDatabase(), log: createLogger({ level: 'silent' }) });
  t.teardown(() => db.close());
  await migrate(db, join(PROJECT_ROOT, 'migrations'));
  const opts = { intervalSeconds: 60, limit: 1, blockSeconds: 5 };
  // One transaction, whose now() stands still: the statements see one instant of the database clock.
  const [dbNow, first, second, third] = await db.tx(async (q) => {
    const store = createQuotasStore(q);
    const now = (await q.query<{ s: number }>('SELECT extract(epoch FROM now())::float8 AS s')).rows[0]?.s ?? NaN;
    return [now, await store.reserve('db-clock', 'c1', 1, opts), await store.reserve('db-clock', 'c1', 1, opts), await store.reserve('db-clock', 'c1', 1, opts)];
  });
  // The window ends at the next multiple of 60 s of the database's epoch, whatever this process's clock says.
  const windowLeft = 60 - (dbNow % 60);
  t.like(first, { used: 1, blockedLeft: 0 });
  t.true(Math.abs(first.windowLeft - windowLeft) < 1e-3, `${first.windowLeft} vs ${windowLeft}`);
  // Over the limit in a full window: blocked for 5 s from that same instant, and the block holds at the next one.
  t.deepEqual(second, { used: 2, windowLeft: first.windowLeft, blockedLeft: 5 });
  t.deepEqual(third, { used: 3, windowLeft: first.windowLeft, blockedLeft: 5 });
});
