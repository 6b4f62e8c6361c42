// bench/audit: what the audit log costs, all measured in one run on the same PostgreSQL.
//   1. KV v2 reads on a broker that audits every request, against the same reads on a broker with auditing
//      switched off (SEALBOX_AUDIT=false, a test/bench-only switch). Goal (issue 4): ratio >= 0.8.
//   2. Raw appender throughput (entries/s) with 200 concurrent appenders (group commit), against one INSERT per
//      transaction with the same concurrency, in process.
//   3. Verify speed: entries/s over BENCH_VERIFY_ENTRIES (default 1,000,000) chained entries, and search latency
//      over them (BENCH_VERIFY_ENTRIES=10000000 for the 10M-row check).
//
//   npm run bench:audit        (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_VERIFY_ENTRIES=1000000)
import { join } from 'node:path';
import nacl from 'tweetnacl';
import { createAuditAppender } from '../src/core/audit/appender.ts';
import { canonicalJson, chainHash, checkpointMessage, GENESIS_HASH } from '../src/core/audit/canonical.ts';
import type { PendingEntry } from '../src/core/audit/entry.ts';
import { verifyChain } from '../src/core/audit/verify.ts';
import { createLogger } from '../src/lib/log.ts';
import { createAuditReadStore } from '../src/storage/audit-read-store.ts';
import { createAuditStore, type AuditRow } from '../src/storage/audit-store.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createPgDb } from '../src/storage/pg-db.ts';
import { startPostgres } from '../test/helpers/postgres.ts';
import { alternate, call, CONNECTIONS, load, ROOT, row, SECONDS, spawnBroker } from './lib.ts';

const TOKEN = 'bench-root-token';
const VERIFY_ENTRIES = Number(process.env.BENCH_VERIFY_ENTRIES ?? 1_000_000);
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
  const [off, on] = await alternate(
    () => load(target(unaudited).url, target(unaudited).headers),
    () => load(target(audited).url, target(audited).headers),
  );
  console.log(`audit: ${CONNECTIONS} connections, ${SECONDS} s each, alternated ${process.env.BENCH_ROUNDS ?? 2} rounds, PostgreSQL ${pg.majorVersion} (${pg.kind})`);
  console.log(row('KV read, auditing off', off));
  console.log(row('KV read, every request audited', on));
  console.log(`ratio audited/unaudited: ${(on.rps / off.rps).toFixed(2)} (goal >= 0.80)`);
} finally {
  audited.proc.kill('SIGTERM');
  unaudited.proc.kill('SIGTERM');
}

