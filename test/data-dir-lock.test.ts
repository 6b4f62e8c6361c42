// The embedded store (PGlite) serves one process: the data directory is locked, a second process on it exits at once
// naming the directory and the holder's PID, and a lock left by a crashed holder (PID gone or reused) does not block.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { DirLockedError, lockDataDir, processStart } from '../src/storage/dir-lock.ts';
import { api, BROKER_ENTRY, PROJECT_ROOT, startBroker, vaultClient } from './helpers/broker.ts';

/** Starts a second broker on `dataDir` and waits for it to exit (it must, at once): its exit code and output. */
async function secondBroker(dataDir: string): Promise<{ code: number | null; output: string }> {
  const env = { ...process.env };
  delete env.SEALBOX_DATABASE_URL;
  const proc = spawn(process.execPath, [BROKER_ENTRY, 'server', '--dev', '--listen', '127.0.0.1:0', '--data', dataDir], { cwd: PROJECT_ROOT, env });
  let output = '';
  proc.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, output };
}

const tmp = () => mkdtemp(join(tmpdir(), 'sealbox-lock-'));

test.serial('a second process on one PGlite data directory exits non-zero naming the directory and PID; the first keeps serving; every acknowledged write survives', async (t) => {
  const dataDir = await tmp();
  const first = await startBroker({ dataDir });
  t.teardown(() => first.stop());
  const v = vaultClient(first);
  for (let i = 0; i < 5; i++) await v.write(`secret/data/before-${i}`, { data: { i } });

  const second = await secondBroker(dataDir);
  t.not(second.code, 0, second.output);
  t.not(second.code, null, 'it exited by itself');
  t.true(second.output.includes(dataDir), second.output);
  t.true(second.output.includes(`process ${String(first.proc.pid)}`), second.output);
  t.false(second.output.includes('"msg":"listening"'), 'the second process never served');

  // The first still serves, reads and writes.
  for (let i = 0; i < 5; i++) await v.write(`secret/data/after-${i}`, { data: { i } });
  t.deepEqual((await v.read('secret/data/before-3')).data.data, { i: 3 });
  t.is(await first.stop(), 0);
  t.false(existsSync(join(dataDir, 'sealbox.lock')), 'a clean stop removes the lock');

  // Afterwards the directory opens and holds every acknowledged write.
  const again = await startBroker({ dataDir, rootToken: first.rootToken });
  t.teardown(() => again.stop());
  const w = vaultClient(again);
  for (let i = 0; i < 5; i++) {
    t.deepEqual((await w.read(`secret/data/before-${i}`)).data.data, { i });
    t.deepEqual((await w.read(`secret/data/after-${i}`)).data.data, { i });
  }
});

test.serial('a lock left by a SIGKILLed broker does not block a restart, and the restarted broker holds the acknowledged writes', async (t) => {
  const dataDir = await tmp();
  const victim = await startBroker({ dataDir });
  await vaultClient(victim).write('secret/data/kept', { data: { v: 'yes' } });
  await victim.stop('SIGKILL');
  const stale = JSON.parse(readFileSync(join(dataDir, 'sealbox.lock'), 'utf8')) as { pid: number };
  t.is(stale.pid, victim.proc.pid ?? -1, 'the dead broker left its lock behind');

  const restarted = await startBroker({ dataDir, rootToken: victim.rootToken });
  t.teardown(() => restarted.stop());
  t.deepEqual((await vaultClient(restarted).read('secret/data/kept')).data.data, { v: 'yes' });
  const now = JSON.parse(readFileSync(join(dataDir, 'sealbox.lock'), 'utf8')) as { pid: number };
  t.is(now.pid, restarted.proc.pid ?? -1);
  t.is((await api(restarted, 'GET', 'sys/health', { token: null })).status, 200);
});

test.serial('lock identity: a live PID with another start time is a reused PID (stale); the same PID and start time is a live holder', async (t) => {
  // A holder other than this process: the parent of this test worker is alive for the whole test.
  const other = process.ppid;
  const otherStart = processStart(other);
  t.not(otherStart, null, 'this test needs /proc');
  const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();

  const reused = await tmp();
  await writeFile(join(reused, 'sealbox.lock'), JSON.stringify({ pid: other, start: (otherStart ?? 0) + 12345, boot }));
  const lock = lockDataDir(reused);
  t.is((JSON.parse(readFileSync(join(reused, 'sealbox.lock'), 'utf8')) as { pid: number }).pid, process.pid);
  // Held by this very process now: a second lock in the same process is refused too.
  t.throws(() => lockDataDir(reused), { instanceOf: DirLockedError });
  lock.release();
  t.false(existsSync(join(reused, 'sealbox.lock')));

  const gone = await tmp();
  await writeFile(join(gone, 'sealbox.lock'), JSON.stringify({ pid: 2 ** 22 + 17, start: 1, boot }));
  lockDataDir(gone).release();

  const held = await tmp();
  await writeFile(join(held, 'sealbox.lock'), JSON.stringify({ pid: other, start: otherStart, boot }));
  const err = t.throws(() => lockDataDir(held), { instanceOf: DirLockedError });
  t.regex(err?.message ?? '', new RegExp(`${held}.*process ${other}`));
  t.true(existsSync(join(held, 'sealbox.lock')), 'a live holder keeps its lock');

  const rebooted = await tmp();
  await writeFile(join(rebooted, 'sealbox.lock'), JSON.stringify({ pid: other, start: otherStart, boot: 'another-boot' }));
  lockDataDir(rebooted).release();
});
