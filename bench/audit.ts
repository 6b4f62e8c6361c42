// bench/audit: what the audit log costs, all measured in one run on the same PostgreSQL.
//   1. KV v2 reads on a broker that audits every request, against the same reads on a broker with auditing
//      switched off (SEALBOX_AUDIT=false, a test/bench-only switch), in alternating rounds. Goal (issue 14): >= 0.9.
//   2. Raw appender throughput (entries/s) with 200 concurrent appenders (group commit), against one INSERT per
//      transaction with the same concurrency, in process.
//   3. Append cost per entry with the Merkle tree at ~1k entries against the same at BENCH_APPEND_ENTRIES
//      (default 1,000,000) entries, in alternating rounds (goal: within 1.2x, i.e. O(log n) per batch). Both logs are
//      filled through the appender itself (big batches), so they hold the same tree the broker builds.
//   4. Verify speed over the big log, and search latency over it.
//
//   npm run bench:audit        (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_ROUNDS=3 BENCH_APPEND_ENTRIES=1000000)
import { createHmac, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createAuditAppender } from '../src/core/audit/appender.ts';
import { canonicalJson } from '../src/core/audit/canonical.ts';
import type { PendingEntry } from '../src/core/audit/entry.ts';
import { createNoteSigner } from '../src/core/audit/signer.ts';
import { verifyLog } from '../src/core/audit/verify.ts';
import { systemClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/log.ts';
import { createAuditReadStore } from '../src/storage/audit-read-store.ts';
import { createAuditStore } from '../src/storage/audit-store.ts';
import type { Db } from '../src/storage/db.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createPgDb } from '../src/storage/pg-db.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { call, CONNECTIONS, load, ROOT, row, SECONDS, spawnBroker, type Run } from './lib.ts';

const TOKEN = 'bench-root-token';
const BIG = Number(process.env.BENCH_APPEND_ENTRIES ?? process.env.BENCH_VERIFY_ENTRIES ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const pg = await startPostgres();
const log = createLogger({ level: 'silent' });

// 1. Through the HTTP pipeline.
const audited = await spawnBroker(await pg.createDatabase(), TOKEN);
const unaudited = await spawnBroker(await pg.createDatabase(), TOKEN, { SEALBOX_AUDIT: 'false' });
try {
  for (const b of [audited, unaudited]) await call(b.address, TOKEN, 'POST', 'secret/data/bench/app', { data: { password: 'correct-horse-battery-staple' } });
  const target = (b: typeof audited) => ({ url: `${b.address}/v1/secret/data/bench/app`, headers: { 'x-vault-token': TOKEN } });
  await load(target(audited).url, target(audited).headers, 2);
  await load(target(unaudited).url, target(unaudited).headers, 2);
  console.log(`audit: ${CONNECTIONS} connections, ${SECONDS} s each, ${ROUNDS} alternated rounds, PostgreSQL ${pg.majorVersion} (${pg.kind})`);
  const ratios: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const off: Run = await load(target(unaudited).url, target(unaudited).headers);
    const on: Run = await load(target(audited).url, target(audited).headers);
    ratios.push(on.rps / off.rps);
    console.log(row(`round ${i + 1}: KV read, auditing off`, off));
    console.log(row(`round ${i + 1}: KV read, every request audited`, on));
  }
  console.log(`ratio audited/unaudited per round: ${ratios.map((r) => r.toFixed(3)).join(' ')}; best ${Math.max(...ratios).toFixed(3)}, median ${median(ratios).toFixed(3)} (goal >= 0.90)`);
} finally {
  audited.proc.kill('SIGTERM');
  unaudited.proc.kill('SIGTERM');
}

// 2. The appender alone.
const db = createPgDb({ url: await pg.createDatabase(), log, maxConnections: 10 });
await migrate(db, join(ROOT, 'migrations'));
const signer = createNoteSigner(randomBytes(32));
const macKey = randomBytes(32);
const store = createAuditStore(db);
const appender = createAuditAppender({ db, store, signer, log, clock: systemClock, checkpointEvery: 100_000, checkpointSeconds: 3600 });
// One Date for the entry and its copied time column (verify checks that the columns equal the entry).
const pending = (i: number, now = new Date()): PendingEntry => ({
  fields: { type: 'request', time: now.toISOString(), request_id: `r${i}`, operation: 'read', mount: 'secret/', path: `secret/data/app/${i % 100}`, remote_address: '127.0.0.1', accessor: 'acc', policies: ['default'], identity: null, outcome: 'success', error_code: null, error: null, lease_id: null, request: { data: {} }, response: null },
  time: now,
  requestId: `r${i}`,
  operation: 'read',
  mountPath: 'secret/',
  path: `secret/data/app/${i % 100}`,
  accessor: 'acc',
  remoteAddress: '127.0.0.1',
  outcome: 'success',
});
const CONCURRENCY = 200;
const measure = async (fn: (i: number) => Promise<unknown>, total: number): Promise<number> => {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < total) await fn(next++);
  }));
  return total / ((performance.now() - started) / 1000);
};
await db.exec('CREATE TABLE bench_single (seq bigserial PRIMARY KEY, entry text NOT NULL, hash bytea NOT NULL)');
const single = await measure((i) => db.tx((q) => q.query('INSERT INTO bench_single (entry, hash) VALUES ($1, $2)', [canonicalJson(pending(i).fields), Buffer.alloc(32)])), 20_000);
const grouped = await measure((i) => appender.append(pending(i)), 50_000);
console.log(`appender: ${CONCURRENCY} concurrent appenders; batches ${appender.stats.batches}, mean batch ${(appender.stats.entries / appender.stats.batches).toFixed(1)} entries`);
console.log(`  one INSERT per transaction (baseline): ${single.toFixed(0)} entries/s`);
console.log(`  group-commit appender (Merkle tree):   ${grouped.toFixed(0)} entries/s   ratio ${(grouped / single).toFixed(2)}`);
await appender.close();

