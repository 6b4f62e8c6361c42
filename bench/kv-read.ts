// bench/kv-read: authenticated KV v2 reads through the full broker pipeline on PostgreSQL storage, against a
// baseline measured in the same run: a bare Koa route doing one primary-key SELECT on the same PostgreSQL.
//
//   npm run bench:kv-read                       (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 by default)
//
// Prints req/s, p50 and p99 for both and the ratio broker/baseline. Goal (issue 2): ratio >= 0.5.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { startPostgres } from '../test/helpers/postgres.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const ROOT = new URL('..', import.meta.url).pathname;
const TOKEN = 'bench-root-token';

async function spawnServer(name: string, args: string[], env: Record<string, string>): Promise<{ proc: ChildProcess; address: string }> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${name}-`));
  const logFile = join(dir, 'out.log');
  const fd = openSync(logFile, 'w');
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', fd, fd] });
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const m = /"msg":"listening".*?"address":"([^"]+)"|"address":"([^"]+)".*?"msg":"listening"/.exec(readFileSync(logFile, 'utf8'));
    if (m) return { proc, address: m[1] ?? m[2] ?? '' };
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`${name} did not start:\n${readFileSync(logFile, 'utf8')}`);
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>, seconds: number): Promise<Run> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

const pg = await startPostgres();
const dbUrl = await pg.createDatabase();
const baseline = await spawnServer('baseline', ['--import=tsx', 'bench/baseline-server.ts'], { BENCH_DATABASE_URL: dbUrl });
const broker = await spawnServer('broker', ['bin/sealbox.mjs', 'server', '--dev', '--listen', '127.0.0.1:0', '--data', mkdtempSync(join(tmpdir(), 'bench-data-')), '--dev-root-token', TOKEN], {
  SEALBOX_DATABASE_URL: dbUrl,
});
try {
  const put = await fetch(`${broker.address}/v1/secret/data/bench/app`, {
    method: 'POST',
    headers: { 'x-vault-token': TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify({ data: { username: 'app', password: 'correct-horse-battery-staple' } }),
  });
  if (put.status !== 200) throw new Error(`seed write failed: ${put.status} ${await put.text()}`);

  const targets = {
    baseline: { url: `${baseline.address}/row`, headers: {} },
    broker: { url: `${broker.address}/v1/secret/data/bench/app`, headers: { 'x-vault-token': TOKEN } },
  };
  // Warm up both (JIT, connection pools, caches) before measuring.
  await load(targets.baseline.url, targets.baseline.headers, 2);
  await load(targets.broker.url, targets.broker.headers, 2);
  const base = await load(targets.baseline.url, targets.baseline.headers, SECONDS);
  const kv = await load(targets.broker.url, targets.broker.headers, SECONDS);

  const row = (name: string, r: Run) =>
    `${name.padEnd(34)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${String(r.p50).padStart(4)} ms   p99 ${String(r.p99).padStart(4)} ms   non-2xx ${r.non2xx}  errors ${r.errors}`;
  console.log(`kv-read: ${CONNECTIONS} connections, ${SECONDS} s each, PostgreSQL ${pg.majorVersion} (${pg.kind})`);
  console.log(row('baseline (Koa + 1 PK SELECT)', base));
  console.log(row('sealbox KV v2 read (full pipeline)', kv));
  const ratio = kv.rps / base.rps;
  console.log(`ratio sealbox/baseline: ${ratio.toFixed(2)} (goal >= 0.50)`);
  if (kv.non2xx > 0 || kv.errors > 0) {
    console.log('FAIL: the broker answered with errors under load');
    process.exitCode = 1;
  }
} finally {
  baseline.proc.kill('SIGTERM');
  broker.proc.kill('SIGTERM');
}
