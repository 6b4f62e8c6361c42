// Start-up times of the compiled commands, each the median of ROUNDS (default 5), measured in alternating rounds in
// one run so that a change in machine load hits every figure alike:
//   node -e 0                      the baseline: a bare Node start
//   sealbox --help                 the CLI with nothing to do
//   sealbox kv get                 one KV read against a running broker
//   broker, new data dir           `sealbox server --dev` to its `listening` line on an empty directory
//   broker, existing data dir      the same on a directory it has used before
// Goals on a quiet 2-core machine: a CLI command <= 3x the bare start; the broker <= 3 s new and <= 1 s existing.
//
//   npm run bench:startup             (BENCH_ROUNDS=5)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'sealbox.mjs');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TOKEN = 'bench-root';

const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(1);

function timeRun(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    p.stderr.on('data', (c: Buffer) => (err += c.toString()));
    p.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${args.join(' ')} exited ${String(code)}: ${err}`));
    });
  });
}

interface Running {
  address: string;
  ms: number;
  /** CPU time (user + system) the broker process used until `listening`: far less sensitive to machine load than ms. */
  cpuMs: number;
  stop(): Promise<void>;
}

/** utime + stime of a live process from /proc (clock ticks of 10 ms on Linux), or NaN elsewhere. */
function cpuMsOf(pid: number | undefined): number {
  try {
    const stat = fs.readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return NaN;
  }
}

/** Start a dev broker on `dataDir`; resolves at its `listening` line with the time it took. */
function startBroker(dataDir: string): Promise<Running> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const env = { ...process.env };
    delete env.SEALBOX_DATABASE_URL;
    const p = spawn(process.execPath, [BIN, 'server', '--dev', '--listen', '127.0.0.1:0', '--data', dataDir, '--dev-root-token', TOKEN], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let out = '';
    let errOut = '';
    p.stderr.on('data', (c: Buffer) => (errOut += c.toString()));
    const exited = new Promise<void>((r) => p.on('exit', () => r()));
    p.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"address":"([^"]+)"[^\n]*"msg":"listening"/.exec(out);
      if (m?.[1]) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        const cpuMs = cpuMsOf(p.pid);
        out = '';
        resolve({
          address: m[1],
          ms,
          cpuMs,
          async stop() {
            p.kill('SIGTERM');
            await exited;
          },
        });
      }
    });
    void exited.then(() => reject(new Error(`broker exited before listening: ${errOut}`)));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

const scratch = await fsp.mkdtemp(path.join(os.tmpdir(), 'sealbox-bench-startup-'));
type Figure = 'bare' | 'help' | 'kvGet' | 'brokerNew' | 'brokerExisting';
const samples: Record<Figure, number[]> = { bare: [], help: [], kvGet: [], brokerNew: [], brokerExisting: [] };
const cpu = { brokerNew: [] as number[], brokerExisting: [] as number[] };
try {
  // A broker for `kv get`, with one secret.
  const served = await startBroker(path.join(scratch, 'served'));
  const cliEnv: NodeJS.ProcessEnv = { ...process.env, VAULT_ADDR: served.address, VAULT_TOKEN: TOKEN };
  delete cliEnv.SEALBOX_ADDR;
  delete cliEnv.SEALBOX_TOKEN;
  await timeRun([BIN, 'kv', 'put', 'secret/bench', 'answer=42'], cliEnv);
  // The existing directory, used once before the rounds.
  const existing = path.join(scratch, 'existing');
  await (await startBroker(existing)).stop();

  for (let i = 0; i < ROUNDS; i++) {
    samples.bare.push(await timeRun(['-e', '0']));
    samples.help.push(await timeRun([BIN, '--help']));
    samples.kvGet.push(await timeRun([BIN, 'kv', 'get', 'secret/bench'], cliEnv));
    const fresh = await startBroker(path.join(scratch, `new-${i}`));
    samples.brokerNew.push(fresh.ms);
    cpu.brokerNew.push(fresh.cpuMs);
    await fresh.stop();
    const again = await startBroker(existing);
    samples.brokerExisting.push(again.ms);
    cpu.brokerExisting.push(again.cpuMs);
    await again.stop();
  }
  await served.stop();
} finally {
  await fsp.rm(scratch, { recursive: true, force: true });
}

const m: Record<Figure, number> = {
  bare: median(samples.bare),
  help: median(samples.help),
  kvGet: median(samples.kvGet),
  brokerNew: median(samples.brokerNew),
  brokerExisting: median(samples.brokerExisting),
};
const load = os.loadavg().map((x) => x.toFixed(1)).join(' ');
const row = (name: string, ms: number, extra: string): string => `${name.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms   ${extra}`;
process.stdout.write(
  [
    `startup, median of ${ROUNDS} (alternating rounds); load average now ${load} on ${os.cpus().length} cores`,
    row('node -e 0 (baseline)', m.bare, ''),
    row('sealbox --help', m.help, `${(m.help / m.bare).toFixed(2)}x bare node (goal <= 3x)`),
    row('sealbox kv get', m.kvGet, `${(m.kvGet / m.bare).toFixed(2)}x bare node (goal <= 3x)`),
    row('broker, new data dir', m.brokerNew, `${(m.brokerNew / m.bare).toFixed(1)}x bare node (goal <= 3000 ms quiet)`),
    row('broker, existing data dir', m.brokerExisting, `${(m.brokerExisting / m.bare).toFixed(1)}x bare node (goal <= 1000 ms quiet)`),
    `broker CPU time (user+system) to listening, median: new ${median(cpu.brokerNew).toFixed(0)} ms, existing ${median(cpu.brokerExisting).toFixed(0)} ms (less sensitive to machine load than wall time)`,
    `samples (ms): ${JSON.stringify(Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.map((x) => Math.round(x))])))}`,
    '',
  ].join('\n'),
);
