// The broker is killed for about 10 s (until the agent has retried it 8 times) and restarted: the agent keeps the last good files (their leases allow it), backs
// off, and recovers by itself: renewals continue and KV changes arrive again through the event stream.
import fsp from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import pg from 'pg';
import { startBroker } from '../../test/helpers/broker.ts';
import { pollUntil } from '../../test/helpers/poll.ts';
import { freePort, logLines, mountDatabase, newTarget, ok, parseEnv, readOr, runAgent, setupAppRole, startForwarder, tempDir, waitFor, writeConfig } from './helpers.ts';

test('broker killed for 10 s and restarted: files stay valid throughout and the agent recovers by itself', async (t) => {
  t.timeout(150_000);
  const target = await newTarget('agent_outage_readers');
  const databaseUrl = await target.cluster.createDatabase();
  const b = await startBroker({ databaseUrl });
  await mountDatabase(b, target, 'agent_outage_readers', { default_ttl: '36s', max_ttl: '10m' });
  await ok(b, 'POST', 'secret/data/app/config', { data: { color: 'blue' } });
  const fwd = await startForwarder(Number(new URL(b.address).port));
  t.teardown(() => fwd.close());

  const dir = await tempDir();
  const files = await setupAppRole(b, dir, ['database/creds/app', 'secret/data/app/*']);
  const port = await freePort();
  const dbDest = path.join(dir, 'db.env');
  const kvDest = path.join(dir, 'color.txt');
  const config = await writeConfig(dir, {
    broker: { address: `http://127.0.0.1:${fwd.port}`, timeout: '2s' },
    listen: `127.0.0.1:${port}`,
    log_level: 'debug',
    retry: { initial: '200ms', max: '2s' },
    auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
    secrets: [
      { path: 'database/creds/app', destination: dbDest, template: '{{env_file}}' },
      { path: 'secret/data/app/config', destination: kvDest, template: '{{color}}' },
    ],
  });
  const agent = runAgent(config);
  t.teardown(() => agent.stop('SIGKILL'));
  await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200, 30_000);
  await waitFor('event stream up', async () => ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { events: string }).events === 'up', 10_000);

  const canLogin = async (): Promise<string | undefined> => {
    const env = parseEnv(await fsp.readFile(dbDest, 'utf8'));
    const c = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: env.USERNAME, password: env.PASSWORD, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    try {
      await c.connect();
      return undefined;
    } catch (err) {
      return (err as Error).message;
    } finally {
      await c.end().catch(() => {});
    }
  };

  t.is(await b.stop('SIGKILL'), null);
  const failures: string[] = [];
  // The outage lasts until the agent has tried to reach the broker again and again: its event stream has gone down
  // and been retried OUTAGE_RETRIES times (retry 200 ms doubling to 2 s: about 10 s). Throughout, on every line the
  // agent logs and every change of its files (test/helpers/poll.ts), never on a timer: the files are unchanged, the
  // credential logs in, and the agent's health endpoint answers.
  const OUTAGE_RETRIES = 8;
  const downsBefore = logLines(agent).filter((l) => l.msg === 'event stream down').length;
  let checks = 0;
  await pollUntil('the agent to retry the broker through the outage', async () => {
    const retried = logLines(agent).filter((l) => l.msg === 'event stream down').length - downsBefore;
    if ((await readOr(kvDest)) !== 'blue') failures.push('kv file changed or missing');
    const err = await canLogin().catch((e: Error) => `db file: ${e.message}`);
    if (err) failures.push(err);
    // The agent itself stays up and says so.
    // A health request that throws is a failure (pollUntil would take a throw for "not yet").
    const health = await fetch(`http://127.0.0.1:${port}/health`).catch((e: Error) => e);
    if (health instanceof Error) failures.push(`health: ${health.message}`);
    else if (health.status !== 200) failures.push(`health ${health.status}`);
    checks++;
    return retried >= OUTAGE_RETRIES;
  }, { timeoutMs: 60_000, context: () => agent.logs().slice(-3000) });
  t.log(`${checks} checks during the outage`);
  t.deepEqual(failures, []);

  const again = await startBroker({ databaseUrl, dataDir: b.dataDir, rootToken: b.rootToken });
  t.teardown(() => again.stop());
  fwd.setTarget(Number(new URL(again.address).port));

  // Recovery: the event stream comes back, and a new version reaches the file.
  await waitFor('event stream up again', async () => ((await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { events: string }).events === 'up', 30_000);
  await ok(again, 'POST', 'secret/data/app/config', { data: { color: 'green' } });
  const ms = await waitFor('new KV version after the restart', async () => (await readOr(kvDest)) === 'green', 10_000);
  // Within the 10 s deadline, with polling at its default 60 s: the event stream brought it (how fast is bench/agent's).
  t.log(`new version in the file ${ms} ms after the write`);
  // The credential still logs in, and its lease is renewed by the restarted broker.
  t.is(await canLogin(), undefined);
  const renewedBefore = (agent.logs().match(/"lease renewed"/g) ?? []).length;
  await waitFor('a lease renewal through the restarted broker', () => (agent.logs().match(/"lease renewed"/g) ?? []).length > renewedBefore, 40_000);
  t.is(await canLogin(), undefined);
  t.is((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  t.false(agent.logs().includes('file removed'));
  t.is(await agent.stop(), 0);
});
