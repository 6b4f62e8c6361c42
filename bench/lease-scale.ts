// bench/lease-scale: what a large lease table costs the broker (issue 5, DESIGN §4).
//
//   npm run bench:lease-scale                 (BENCH_LEASES=1000000 BENCH_DUE=100000 by default)
//
// 1. Start-to-ready time (spawn → sys/health 200) and RSS of a broker whose PostgreSQL holds 1,000 leases,
//    then the same with BENCH_LEASES leases. Goal: ratio ≤ 1.2 (nothing loads all leases into memory).
// 2. BENCH_DUE leases made due at once: the time until the expiry worker has revoked them all.
// Leases are inserted directly (with `internal` sealed by the same barrier code the broker uses, opened with the
// dev root key) for speed. They are database-engine leases for users that do not exist on the target: the
// cheapest real revocation (the engine checks and finds nothing to drop).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { leaseFields } from '../src/core/integrity/rows.ts';
import { randomBase62, systemRandom } from '../src/lib/random.ts';
import { openLeaseRows } from './lease-rows.ts';
import { brokerNodeArgs, ensureBuilt } from './lib.ts';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { call, mountPostgresTarget, ROOT } from './lib.ts';
import { CONTEXTS } from '../src/core/barrier/contexts.ts';

const TOTAL = Number(process.env.BENCH_LEASES ?? 1_000_000);
const DUE = Math.min(Number(process.env.BENCH_DUE ?? 100_000), TOTAL);
const SMALL = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TOKEN = 'bench-root-token';

ensureBuilt();
const cluster = await startPostgres();
const brokerUrl = await cluster.createDatabase();
const targetUrl = await cluster.createDatabase();
const targetDb = new URL(targetUrl).pathname.slice(1);
const dataDir = mkdtempSync(join(tmpdir(), 'bench-lease-scale-'));
await withPgClient(targetUrl, (c) => c.query(`DO $$ BEGIN CREATE ROLE bench_readers NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`));

interface Started {
  proc: ChildProcess;
  address: string;
  readyMs: number;
  rssMb: number;
}

