// Dynamic database credentials with 5 s TTL and 15 s max TTL for 60 s: the agent renews them and swaps in a new
// credential before the old one dies. A demo application (a real process) reconnects on SIGHUP; a checker logs in
// with whatever the file holds, and has the application query, each time something happens: the agent logs a line
// (a renewal, a new credential), the file changes, the broker logs a line (a lease revoked at its end). It runs
// until the agent has replaced the credential four times. Zero failures.
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import pg from 'pg';
import { startBroker } from '../../test/helpers/broker.ts';
import { pollUntil } from '../../test/helpers/poll.ts';
import { mountDatabase, newTarget, parseEnv, runAgent, setupAppRole, tempDir, waitFor, writeConfig } from './helpers.ts';

const DEMO_APP = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'demo-app.mjs');

test('5 s TTL / 15 s max TTL leases are renewed and replaced for 60 s; the credential in the file always logs in', async (t) => {
  t.timeout(150_000);
  const target = await newTarget('agent_lease_readers');
  const b = await startBroker({ databaseUrl: await target.cluster.createDatabase() });
  t.teardown(() => b.stop());
  await mountDatabase(b, target, 'agent_lease_readers', { default_ttl: '5s', max_ttl: '15s' });

  const dir = await tempDir();
  const files = await setupAppRole(b, dir, ['database/creds/app']);
  const dest = path.join(dir, 'db.env');
  const pidFile = path.join(dir, 'app.pid');
  const config = await writeConfig(dir, {
    broker: { address: b.address },
    retry: { initial: '200ms', max: '1s' },
    auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
    secrets: [{ path: 'database/creds/app', destination: dest, template: 'USERNAME={{username}}\nPASSWORD={{env password}}\n', on_change: { signal: 'HUP', pid_file: pidFile } }],
  });
  const agent = runAgent(config);
  t.teardown(() => agent.stop('SIGKILL'));
  await waitFor('first credential', async () => (await fsp.readFile(dest, 'utf8').catch(() => '')).includes('PASSWORD='), 30_000);

  const app = spawn(process.execPath, [DEMO_APP, dest, pidFile, '127.0.0.1', String(target.cluster.port), target.dbName], { stdio: ['pipe', 'pipe', 'inherit'] });
  let appOut = '';
  // The application's own answers are not activity (they would start the next check): they resolve `answered`.
  const answered: (() => void)[] = [];
  app.stdout.setEncoding('utf8').on('data', (c: string) => {
    appOut += c;
    for (let n = (c.match(/^done /gm) ?? []).length; n > 0; n--) answered.shift()?.();
  });
  /** The application runs one query now (on the connection it holds) and answers. */
  const appQuery = (): Promise<void> =>
    new Promise((resolve) => {
      answered.push(resolve);
      app.stdin.write('query\n');
    });
  const appExit = new Promise((r) => app.on('exit', r));
  t.teardown(() => app.kill('SIGKILL'));

  const failures: string[] = [];
  const users = new Set<string>();
  let checks = 0;
  const check = async (): Promise<void> => {
    const env = parseEnv(await fsp.readFile(dest, 'utf8'));
    users.add(env.USERNAME ?? '');
    const c = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: env.USERNAME, password: env.PASSWORD, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
    } catch (err) {
      failures.push(`${new Date().toISOString()} ${env.USERNAME ?? '?'}: ${(err as Error).message}`);
    } finally {
      await c.end().catch(() => {});
    }
    await appQuery();
    checks++;
  };
  // Checked on every line of the agent and the broker and every change in `dir` (test/helpers/poll.ts), never on a
  // timer; done once a fifth credential is in the file (four replaced, as 60 s of a 15 s max TTL gave before).
  await pollUntil('the fifth credential in the file', async () => {
    // A check that throws is a failure (pollUntil would take a throw for "not yet").
    await check().catch((err: Error) => failures.push(`check: ${err.message}`));
    return users.size >= 5;
  }, { timeoutMs: 120_000, context: () => agent.logs().slice(-3000) });
  app.kill('SIGTERM');
  await appExit;
  const stats = JSON.parse(appOut.trim().split('\n').pop() ?? '{}') as { queries: number; queryFailures: number; connects: number; connectFailures: number; users: string[]; errors: string[] };

  t.deepEqual(failures, [], agent.logs());
  // The checker ran all along: at least on each credential's file write and on its predecessor's revocation.
  const revoked = b.logLines().filter((l) => l.msg === 'lease revoked').length;
  t.true(checks >= 2 * users.size && checks > revoked, `${checks} checks, ${users.size} credentials, ${revoked} leases revoked`);
  // Four replaced: at least 4 credentials in turn, and the app moved to each one.
  t.true(users.size >= 4, `credentials seen: ${users.size}`);
  t.is(stats.connectFailures, 0, stats.errors.join('\n'));
  t.is(stats.queryFailures, 0, stats.errors.join('\n'));
  t.true(stats.connects >= 4, `app reconnected ${stats.connects} times`);
  // The application queried at each check (and after each SIGHUP) without a failure.
  t.true(stats.queries >= checks, `${stats.queries} queries for ${checks} checks`);
  t.regex(agent.logs(), /lease reached its max TTL/);
  t.log(`${checks} logins with the file's credential, ${users.size} credentials, app: ${stats.connects} connects, ${stats.queries} queries, 0 failures`);
  t.is(await agent.stop(), 0);
});
