// Shared pieces of the benchmarks: start a server process with its output in a file, and run autocannon.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';

export const ROOT = new URL('..', import.meta.url).pathname;
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
export const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

export interface Server {
  proc: ChildProcess;
  address: string;
}

/** Spawns `node args…`, waits for its "listening" JSON line (written to a log file, not piped, so reading it costs nothing). */
export async function spawnServer(name: string, args: string[], env: Record<string, string>): Promise<Server> {
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

let built = false;
/** bin/sealbox.mjs runs dist/: build it first (a no-op when up to date), so that a benchmark never measures a stale build. */
export function ensureBuilt(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('scripts/build.mjs failed');
  built = true;
}

/** BENCH_BROKER_NODE_ARGS as a list of node flags for a broker process (every bench that spawns one passes them). */
export const brokerNodeArgs = (): string[] => (process.env.BENCH_BROKER_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');

/**
 * A dev broker on the given PostgreSQL with a known root token. BENCH_BROKER_NODE_ARGS adds node flags to the broker
 * alone (NODE_OPTIONS refuses some, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`; the profile is written when it exits).
 */
export function spawnBroker(databaseUrl: string, rootToken: string, env: Record<string, string> = {}): Promise<Server> {
  ensureBuilt();
  const data = mkdtempSync(join(tmpdir(), 'bench-data-'));
  return spawnServer('broker', [...brokerNodeArgs(), 'bin/sealbox.mjs', 'server', '--dev', '--listen', '127.0.0.1:0', '--data', data, '--dev-root-token', rootToken], {
    SEALBOX_DATABASE_URL: databaseUrl,
    ...env,
  });
}

export interface Run {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

export async function load(url: string, headers: Record<string, string>, seconds = SECONDS): Promise<Run> {
  const r = await autocannon({ url, connections: CONNECTIONS, duration: seconds, headers });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

export const row = (name: string, r: Run): string =>
  `${name.padEnd(40)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${String(r.p50).padStart(4)} ms   p99 ${String(r.p99).padStart(4)} ms   non-2xx ${r.non2xx}  errors ${r.errors}`;

/** Calls the broker's API as `token`; throws on anything but 2xx. */
export async function call(address: string, token: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await fetch(`${address}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** Runs A and B alternately `rounds` times (ABAB…) so that a noisy neighbour hits both alike; sums the runs. */
export async function alternate(a: () => Promise<Run>, b: () => Promise<Run>, rounds = Number(process.env.BENCH_ROUNDS ?? 2)): Promise<[Run, Run]> {
  const as: Run[] = [];
  const bs: Run[] = [];
  for (let i = 0; i < rounds; i++) {
    as.push(await a());
    bs.push(await b());
    const ra = as[i] as Run;
    const rb = bs[i] as Run;
    console.log(`  round ${i + 1}: A ${ra.rps.toFixed(0)} req/s   B ${rb.rps.toFixed(0)} req/s   ratio A/B ${(ra.rps / rb.rps).toFixed(2)}`);
  }
  const ratios = as.map((r, i) => r.rps / (bs[i] as Run).rps).sort((x, y) => x - y);
  const mid = ratios.length / 2;
  const median = ratios.length % 2 ? (ratios[Math.floor(mid)] as number) : ((ratios[mid - 1] as number) + (ratios[mid] as number)) / 2;
  console.log(`  ratio A/B over ${rounds} rounds: best ${(ratios[ratios.length - 1] as number).toFixed(2)}, median ${median.toFixed(2)}`);
  return [mergeRuns(as), mergeRuns(bs)];
}

/** Several runs of one side as one: mean rate, worst latencies, summed failures. */
export function mergeRuns(runs: Run[]): Run {
  return {
    rps: runs.reduce((s, r) => s + r.rps, 0) / runs.length,
    p50: Math.max(...runs.map((r) => r.p50)),
    p99: Math.max(...runs.map((r) => r.p99)),
    non2xx: runs.reduce((s, r) => s + r.non2xx, 0),
    errors: runs.reduce((s, r) => s + r.errors, 0),
  };
}

/** Mounts `database/` on a broker and writes config `main` for a PostgreSQL target reached as the cluster's superuser. */
export async function mountPostgresTarget(
  address: string,
  token: string,
  target: { port: number; user: string; password: string; dbName: string },
  extra: Record<string, unknown> = {},
): Promise<void> {
  await call(address, token, 'POST', 'sys/mounts/database', { type: 'database' });
  await call(address, token, 'POST', 'database/config/main', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.port}/${target.dbName}`,
    username: target.user,
    password: target.password,
    allowed_roles: '*',
    ...extra,
  });
}
