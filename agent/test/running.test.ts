// Running mode: KV changes reach the file (event stream, and polling when there is none; how fast is bench/agent's), on_change
// runs exactly once per change, /ready and /health, SIGTERM stops within 5 s, revoke_on_shutdown.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { api, startBroker, type Broker } from '../../test/helpers/broker.ts';
import { freePort, mountDatabase, newTarget, ok, parseEnv, logLines, readOr, runAgent, setupAppRole, tempDir, waitFor, writeConfig, type Target } from './helpers.ts';

let b: Broker;
let target: Target;

test.before(async () => {
  target = await newTarget('agent_run_readers');
  b = await startBroker();
  await mountDatabase(b, target, 'agent_run_readers', { default_ttl: '5m', max_ttl: '10m' });
});
test.after.always(async () => {
  await b?.stop();
});

async function kvChanges(t: ExecutionContext, opts: { events: boolean; poll: string; name: string }): Promise<void> {
  const dir = await tempDir();
  const files = await setupAppRole(b, dir, [`secret/data/${opts.name}/*`]);
  await ok(b, 'POST', `secret/data/${opts.name}/config`, { data: { password: 'v0' } });
  const dest = path.join(dir, 'app.txt');
  const counter = path.join(dir, 'changes.log');
  const port = await freePort();
  const config = await writeConfig(dir, {
    broker: { address: b.address },
    listen: `127.0.0.1:${port}`,
    poll_interval: opts.poll,
    events: opts.events,
    log_level: 'debug',
    auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
    secrets: [
      {
        path: `secret/data/${opts.name}/config`,
        destination: dest,
        template: 'password={{password}}\n',
        mode: '0440',
        on_change: { command: ['/bin/sh', '-c', `cat "$SEALBOX_AGENT_DESTINATION" >> ${counter}`], timeout: '5s' },
      },
    ],
  });
  const agent = runAgent(config);
  t.teardown(() => agent.stop('SIGKILL'));
  await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200, 30_000);
  t.is(await fsp.readFile(dest, 'utf8'), 'password=v0\n');
  t.is(fs.statSync(dest).mode & 0o777, 0o440);
  const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { status: string; events: string };
  t.is(health.status, 'ok');
  if (opts.events) await waitFor('event stream up', async () => ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { events: string }).events === 'up', 10_000);

  // The first write created the file: nobody to tell yet.
  t.is(await readOr(counter), '');
  const latencies: number[] = [];
  for (let i = 1; i <= 5; i++) {
    await ok(b, 'POST', `secret/data/${opts.name}/config`, { data: { password: `v${i}` } });
    const written = Date.now();
    await waitFor(`version ${i} in the file`, async () => (await readOr(dest)) === `password=v${i}\n`, 10_000);
    latencies.push(Date.now() - written);
    await waitFor(`on_change ${i}`, async () => (await readOr(counter)).split('\n').filter(Boolean).length >= i, 5000);
  }
  // A write with the same data is a new version but the same file: no on_change.
  const same = (await ok(b, 'POST', `secret/data/${opts.name}/config`, { data: { password: 'v5' } })) as { data: { version: number } };
  // The agent says (at debug) when it fetched a version whose file it left as it was: after that, on_change did not run.
  await waitFor(`version ${same.data.version} fetched and left alone`, () => logLines(agent).some((l) => l.msg === 'file unchanged' && l.version === same.data.version), 10_000);
  t.deepEqual((await readOr(counter)).split('\n').filter(Boolean), ['password=v1', 'password=v2', 'password=v3', 'password=v4', 'password=v5']);
  // How fast is bench/agent's figure (p99 goal 1 s), not a test's: each wait above has a 10 s deadline, which with
  // polling at 60 s only the event stream can meet, and with polling at 1 s only polling that works.
  t.log(`file updated ${latencies.join(', ')} ms after the write (${opts.events ? 'event stream' : `polling every ${opts.poll}`})`);

  const stopAt = Date.now();
  t.is(await agent.stop('SIGTERM'), 0);
  t.true(Date.now() - stopAt < 5000);
  // The file stays (no lease to expire), and no secret value reached the logs.
  t.is(await fsp.readFile(dest, 'utf8'), 'password=v5\n');
  t.false(/password=v\d|"v\d"/.test(agent.logs()), agent.logs());
}

test('event stream: a new KV version is in the file well before a 60 s poll could bring it; on_change once per change', async (t) => {
  await kvChanges(t, { events: true, poll: '60s', name: 'evt' });
});

test('no event stream: polling (1 s) brings each new KV version; on_change once per change', async (t) => {
  await kvChanges(t, { events: false, poll: '1s', name: 'poll' });
});

test('/ready is 503 until every secret is written; SIGTERM with revoke_on_shutdown revokes the lease and removes the file', async (t) => {
  const dir = await tempDir();
  const files = await setupAppRole(b, dir, ['database/creds/app', 'secret/data/later/*']);
  const port = await freePort();
  const dest = path.join(dir, 'db.env');
  const kvDest = path.join(dir, 'later.json');
  const config = await writeConfig(dir, {
    broker: { address: b.address },
    listen: `127.0.0.1:${port}`,
    revoke_on_shutdown: true,
    retry: { initial: '100ms', max: '500ms' },
    auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
    secrets: [
      { path: 'database/creds/app', destination: dest, template: '{{env_file}}' },
      { path: 'secret/data/later/x', destination: kvDest },
    ],
  });
  const agent = runAgent(config);
  t.teardown(() => agent.stop('SIGKILL'));
  await waitFor('db file', () => fs.existsSync(dest), 30_000);
  // The KV secret does not exist yet: not ready, and /health says why.
  const notReady = await fetch(`http://127.0.0.1:${port}/ready`);
  t.is(notReady.status, 503);
  const body = (await notReady.json()) as { ready: boolean; secrets: { destination: string; written: boolean; last_error?: string }[] };
  t.false(body.ready);
  t.true(body.secrets.some((s) => s.destination === kvDest && !s.written));
  await ok(b, 'POST', 'secret/data/later/x', { data: { a: 1 } });
  await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200, 10_000);
  t.deepEqual(JSON.parse(await fsp.readFile(kvDest, 'utf8')), { a: 1 });

  const env = parseEnv(await fsp.readFile(dest, 'utf8'));
  const creds = { host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: env.USERNAME, password: env.PASSWORD };
  const c = new pg.Client(creds);
  await c.connect();
  await c.end();
  const leases = await api(b, 'GET', 'sys/leases/lookup/database/creds/app?list=true');
  const before = (leases.json as { data: { keys: string[] } }).data.keys.length;

  const stopAt = Date.now();
  t.is(await agent.stop('SIGTERM'), 0);
  t.true(Date.now() - stopAt < 5000, `stopped in ${Date.now() - stopAt} ms`);
  t.false(fs.existsSync(dest), 'the revoked credential is not left behind');
  t.true(fs.existsSync(kvDest));
  const login = await new pg.Client(creds).connect().then(() => 'ok', (e: Error) => e.message);
  t.not(login, 'ok');
  const after = await api(b, 'GET', 'sys/leases/lookup/database/creds/app?list=true');
  t.is(after.status === 404 ? 0 : (after.json as { data: { keys: string[] } }).data.keys.length, before - 1);
});