/** Spawns a dev broker on the bench database and times spawn → first 200 from sys/health. */
async function startTimed(): Promise<Started> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...brokerNodeArgs(), 'bin/sealbox.mjs', 'server', '--dev', '--listen', '127.0.0.1:0', '--data', dataDir, '--dev-root-token', TOKEN], {
    cwd: ROOT,
    env: { ...process.env, SEALBOX_DATABASE_URL: brokerUrl, SEALBOX_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  proc.stdout?.setEncoding('utf8');
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not start:\n${out.slice(-2000)}`)), 300_000);
    proc.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const m = /"msg":"listening".*?"address":"([^"]+)"|"address":"([^"]+)".*?"msg":"listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] ?? m[2] ?? '');
      }
      if (out.length > 1_000_000) out = out.slice(-100_000);
    });
    proc.on('exit', () => reject(new Error(`broker exited:\n${out.slice(-2000)}`)));
  });
  for (;;) {
    const r = await fetch(`${address}/v1/sys/health`).catch(() => null);
    if (r?.status === 200) break;
    await new Promise((res) => setTimeout(res, 10));
  }
  const readyMs = performance.now() - t0;
  await new Promise((res) => setTimeout(res, 1000));
  const status = readFileSync(`/proc/${proc.pid}/status`, 'utf8');
  const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  return { proc, address, readyMs, rssMb };
}

async function stop(s: Started): Promise<void> {
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await exited;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function measureStart(label: string): Promise<{ readyMs: number; rssMb: number }> {
  const ready: number[] = [];
  const rss: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const s = await startTimed();
    ready.push(s.readyMs);
    rss.push(s.rssMb);
    await stop(s);
  }
  const r = { readyMs: median(ready), rssMb: median(rss) };
  console.log(`${label.padEnd(34)} start-to-ready ${r.readyMs.toFixed(0).padStart(6)} ms (median of ${ROUNDS})   RSS ${r.rssMb.toFixed(1)} MB`);
  return r;
}

// First boot: initialise, mount the database engine, mint one real lease to learn the mount and `internal` shape.
const first = await startTimed();
await mountPostgresTarget(first.address, TOKEN, { port: cluster.port, user: cluster.user, password: cluster.password, dbName: targetDb }, { max_open_connections: 8 });
await call(first.address, TOKEN, 'POST', 'database/roles/ro', { db_name: 'main', default_group: 'bench_readers', default_ttl: '1h', max_ttl: '2h' });
const minted = (await call(first.address, TOKEN, 'GET', 'database/creds/ro')) as { lease_id: string };
await stop(first);

const { db, barrier, rowMac, mountId, internal } = await openLeaseRows(brokerUrl, dataDir, minted.lease_id);

/** Inserts leases for users that do not exist, in batches, until the table holds `target` rows. */
async function fillTo(target: number): Promise<void> {
  const t0 = performance.now();
  let have = Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM leases')).rows[0]?.n ?? 0);
  while (have < target) {
    const n = Math.min(10_000, target - have);
    const ids: string[] = [];
    const blobs: Buffer[] = [];
    const macs: Buffer[] = [];
    const issuedAt = new Date();
    const expiresAt = new Date(issuedAt.getTime() + 3600_000);
    const maxExpiresAt = new Date(issuedAt.getTime() + 7200_000);
    for (let i = 0; i < n; i++) {
      const suffix = randomBase62(systemRandom, 24);
      const id = `database/creds/ro/${suffix}`;
      ids.push(id);
      blobs.push(barrier.encrypt(CONTEXTS.leases(id), Buffer.from(JSON.stringify({ ...internal, username: `v-gone-${suffix}` }))).sealed);
      const fields = leaseFields({ id, mountId, secretType: 'creds', tokenAccessor: null, issuedAt, expiresAt, maxExpiresAt, ttlSeconds: 3600, renewable: true });
      macs.push(rowMac.sign('leases', fields) ?? Buffer.alloc(0));
    }
    await db.query(
      `INSERT INTO leases (id, mount_id, secret_type, internal, token_accessor, issued_at, expires_at, max_expires_at, ttl_seconds, renewable, due_at, mac)
       SELECT u.id, $3, 'creds', u.internal, NULL, $4, $5, $6, 3600, true, $5, u.mac
         FROM unnest($1::text[], $2::bytea[], $7::bytea[]) AS u(id, internal, mac)`,
      [ids, blobs, mountId, issuedAt, expiresAt, maxExpiresAt, macs],
    );
    have += n;
  }
  console.log(`filled the leases table to ${target} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

await fillTo(SMALL);
const small = await measureStart(`${SMALL} leases`);
await fillTo(TOTAL);
await db.query('ANALYZE leases');
const large = await measureStart(`${TOTAL} leases`);
console.log(`ratio start-to-ready ${TOTAL}/${SMALL}: ${(large.readyMs / small.readyMs).toFixed(2)} (goal <= 1.2); RSS ratio ${(large.rssMb / small.rssMb).toFixed(2)}`);

// 100,000 due at once.
const running = await startTimed();
const client = new pg.Client({ connectionString: brokerUrl });
await client.connect();
// Due now (due_at is the worker's schedule; expires_at is signed and stays): marked so that they can be counted.
await client.query(
  `UPDATE leases SET due_at = now(), last_error = 'bench-due' WHERE id IN (SELECT id FROM leases WHERE id LIKE 'database/creds/ro/%' ORDER BY id LIMIT $1)`,
  [DUE],
);
const t0 = performance.now();
for (;;) {
  const left = Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM leases WHERE last_error = 'bench-due'`)).rows[0]?.n ?? 0);
  if (left === 0) break;
  await new Promise((r) => setTimeout(r, 250));
}
const seconds = (performance.now() - t0) / 1000;
console.log(`${DUE} leases due at once: all revoked in ${seconds.toFixed(1)} s (${(DUE / seconds).toFixed(0)} leases/s), by one broker`);
await client.end();
await stop(running);
await db.close();
await cluster.stop();
