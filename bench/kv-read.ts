// bench/kv-read: authenticated KV v2 reads through the full broker pipeline on PostgreSQL storage, against a
// baseline measured in the same run: a bare Koa route doing one primary-key SELECT on the same PostgreSQL.
//
//   npm run bench:kv-read                       (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 by default)
//
// Prints req/s, p50 and p99 for both and the ratio broker/baseline. Goal (issue 2): ratio >= 0.5. It also measures
// the same reads on a broker with auditing off (SEALBOX_AUDIT=false): issue 2's pipeline had no audit log yet, and
// every audited read also appends an audit entry (issue 4; bench/audit.ts measures that cost on its own).
import { startPostgres } from '../test/helpers/postgres.ts';
import { alternate, call, CONNECTIONS, load, row, SECONDS, spawnBroker, spawnServer } from './lib.ts';

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
  const [b, k] = await alternate(
    () => load(base.url, base.headers),
    () => load(kv.url, kv.headers),
  );
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
