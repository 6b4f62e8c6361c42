// Tests of the test harness itself (test/helpers), not of the broker.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { api, PROJECT_ROOT, startBroker, vaultClient } from './helpers/broker.ts';
import { startPostgres, stopPostgres, withPgClient } from './helpers/postgres.ts';

const FAKE_BROKER = path.join(PROJECT_ROOT, 'test', 'fixtures', 'fake-broker.mjs');

test.after.always(stopPostgres);

test('postgres: one cluster per process, fresh databases, dumpAll sees stored data', async (t) => {
  const started = Date.now();
  const pg = await startPostgres();
  t.log(`cluster (${pg.kind}, PostgreSQL ${pg.majorVersion}) ready in ${Date.now() - started} ms on port ${pg.port}`);
  t.is(await startPostgres(), pg, 'cached per process');

  const url1 = await pg.createDatabase();
  const url2 = await pg.createDatabase('harness_second');
  t.not(url1, url2);
  t.is(url2, pg.url('harness_second'));

  const needle = `needle-${randomBytes(8).toString('hex')}`;
  await withPgClient(url1, async (c) => {
    await c.query('CREATE TABLE harness_probe (id int PRIMARY KEY, secret text NOT NULL, blob bytea)');
    await c.query('INSERT INTO harness_probe VALUES (1, $1, $2)', [needle, Buffer.from('raw')]);
    const r = await c.query<{ secret: string }>('SELECT secret FROM harness_probe WHERE id = 1');
    t.is(r.rows[0]?.secret, needle);
  });

  // The second database is separate.
  await withPgClient(url2, async (c) => {
    const r = await c.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM pg_tables WHERE tablename = 'harness_probe'",
    );
    t.is(r.rows[0]?.n, '0');
  });

  // Password authentication is enforced on TCP.
  const wrong = pg.url('postgres').replace(`:${encodeURIComponent(pg.password)}@`, ':wrong@');
  await t.throwsAsync(withPgClient(wrong, (c) => c.query('SELECT 1')), { message: /password authentication failed/ });

  const dump = await pg.dumpAll();
  t.true(dump.includes('harness_probe'), 'dump names the table');
  t.true(dump.includes(needle), 'dump contains the row');
  t.true(dump.includes('\\x726177'), 'bytea appears as hex');
});

test('broker helper: waits for the listening line, api() and vaultClient() reach it, SIGTERM exit code', async (t) => {
  const b = await startBroker({ entry: FAKE_BROKER, databaseUrl: 'postgresql://example/db', timeoutMs: 5000 });
  t.regex(b.address, /^http:\/\/127\.0\.0\.1:\d+$/);
  t.regex(b.rootToken, /^root-[0-9a-f]{24}$/);
  t.true(fs.statSync(b.dataDir).isDirectory());

  const r = await api(b, 'POST', '/secret/data/x', { body: { a: 1 } });
  t.is(r.status, 200);
  const echoed = (r.json as { data: Record<string, unknown> }).data;
  t.is(echoed.url, '/v1/secret/data/x');
  t.is(echoed.token, b.rootToken);
  t.is(echoed.body, '{"a":1}');
  t.is(echoed.databaseUrl, 'postgresql://example/db');
  t.deepEqual(echoed.argv, ['server', '--dev', '--listen', '127.0.0.1:0', '--data', b.dataDir, '--dev-root-token', b.rootToken]);

  const anon = await api(b, 'GET', 'sys/health', { token: null });
  t.is((anon.json as { data: Record<string, unknown> }).data.token, null);

  const v = vaultClient(b, 'other-token');
  // vaultClient().list() sends the LIST method, which the broker accepts and this plain-Node fake cannot: read a list.
  const listed = await v.read('secret/metadata?list=true');
  t.is(listed.data?.['method'], 'GET');
  t.is(listed.data?.['url'], '/v1/secret/metadata?list=true');
  t.is(listed.data?.['token'], 'other-token');

  t.is(await b.stop(), 0);
  t.is(await b.stop(), 0, 'stop() is idempotent');
  t.regex(b.logs(), /"msg":"draining"/);
  t.true(b.logLines().some((l) => l.msg === 'listening'));
});

test('broker helper: rejects with the logs when the process exits before listening', async (t) => {
  const err = await t.throwsAsync(startBroker({ entry: FAKE_BROKER, env: { FAKE_BROKER_MODE: 'crash' }, timeoutMs: 5000 }));
  t.regex(err?.message ?? '', /exited \(code 3/);
  t.regex(err?.message ?? '', /cannot open storage/);
});
