// bench/rewrap: keyring rewrap throughput (issue 7, DESIGN §2).
//
//   npm run bench:rewrap                (BENCH_ENTRIES=100000, BENCH_STORE=pg (a throwaway PostgreSQL 15) or pglite)
//
// Fills `entries` with BENCH_ENTRIES barrier envelopes (about 100-byte values, sealed with the same barrier code the
// broker uses), adds a key term, and times the keyring-rewrap job moving every DEK to the new term (batches of 500 in
// key order, FOR UPDATE SKIP LOCKED, one transaction and one UPDATE each; only the 77-byte DEK heads travel, the
// values are not opened) against a raw `UPDATE entries SET sealed = sealed, key_term = key_term`
// of the same rows in the same run: the floor that any rewrite of every row pays. Rounds alternate (rewrap, raw, …).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { createBarrier } from '../src/core/barrier/barrier.ts';
import { entryContext } from '../src/core/barrier/entry-storage.ts';
import { createKeyringRewrap } from '../src/core/barrier/keyring-rewrap.ts';
import { systemClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/log.ts';
import { systemRandom } from '../src/lib/random.ts';
import type { Db } from '../src/storage/db.ts';
import { createKeyringStore } from '../src/storage/keyring-store.ts';
import { migrate } from '../src/storage/migrate.ts';
import { createPgDb } from '../src/storage/pg-db.ts';
import { createPgliteDb } from '../src/storage/pglite-db.ts';
import { createSealStore } from '../src/storage/seal-store.ts';
import { startPostgres, stopPostgres } from '../test/helpers/postgres.ts';

const ENTRIES = Number(process.env.BENCH_ENTRIES ?? 100_000);
const STORE = process.env.BENCH_STORE ?? 'pg';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const INSERT_BATCH = 1000;
const log = createLogger({ level: 'warn' });

async function openDb(): Promise<Db> {
  if (STORE === 'pglite') {
    const dir = mkdtempSync(join(tmpdir(), 'bench-rewrap-'));
    return createPgliteDb(join(dir, 'pglite'), dir);
  }
  const cluster = await startPostgres();
  return createPgDb({ url: await cluster.createDatabase(), maxConnections: 4, log });
}

const db = await openDb();
await migrate(db, fileURLToPath(new URL('../migrations/', import.meta.url)));
const sealStore = createSealStore();
const barrier = createBarrier({ db, sealStore, random: systemRandom, clock: systemClock });
const rootKey = systemRandom.bytes(32);
await db.tx((q) => barrier.writeInitialKeyring(q, rootKey));
await barrier.unseal(rootKey);
const mountId = randomUUID();
await db.query(`INSERT INTO mounts (id, path, class, type) VALUES ($1, 'bench/', 'secret', 'kv')`, [mountId]);

let t0 = performance.now();
for (let i = 0; i < ENTRIES; i += INSERT_BATCH) {
  const params: unknown[] = [mountId];
  const values: string[] = [];
  for (let j = i; j < Math.min(ENTRIES, i + INSERT_BATCH); j++) {
    const key = `ver/app/${j}/0000000001`;
    const s = barrier.encrypt(entryContext(mountId, key), Buffer.from(JSON.stringify({ password: systemRandom.bytes(24).toString('base64'), n: j }), 'utf8'));
    params.push(key, s.sealed, s.term);
    values.push(`($1, $${params.length - 2}, $${params.length - 1}, $${params.length})`);
  }
  await db.query(`INSERT INTO entries (mount_id, key, sealed, key_term) VALUES ${values.join(', ')}`, params);
}
console.log(`store ${STORE}: ${ENTRIES} entries inserted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

const rewrap = createKeyringRewrap({ db, store: createKeyringStore(), barrier, clock: systemClock, log });
const rates: { rewrap: number[]; raw: number[] } = { rewrap: [], raw: [] };
for (let round = 1; round <= ROUNDS; round++) {
  await barrier.rotate();
  t0 = performance.now();
  const moved = await rewrap.run(0);
  const rewrapS = (performance.now() - t0) / 1000;
  if (moved !== ENTRIES) throw new Error(`rewrap moved ${moved} of ${ENTRIES}`);
  const st = await rewrap.status();
  if (st.pendingValues !== 0) throw new Error(`rewrap left ${st.pendingValues} values behind`);

  t0 = performance.now();
  const r = await db.query('UPDATE entries SET sealed = sealed, key_term = key_term WHERE mount_id = $1', [mountId]);
  const rawS = (performance.now() - t0) / 1000;
  if (r.rowCount !== ENTRIES) throw new Error(`raw update touched ${r.rowCount} rows`);
  rates.rewrap.push(ENTRIES / rewrapS);
  rates.raw.push(ENTRIES / rawS);
  console.log(
    `round ${round}: rewrap ${rewrapS.toFixed(2)} s = ${(ENTRIES / rewrapS).toFixed(0)} DEKs/s   raw UPDATE ${rawS.toFixed(2)} s = ${(ENTRIES / rawS).toFixed(0)} rows/s   ratio ${(rawS / rewrapS).toFixed(2)}`,
  );
}

// Every value still opens after the last rewrap (a sample of 1,000).
const sample = await db.query<{ key: string; sealed: Uint8Array }>('SELECT key, sealed FROM entries WHERE mount_id = $1 ORDER BY random() LIMIT 1000', [mountId]);
for (const row of sample.rows) await barrier.decrypt(entryContext(mountId, row.key), row.sealed);

// The crypto alone (no database): open each DEK and wrap it again, in batches of 500 as the job does.
const inMemory = sample.rows.map((row) => Buffer.from(row.sealed));
await barrier.rotate();
t0 = performance.now();
let opened = 0;
for (let k = 0; k < 20; k++) {
  for (let i = 0; i < inMemory.length; i += 500) for (const next of (await barrier.rewrapDeks(inMemory.slice(i, i + 500))).heads) opened += next ? 1 : 0;
}
const cryptoRate = opened / ((performance.now() - t0) / 1000);

const avg = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const rewrapRate = avg(rates.rewrap);
const rawRate = avg(rates.raw);
console.log(`crypto alone (tweetnacl, no database): ${cryptoRate.toFixed(0)} rewraps/s`);
const ratios = rates.rewrap.map((x, i) => x / (rates.raw[i] as number)).sort((a, b) => a - b);
const median = ratios.length % 2 ? (ratios[(ratios.length - 1) / 2] as number) : ((ratios[ratios.length / 2 - 1] as number) + (ratios[ratios.length / 2] as number)) / 2;
console.log(`per-round ratio rewrap/raw: best ${(ratios[ratios.length - 1] as number).toFixed(2)}, median ${median.toFixed(2)} (goal >= 0.5: ${median >= 0.5 ? 'met' : 'not met'})`);
console.log(`\nrewrap ${rewrapRate.toFixed(0)} DEKs/s   raw SQL UPDATE ${rawRate.toFixed(0)} rows/s   ratio rewrap/raw ${(rewrapRate / rawRate).toFixed(2)} (${ROUNDS} rounds, ${ENTRIES} entries, ${STORE})`);
barrier.seal();
await db.close();
if (STORE === 'pg') await stopPostgres();