// 2. The appender alone.
const db = createPgDb({ url: await pg.createDatabase(), log, maxConnections: 10 });
await migrate(db, join(ROOT, 'migrations'));
const keys = nacl.sign.keyPair();
const signer = {
  publicKey: () => Buffer.from(keys.publicKey),
  sign: (m: string) => ({ signature: Buffer.from(nacl.sign.detached(Buffer.from(m), keys.secretKey)), publicKey: Buffer.from(keys.publicKey) }),
};
const store = createAuditStore(db);
const appender = createAuditAppender({ db, store, signer, log, checkpointEvery: 100_000, checkpointSeconds: 3600 });
const pending = (i: number): PendingEntry => ({
  fields: { type: 'request', time: new Date().toISOString(), request_id: `r${i}`, operation: 'read', mount: 'secret/', path: `secret/data/app/${i % 100}`, remote_address: '127.0.0.1', accessor: 'acc', policies: ['default'], identity: null, outcome: 'success', error_code: null, error: null, lease_id: null, request: { data: {} }, response: null },
  time: new Date(),
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
const single = await measure((i) => db.tx((q) => q.query('INSERT INTO bench_single (entry, hash) VALUES ($1, $2)', [canonicalJson(pending(i).fields), GENESIS_HASH])), 20_000);
const grouped = await measure((i) => appender.append(pending(i)), 50_000);
console.log(`appender: ${CONCURRENCY} concurrent appenders; batches ${appender.stats.batches}, mean batch ${(appender.stats.entries / appender.stats.batches).toFixed(1)} entries`);
console.log(`  one INSERT per transaction (baseline): ${single.toFixed(0)} entries/s`);
console.log(`  group-commit appender (chained):       ${grouped.toFixed(0)} entries/s   ratio ${(grouped / single).toFixed(2)}`);
await appender.close();

// 3. Verify, and search: build a valid chain of VERIFY_ENTRIES rows (1 ms apart, 1000 accessors, one denial in
// 1000, a signed checkpoint every 1000 entries) straight into a fresh database, then walk it and search it.
const vdb = createPgDb({ url: await pg.createDatabase(), log, maxConnections: 4 });
await migrate(vdb, join(ROOT, 'migrations'));
const vstore = createAuditStore(vdb);
const t0 = Date.now() - VERIFY_ENTRIES;
let prev: Buffer = GENESIS_HASH;
const loadStarted = performance.now();
for (let from = 1; from <= VERIFY_ENTRIES; from += 5000) {
  const rows: AuditRow[] = [];
  for (let seq = from; seq < Math.min(from + 5000, VERIFY_ENTRIES + 1); seq++) {
    const p = pending(seq);
    const time = new Date(t0 + seq);
    const outcome = seq % 1000 === 500 ? 'denied' : 'success';
    const accessor = `acc-${seq % 1000}`;
    const entry = canonicalJson({ ...p.fields, seq, time: time.toISOString(), outcome, accessor });
    prev = chainHash(prev, entry);
    rows.push({ seq, time, requestId: p.requestId, type: 'request', operation: p.operation, mountPath: p.mountPath, path: p.path, accessor, remoteAddress: p.remoteAddress, outcome, entry, hash: prev });
    if (seq % 1000 === 0) {
      const cp = { seq, hash: prev, time };
      const { signature, publicKey } = signer.sign(checkpointMessage({ ...cp, time: time.toISOString() }));
      await vstore.insertCheckpoint({ ...cp, signature, publicKey });
    }
  }
  await vdb.tx((q) => vstore.insertBatch(q, rows));
}
await vdb.exec('ANALYZE audit_entries');
const loadSeconds = (performance.now() - loadStarted) / 1000;
const reader = createAuditReadStore(vdb);
const verifyStarted = performance.now();
const result = await verifyChain(reader.pages(), await reader.checkpoints(), Buffer.from(keys.publicKey));
const verifySeconds = (performance.now() - verifyStarted) / 1000;
console.log(`verify: ${VERIFY_ENTRIES} entries loaded in ${loadSeconds.toFixed(1)} s; verified in ${verifySeconds.toFixed(1)} s = ${(VERIFY_ENTRIES / verifySeconds).toFixed(0)} entries/s; result ${JSON.stringify(result)}`);
const timed = async (name: string, q: Parameters<typeof reader.search>[0]) => {
  await reader.search(q);
  const started = performance.now();
  const rows = await reader.search(q);
  console.log(`  search ${name.padEnd(36)} ${(performance.now() - started).toFixed(1).padStart(7)} ms, ${rows.length} rows`);
};
console.log(`search over ${VERIFY_ENTRIES} entries (first page of 100):`);
await timed('path_prefix secret/data/app/42', { pathPrefix: 'secret/data/app/42', limit: 100 });
await timed('accessor acc-7', { accessor: 'acc-7', limit: 100 });
await timed('outcome denied', { outcome: 'denied', limit: 100 });
await timed('operation read', { operation: 'read', limit: 100 });
await timed('since (last 10%)', { since: new Date(t0 + VERIFY_ENTRIES * 0.9), limit: 100 });
await timed('since+until (a 1 s window mid-log)', { since: new Date(t0 + VERIFY_ENTRIES / 2), until: new Date(t0 + VERIFY_ENTRIES / 2 + 1000), limit: 100 });
await timed('accessor acc-7, last 10%', { accessor: 'acc-7', since: new Date(t0 + VERIFY_ENTRIES * 0.9), limit: 100 });
await db.close();
await vdb.close();
