// bench/list-method: the cost of the LIST rewrite (src/http/list-method.ts) on the HTTP path, against a baseline in the
// same run: a plain node:http server with the same handler. Both serve GET; the rewritten one also serves LIST.
//
//   npm run bench:list-method            (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_ROUNDS=2 by default)
import { alternate, load, row, spawnServer } from './lib.ts';

const plain = await spawnServer('plain', ['--import=tsx', 'bench/list-method-server.ts'], { BENCH_PLAIN: '1' });
const rewritten = await spawnServer('rewritten', ['--import=tsx', 'bench/list-method-server.ts'], {});
try {
  await load(`${plain.address}/v1/x`, {}, 2);
  await load(`${rewritten.address}/v1/x`, {}, 2);
  const [p, r] = await alternate(
    () => load(`${plain.address}/v1/x`, {}),
    () => load(`${rewritten.address}/v1/x`, {}),
  );
  process.stdout.write(`${row('node:http (baseline)', p)}\n${row('with the LIST rewrite', r)}\n`);
  process.stdout.write(`ratio rewrite/baseline: ${(r.rps / p.rps).toFixed(2)}\n`);
} finally {
  plain.proc.kill('SIGTERM');
  rewritten.proc.kill('SIGTERM');
}
