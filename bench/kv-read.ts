// bench/kv-read: authenticated KV v2 reads through the full broker pipeline on PostgreSQL storage, against a
// baseline measured in the same run: a bare Koa route doing one primary-key SELECT on the same PostgreSQL.
//
//   npm run bench:kv-read                       (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 by default)
//
// Prints req/s, p50 and p99 for both and the ratio broker/baseline. Goal (issue 2): ratio >= 0.5. It also measures
// the same reads on a broker with auditing off (SEALBOX_AUDIT=false): issue 2's pipeline had no audit log yet, and
// every audited read also appends an audit entry (issue 4; bench/audit.ts measures that cost on its own).
import { readFileSync } from 'node:fs';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { measureCpu } from './cpu.ts';
import { call, CONNECTIONS, load, mergeRuns, row, SECONDS, spawnBroker, spawnServer, type Run } from './lib.ts';

const TOKEN = 'bench-root-token';
const pg = await startPostgres();
const dbUrl = await pg.createDatabase();
const baseline = await spawnServer('baseline', ['--import=tsx', 'bench/baseline-server.ts'], { BENCH_DATABASE_URL: dbUrl });
const broker = await spawnBroker(dbUrl, TOKEN);
const unaudited = await spawnBroker(await pg.createDatabase(), TOKEN, { SEALBOX_AUDIT: 'false' });
try {
  for (const b of [broker, unaudited]) {
    await call(b.address, TOKEN, 'POST', 'secret/data/bench/app', { data: { username: 'app', password: 'correct-horse-battery-staple' } });
  }
  const plain = { url: `${unaudited.address}/v1/secret/data/bench/app`, headers: { 'x-vault-token': TOKEN } };
  const base = { url: `${baseline.address}/row`, headers: {} };
  const kv = { url: `${broker.address}/v1/secret/data/bench/app`, headers: { 'x-vault-token': TOKEN } };
  // Warm up both (JIT, connection pools, caches) before measuring.
  await load(base.url, base.headers, 2);
  await load(kv.url, kv.headers, 2);
  await load(plain.url, plain.headers, 2);
  // A B A B rounds: each round's ratio is printed, then the best and the median (issue 18: the ratio is what counts).
  const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
  const bs: Run[] = [];
  const ks: Run[] = [];
  // CPU per request of the server process plus PostgreSQL (postmaster and backends): what a busy machine disturbs less.
  const postmaster = await withPgClient(pg.superuserUrl, async (c) => {
    const dir = (await c.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory ?? '';
    return Number(readFileSync(`${dir}/postmaster.pid`, 'utf8').split('\n')[0]);
  });
  const measured = async (server: { proc: { pid?: number } }, r: () => Promise<Run>): Promise<[Run, number]> => {
    const { result, ms } = await measureCpu({ server: server.proc.pid ?? 0, postgres: postmaster }, r);
    return [result, ((ms.server ?? 0) + (ms.postgres ?? 0)) / Math.max(1, result.rps * SECONDS)];
  };
  const cpuRatios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const [bi, bc] = await measured(baseline, () => load(base.url, base.headers));
    const [ki, kc] = await measured(broker, () => load(kv.url, kv.headers));
    bs.push(bi);
    ks.push(ki);
    cpuRatios.push(bc / kc);
    console.log(
      `round ${i + 1}: baseline ${bi.rps.toFixed(0)} req/s, sealbox ${ki.rps.toFixed(0)} req/s, ratio ${(ki.rps / bi.rps).toFixed(2)}; ` +
        `CPU per request (server + PostgreSQL): baseline ${(bc * 1000).toFixed(0)} µs, sealbox ${(kc * 1000).toFixed(0)} µs, ratio ${(bc / kc).toFixed(2)}`,
    );
  }
  cpuRatios.sort((x, y) => x - y);
  console.log(`CPU ratio (baseline µs / sealbox µs) per round: best ${(cpuRatios.at(-1) ?? 0).toFixed(2)}, median ${(cpuRatios[Math.floor(cpuRatios.length / 2)] ?? 0).toFixed(2)}`);
  const ratios = bs.map((bi, i) => (ks[i] as Run).rps / bi.rps).sort((x, y) => x - y);
  const median = ratios.length % 2 === 1 ? (ratios[(ratios.length - 1) / 2] as number) : ((ratios[ratios.length / 2 - 1] as number) + (ratios[ratios.length / 2] as number)) / 2;
  console.log(`ratio per round: best ${(ratios[ratios.length - 1] as number).toFixed(2)}, median ${median.toFixed(2)} (issue 18 goal >= 1.0)`);
  const [b, k] = [mergeRuns(bs), mergeRuns(ks)];
  const p = await load(plain.url, plain.headers);
  console.log(`kv-read: ${CONNECTIONS} connections, ${SECONDS} s each, alternated ${process.env.BENCH_ROUNDS ?? 2} rounds, PostgreSQL ${pg.majorVersion} (${pg.kind})`);
  console.log(row('baseline (Koa + 1 PK SELECT)', b));
  console.log(row('sealbox KV v2 read (full pipeline)', k));
  console.log(row('sealbox KV v2 read, auditing off', p));
  console.log(`ratio sealbox/baseline: ${(k.rps / b.rps).toFixed(2)} (goal >= 0.50); auditing off: ${(p.rps / b.rps).toFixed(2)}`);
  console.log(`ratio audited/unaudited (Merkle audit log): ${(k.rps / p.rps).toFixed(2)} (goal >= 0.90; bench/audit alternates rounds of both)`);
  if (k.non2xx > 0 || k.errors > 0) {
    console.log('FAIL: the broker answered with errors under load');
    process.exitCode = 1;
  }
} finally {
  baseline.proc.kill('SIGTERM');
  broker.proc.kill('SIGTERM');
  unaudited.proc.kill('SIGTERM');
}
