// bench/rate-limit: what rate-limit quotas cost on the request path, KV v2 reads on PostgreSQL, all in one run:
//   1. no quota at all;  2. a quota on another mount (the path has none);  3. a quota on secret/ high enough
//   never to refuse (local tokens, a shared-counter reservation every rate/10 requests).
//
//   node --import tsx bench/rate-limit.ts        (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 by default)
import { startPostgres } from '../test/helpers/postgres.ts';
import { call, load, row, SECONDS, CONNECTIONS, spawnBroker } from './lib.ts';

const TOKEN = 'bench-root-token';
const pg = await startPostgres();
const broker = await spawnBroker(await pg.createDatabase(), TOKEN);
try {
  await call(broker.address, TOKEN, 'POST', 'secret/data/bench/app', { data: { password: 'correct-horse-battery-staple' } });
  await call(broker.address, TOKEN, 'POST', 'sys/mounts/other', { type: 'kv-v2' });
  const kv = { url: `${broker.address}/v1/secret/data/bench/app`, headers: { 'x-vault-token': TOKEN } };
  await load(kv.url, kv.headers, 2);
  const none = await load(kv.url, kv.headers);
  await call(broker.address, TOKEN, 'POST', 'sys/quotas/rate-limit/other', { rate: 10, path: 'other' });
  const elsewhere = await load(kv.url, kv.headers);
  await call(broker.address, TOKEN, 'POST', 'sys/quotas/rate-limit/secret', { rate: 10_000_000, path: 'secret' });
  const covered = await load(kv.url, kv.headers);
  console.log(`rate-limit: ${CONNECTIONS} connections, ${SECONDS} s each, PostgreSQL ${pg.majorVersion} (${pg.kind})`);
  console.log(row('no quota', none));
  console.log(row('quota on another mount', elsewhere));
  console.log(row('quota on this mount (never refuses)', covered));
  console.log(`ratio other-mount/none: ${(elsewhere.rps / none.rps).toFixed(2)}, covered/none: ${(covered.rps / none.rps).toFixed(2)}`);
} finally {
  broker.proc.kill('SIGTERM');
}
