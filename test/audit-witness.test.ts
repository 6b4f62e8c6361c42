// A witness outside the database (issue 14): `sealbox audit witness` cosigns checkpoints as the log grows across two
// replicas, verify can require its cosignatures, and after old entries are rewritten by SQL it refuses, reports the
// fork, exits non-zero with -once and serves a failing /health.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { rebuildTree } from './helpers/audit-attack.ts';
import { api, BROKER_ENTRY, PROJECT_ROOT, startBroker } from './helpers/broker.ts';
import { runCli } from './helpers/cli.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';
import { whenOutput } from './helpers/wait-output.ts';

test('a witness cosigns as the log grows across two replicas, and refuses after a rewrite of old entries', async (t) => {
  const url = await (await startPostgres()).createDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-witness-data-'));
  const env = { SEALBOX_AUDIT_CHECKPOINT_EVERY: '5', SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1' };
  const [a, b] = await Promise.all([
    startBroker({ dataDir, databaseUrl: url, rootToken: 'witness-root', env }),
    startBroker({ dataDir, databaseUrl: url, rootToken: 'witness-root', env }),
  ]);
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-witness-'));
  const vkey = ((await api(a, 'GET', 'sys/audit-log/public-key', { token: null })).json as { data: { vkey: string } }).data.vkey;
  const config = path.join(dir, 'witness.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      logs: [a.address, b.address],
      log_vkey: vkey,
      name: 'witness.test/w1',
      key_file: path.join(dir, 'key'),
      state_file: path.join(dir, 'state.json'),
      token: 'witness-root',
      interval_seconds: 1,
      health_listen: '127.0.0.1:0',
    }),
  );
  const write = async (n: number) => {
    for (let i = 0; i < n; i++) t.is((await api(i % 2 ? a : b, 'POST', `secret/data/w/${i % 4}`, { body: { data: { v: i } } })).status, 200);
  };
  const witnessOnce = () => runCli(a, ['audit', 'witness', '-config', config, '-once']);
  const stateSize = () => (JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { size: number }).size;

  await write(12);
  const first = await witnessOnce();
  t.is(first.code, 0, first.stderr);
  const witnessVkey = /"vkey":"([^"]+)"/.exec(first.stderr)?.[1] ?? '';
  t.regex(witnessVkey, /^witness\.test\/w1\+[0-9a-f]{8}\+/);
  const size1 = stateSize();
  t.true(size1 >= 10);

  await write(12);
  const second = await witnessOnce();
  t.is(second.code, 0, second.stderr);
  t.true(stateSize() > size1, 'the witness followed the log as both replicas wrote');
  const cps = ((await api(b, 'GET', 'sys/audit-log/checkpoints')).json as { data: { checkpoints: { seq: number; note: string }[] } }).data.checkpoints;
  const cosigned = cps.find((c) => c.seq === stateSize());
  t.regex(cosigned?.note ?? '', /\n\u2014 witness\.test\/w1 [A-Za-z0-9+/=]+\n$/u, 'the checkpoint it cosigned carries the cosignature line');

  const keyFile = path.join(dir, 'witness.vkey');
  fs.writeFileSync(keyFile, `${witnessVkey}\n`);
  const verified = await runCli(a, ['audit', 'verify', '-witness-key', keyFile, '-format=json'], { env: {} });
  t.is(verified.code, 0, verified.stderr);
  t.true(((JSON.parse(verified.stdout) as { client_checks: { witnessed_through: Record<string, number> } }).client_checks.witnessed_through['witness.test/w1'] ?? 0) >= size1);

  // An SQL writer rewrites entry 3 and rebuilds the tree and head; the brokers then sign new checkpoints over it.
  await withPgClient(url, async (c) => {
    await c.query(`UPDATE audit_entries SET entry = replace(entry, '"policies":["root"]', '"policies":["default"]') WHERE seq = 3`);
    await rebuildTree(c);
  });
  await write(12);
  const refused = await witnessOnce();
  t.is(refused.code, 3, refused.stderr);
  t.regex(refused.stderr, /"level":"error".*fork: the checkpoint at size \d+ is not consistent with size \d+/);
  const sizeAfter = stateSize();
  t.true(sizeAfter >= size1, 'it did not cosign the rewritten log');
  const verifyNow = await runCli(a, ['audit', 'verify', '-witness-key', keyFile], { env: {} });
  t.is(verifyNow.code, 3, 'verify requiring the witness fails too');

  // As a daemon, /health fails.
  const proc = spawn(process.execPath, [BROKER_ENTRY, 'audit', 'witness', '-config', config], { cwd: PROJECT_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  t.teardown(() => void proc.kill('SIGKILL'));
  let err = '';
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const healthLine = (): RegExpExecArray | null => (err.includes('refusing to cosign') ? /"msg":"health listening","address":"([^"]+)"/.exec(err) : null);
  await whenOutput(proc.stderr, () => healthLine() !== null, () => `the health line and the refusal; got: ${err}`, 60_000);
  const healthAddress = healthLine()?.[1] ?? '';
  const health = await fetch(`http://${healthAddress}/health`);
  t.is(health.status, 503);
  t.regex(((await health.json()) as { error: string }).error, /fork/);
});
