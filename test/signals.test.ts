// Signals reach the process the README starts: `sealbox server --dev …` and `sealbox-agent --config …` with
// bin/ on PATH (README "Set up"), and `npm start`. SIGTERM (and SIGINT) to exactly that PID drains and
// stops the broker (exit 0, port freed), and makes the agent revoke its lease and remove the file (exit 0).
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { mountDatabase, newTarget, noteActivity, setupAppRole, tempDir, waitFor, writeConfig } from '../agent/test/helpers.ts';
import { api, PROJECT_ROOT, startBroker } from './helpers/broker.ts';
import { withPgClient } from './helpers/postgres.ts';

const BIN = path.join(PROJECT_ROOT, 'bin');
const NPM = path.join(path.dirname(process.execPath), 'npm');

interface Started {
  proc: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn `command` as a user's shell would (PATH with bin/), capturing output. */
function start(command: string, args: string[]): Started {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${BIN}:${process.env.PATH ?? ''}` };
  delete env.SEALBOX_DATABASE_URL;
  const proc = spawn(command, args, {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  // Each chunk re-checks the pending waitFor (it has no polling timer).
  proc.stdout?.on('data', (c: Buffer) => ((out += c.toString()), noteActivity()));
  proc.stderr?.on('data', (c: Buffer) => ((out += c.toString()), noteActivity()));
  // 'close': after the exit AND the last output (an 'exit' can come before the final log lines are read).
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('close', (code, signal) => (resolve({ code, signal }), noteActivity())));
  return { proc, output: () => out, exited };
}

async function listeningAddress(s: Started): Promise<URL> {
  let address: string | undefined;
  await waitFor('the listening line', () => {
    const line = /[^\n]*"msg":"listening"[^\n]*/.exec(s.output())?.[0];
    address = line ? /"address":"([^"]+)"/.exec(line)?.[1] : undefined;
    if (s.proc.exitCode !== null) throw new Error(`exited early:\n${s.output()}`);
    return address !== undefined;
  }, 180_000);
  return new URL(address ?? '');
}

/** True once nothing accepts connections on the port. */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: '127.0.0.1', port });
    c.once('connect', () => {
      c.destroy();
      resolve(false);
    });
    c.once('error', () => resolve(true));
  });
}

async function dataDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), 'sealbox-signals-'));
  t.teardown(() => fsp.rm(d, { recursive: true, force: true }));
  return d;
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  // Serial: each test starts a broker, and four at once on a loaded 2-core machine take minutes to listen.
  test.serial(`${signal} to the PID of \`sealbox server --dev\` (bin/sealbox) drains, frees the port and exits 0`, async (t) => {
    t.timeout(240_000);
    const dir = await dataDir(t);
    // bin/sealbox links to the node script itself (#!/usr/bin/env node execs node): no wrapper process in between.
    const s = start(path.join(BIN, 'sealbox'), ['server', '--dev', '--listen', '127.0.0.1:0', '--data', dir, '--dev-root-token', 'dev-root']);
    t.teardown(() => void s.proc.kill('SIGKILL'));
    const url = await listeningAddress(s);
    t.regex(s.output(), /export VAULT_ADDR=http:\/\/127\.0\.0\.1:\d+ VAULT_TOKEN=dev-root/);
    t.regex(s.output(), /sealbox kv put secret\/hello/);
    t.true(s.proc.kill(signal));
    t.deepEqual(await s.exited, { code: 0, signal: null }, s.output());
    t.regex(s.output(), new RegExp(`"signal":"${signal}","msg":"draining"`));
    t.regex(s.output(), /"msg":"stopped"/);
    t.true(await portIsFree(Number(url.port)), 'the port is still accepting connections');
  });
}

test.serial('`npm start` serves the console at /ui/; SIGTERM to its PID reaches the broker: it drains, the port is freed, npm exits 0', async (t) => {
  t.timeout(240_000);
  const dir = await dataDir(t);
  const s = start(NPM, ['start', '--', '--listen', '127.0.0.1:0', '--data', dir, '--dev-root-token', 'dev-root']);
  t.teardown(() => void s.proc.kill('SIGKILL'));
  const url = await listeningAddress(s);
  // `npm start` serves the console that `npm ci` (prepare: scripts/build.mjs) built into ui/dist/.
  const ui = await fetch(new URL('/ui/', url));
  t.is(ui.status, 200);
  t.regex(ui.headers.get('content-security-policy') ?? '', /^default-src 'none'; script-src 'self';/);
  t.regex(await ui.text(), /<script type="module" src="app\.js"><\/script>/);
  const js = await fetch(new URL('/ui/app.js', url));
  t.is(js.status, 200);
  t.true((await js.text()).length > 10_000, 'the bundled console');
  t.true(s.proc.kill('SIGTERM'));
  t.deepEqual(await s.exited, { code: 0, signal: null }, s.output());
  t.regex(s.output(), /"signal":"SIGTERM","msg":"draining"/);
  t.regex(s.output(), /"msg":"stopped"/);
  // npm waits for its child, so the port is free the moment npm has exited.
  t.true(await portIsFree(Number(url.port)), 'the port is still accepting connections');
});

test.serial('SIGTERM to the PID of `sealbox-agent --config …` revokes its lease (the database user is dropped), removes the file, exits 0', async (t) => {
  t.timeout(300_000);
  const target = await newTarget('signals_readers');
  // A broker on PostgreSQL: its first start runs every migration, which takes long on a loaded machine.
  const b = await startBroker({ databaseUrl: await target.cluster.createDatabase(), timeoutMs: 180_000 });
  t.teardown(() => b.stop());
  await mountDatabase(b, target, 'signals_readers');
  const dir = await tempDir('signals-agent-');
  const files = await setupAppRole(b, dir, ['database/creds/app']);
  const dest = path.join(dir, 'db.env');
  const config = await writeConfig(dir, {
    broker: { address: b.address },
    auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
    revoke_on_shutdown: true,
    secrets: [{ path: 'database/creds/app', destination: dest, template: 'PGUSER={{username}}\n' }],
  });
  const agent = start(path.join(BIN, 'sealbox-agent'), ['--config', config]);
  t.teardown(() => void agent.proc.kill('SIGKILL'));
  await waitFor('the credential file', () => fs.existsSync(dest), 60_000);
  const user = /^PGUSER=(.+)$/m.exec(await fsp.readFile(dest, 'utf8'))?.[1] ?? '';
  const roleExists = (): Promise<boolean> =>
    withPgClient(target.url, async (c) => (await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [user])).rowCount === 1);
  const leases = async (): Promise<unknown[]> => {
    const r = await api(b, 'GET', 'sys/leases/lookup/database/creds/app/?list=true');
    return r.status === 404 ? [] : (((r.json as { data?: { keys?: unknown[] } }).data?.keys) ?? []);
  };
  t.true(await roleExists(), `database user ${user} exists while the agent runs`);
  t.is((await leases()).length, 1);

  t.true(agent.proc.kill('SIGTERM'));
  t.deepEqual(await agent.exited, { code: 0, signal: null }, agent.output());
  t.deepEqual(await leases(), [], 'the lease is revoked');
  t.false(await roleExists(), `database user ${user} is dropped`);
  t.false(fs.existsSync(dest), 'the file is removed');
  t.regex(agent.output(), /lease revoked and file removed/);
});
