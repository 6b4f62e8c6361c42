// bench/tracing: what tracing costs on the KV v2 read path (PostgreSQL storage, auditing on), A/B alternated:
//   off  the default (SEALBOX_TRACING_EXPORTER unset): no SDK loaded, no span work at all
//   on   SEALBOX_TRACING_EXPORTER=otlp to a local sink that accepts and discards OTLP/HTTP JSON, every request sampled
//
//   node --import tsx bench/tracing.ts          (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_ROUNDS=2 by default)
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPostgres } from '../test/helpers/postgres.ts';
import { alternate, call, CONNECTIONS, load, row, SECONDS, spawnBroker } from './lib.ts';

const TOKEN = 'bench-root-token';
let exported = 0;
const sink = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    exported++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;

const pg = await startPostgres();
const off = await spawnBroker(await pg.createDatabase(), TOKEN);
const on = await spawnBroker(await pg.createDatabase(), TOKEN, { SEALBOX_TRACING_EXPORTER: 'otlp', SEALBOX_TRACING_ENDPOINT: endpoint });
try {
  for (const b of [off, on]) await call(b.address, TOKEN, 'POST', 'secret/data/bench/app', { data: { username: 'app', password: 'correct-horse-battery-staple' } });
  const target = (address: string) => ({ url: `${address}/v1/secret/data/bench/app`, headers: { 'x-vault-token': TOKEN } });
  await load(target(off.address).url, target(off.address).headers, 2);
  await load(target(on.address).url, target(on.address).headers, 2);
  const [a, b] = await alternate(
    () => load(target(off.address).url, target(off.address).headers),
    () => load(target(on.address).url, target(on.address).headers),
  );
  console.log(`tracing: ${CONNECTIONS} connections, ${SECONDS} s each, alternated ${process.env.BENCH_ROUNDS ?? 2} rounds, PostgreSQL ${pg.majorVersion}`);
  console.log(row('KV v2 read, tracing off (default)', a));
  console.log(row('KV v2 read, tracing on (OTLP, all sampled)', b));
  console.log(`tracing on/off: ${(b.rps / a.rps).toFixed(2)}; OTLP export requests received: ${exported}`);
} finally {
  off.proc.kill('SIGTERM');
  on.proc.kill('SIGTERM');
  sink.close();
}