// 3. Append cost at ~1k entries and at BIG entries: two logs filled through the appender (batches of 5000), then
// alternating rounds of ROUND_ENTRIES appends to each with production batching (200 concurrent, batches <= 500).
const openLog = async (checkpointEvery: number, maxBatch: number, url?: string): Promise<{ db: Db; url: string; appender: ReturnType<typeof createAuditAppender> }> => {
  const u = url ?? (await pg.createDatabase());
  const d = createPgDb({ url: u, log, maxConnections: 4 });
  await migrate(d, join(ROOT, 'migrations'));
  const entryMac = (leaf: Buffer) => createHmac('sha256', macKey).update(leaf).digest();
  return { db: d, url: u, appender: createAuditAppender({ db: d, store: createAuditStore(d), signer, log, clock: systemClock, checkpointEvery, checkpointSeconds: 3600, maxBatch, entryMac }) };
};
const fill = async (a: ReturnType<typeof createAuditAppender>, n: number, from: number, chunk = 50_000): Promise<void> => {
  for (let i = 0; i < n; i += chunk) await Promise.all(Array.from({ length: Math.min(chunk, n - i) }, (_, j) => a.append(pending(from + i + j))));
};
const ROUND_ENTRIES = Number(process.env.BENCH_ROUND_ENTRIES ?? 20_000);
const small = await openLog(1000, 5000);
const big = await openLog(1000, 5000);
const loadStarted = performance.now();
await fill(small.appender, 1000, 1);
await fill(big.appender, BIG, 1);
const loadSeconds = (performance.now() - loadStarted) / 1000;
for (const l of [small, big]) await l.appender.close();
await big.db.exec('ANALYZE audit_entries');
// Production batching for the measured rounds.
const smallP = await openLog(1000, 500, small.url);
const bigP = await openLog(1000, 500, big.url);
const perEntry = async (a: ReturnType<typeof createAuditAppender>): Promise<number> => {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < ROUND_ENTRIES) await a.append(pending(next++));
  }));
  return ((performance.now() - started) * 1000) / ROUND_ENTRIES;
};
console.log(`append cost: logs of 1000 and ${BIG} entries (filled in ${loadSeconds.toFixed(1)} s); ${ROUNDS} alternated rounds of ${ROUND_ENTRIES} appends each`);
const costRatios: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const s1 = await perEntry(smallP.appender);
  const b1 = await perEntry(bigP.appender);
  costRatios.push(b1 / s1);
  console.log(`  round ${i + 1}: ${s1.toFixed(1)} us/entry at ~${1000 + i * ROUND_ENTRIES} entries, ${b1.toFixed(1)} us/entry at ~${BIG + i * ROUND_ENTRIES}: ratio ${(b1 / s1).toFixed(3)}`);
}
console.log(`append cost ratio big/small: best ${Math.min(...costRatios).toFixed(3)}, median ${median(costRatios).toFixed(3)} (goal <= 1.2)`);
for (const l of [smallP, bigP]) await l.appender.close();

// 4. Verify and search over the big log.
const vdb = bigP.db;
const reader = createAuditReadStore(vdb);
const verifyStarted = performance.now();
const result = await verifyLog(reader.pages(), await reader.checkpoints(), { publicKey: signer.publicKey(), origin: signer.origin(), head: await reader.head() });
const verifySeconds = (performance.now() - verifyStarted) / 1000;
const VERIFY_ENTRIES = result.checked;
console.log(`verify: ${VERIFY_ENTRIES} entries verified in ${verifySeconds.toFixed(1)} s = ${(VERIFY_ENTRIES / verifySeconds).toFixed(0)} entries/s; ok ${result.ok}, first_bad_seq ${result.first_bad_seq}`);
const timed = async (name: string, q: Parameters<typeof reader.search>[0]) => {
  await reader.search(q);
  const started = performance.now();
  const rows = await reader.search(q);
  console.log(`  search ${name.padEnd(36)} ${(performance.now() - started).toFixed(1).padStart(7)} ms, ${rows.length} rows`);
};
console.log(`search over ${VERIFY_ENTRIES} entries (first page of 100):`);
await timed('path_prefix secret/data/app/42', { pathPrefix: 'secret/data/app/42', limit: 100 });
await timed('accessor acc', { accessor: 'acc', limit: 100 });
await timed('operation read', { operation: 'read', limit: 100 });
await timed('since (last minute)', { since: new Date(Date.now() - 60_000), limit: 100 });
await db.close();
await small.db.close();
await big.db.close();
await smallP.db.close();
await vdb.close();
