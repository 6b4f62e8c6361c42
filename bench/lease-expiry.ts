// bench/lease-expiry: the expiry worker revoking due leases of REAL users on a PostgreSQL target (issue 18 item 6),
// against a raw loop on the same target doing what a minimal revoker does per user, in the same run, rounds A B A B.
//
//   npm run bench:lease-expiry          (BENCH_EXPIRY_N=10000 BENCH_ROUNDS=3 by default)
//   BENCH_BROKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:lease-expiry   (profile of the broker)
//
// A: N login roles (members of a group role) are created on the target and N leases for them are inserted into the
//    broker's storage (sealed and MAC'd as the broker does: bench/lease-scale's way), not yet due; the clock starts
//    when they are made due in one UPDATE and stops when the last lease row is gone. Then every role must be gone.
// B: N roles created the same way; a raw loop on one connection runs, per user, `SELECT pg_terminate_backend(pid)
//    FROM pg_stat_activity WHERE usename = $1` then `DROP ROLE`.
// Goal: broker revocations/s ≥ 0.8 of the raw loop's, median of the rounds' ratios.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { CONTEXTS } from '../src/core/barrier/contexts.ts';
import { leaseFields } from '../src/core/integrity/rows.ts';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { openLeaseRows } from './lease-rows.ts';
import { brokerNodeArgs, call, ensureBuilt, mountPostgresTarget, spawnServer } from './lib.ts';

const N = Number(process.env.BENCH_EXPIRY_N ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TOKEN = 'bench-root-token';
const GROUP = 'expiry_readers';

ensureBuilt();
const cluster = await startPostgres();
const brokerUrl = await cluster.createDatabase();
const targetUrl = await cluster.createDatabase();
const targetDb = new URL(targetUrl).pathname.slice(1);
await withPgClient(targetUrl, (c) => c.query(`CREATE ROLE ${GROUP} NOLOGIN`));
const dataDir = mkdtempSync(join(tmpdir(), 'bench-lease-expiry-'));
const broker = await spawnServer('broker', [...brokerNodeArgs(), 'bin/sealbox.mjs', 'server', '--dev', '--listen', '127.0.0.1:0', '--data', dataDir, '--dev-root-token', TOKEN], {
  SEALBOX_DATABASE_URL: brokerUrl,
});
const stopBroker = async (): Promise<void> => {
  if (broker.proc.exitCode !== null) return;
  const exited = new Promise((r) => broker.proc.once('exit', r));
  broker.proc.kill('SIGTERM');
  await exited;
};

await mountPostgresTarget(broker.address, TOKEN, { port: cluster.port, user: cluster.user, password: cluster.password, dbName: targetDb });
await call(broker.address, TOKEN, 'POST', 'database/roles/ro', { db_name: 'main', default_group: GROUP, default_ttl: '1h', max_ttl: '2h' });
// One real lease: the mount id and the shape of `internal`.
const minted = (await call(broker.address, TOKEN, 'GET', 'database/creds/ro')) as { lease_id: string };

const { db, barrier, rowMac, mountId, internal } = await openLeaseRows(brokerUrl, dataDir, minted.lease_id);
await call(broker.address, TOKEN, 'PUT', 'sys/leases/revoke', { lease_id: minted.lease_id });

const target = new pg.Client({ connectionString: targetUrl });
await target.connect();
const names = (tag: string): string[] => Array.from({ length: N }, (_, i) => `v-bench-${tag}-${i}`);

/**
 * CREATE ROLE … LOGIN IN ROLE <group> for every name, 500 per round trip (no password: creation is not measured).
 * The shared catalogs are vacuumed first: every round creates and drops N roles, and without it the dead rows the
 * earlier rounds left slow the later ones down (either side), so that rounds would not compare.
 */
async function createRoles(users: readonly string[]): Promise<void> {
  await target.query('VACUUM pg_authid, pg_auth_members, pg_shdepend');
  for (let i = 0; i < users.length; i += 500) {
    await target.query(users.slice(i, i + 500).map((u) => `CREATE ROLE ${pg.escapeIdentifier(u)} LOGIN IN ROLE ${GROUP}`).join(';\n'));
  }
}

async function countRoles(tag: string): Promise<number> {
  const r = await target.query<{ n: string }>(`SELECT count(*) AS n FROM pg_roles WHERE starts_with(rolname, $1)`, [`v-bench-${tag}-`]);
  return Number(r.rows[0]?.n ?? 0);
}

/** Leases for `users`, signed and sealed as the broker's own, expiring in an hour (not due yet). */
async function insertLeases(users: readonly string[], tag: string): Promise<void> {
  const issuedAt = new Date();
  const expiresAt = new Date(issuedAt.getTime() + 3600_000);
  const maxExpiresAt = new Date(issuedAt.getTime() + 7200_000);
  for (let i = 0; i < users.length; i += 5000) {
    const ids: string[] = [];
    const blobs: Buffer[] = [];
    const macs: Buffer[] = [];
    for (const username of users.slice(i, i + 5000)) {
      const id = `database/creds/ro/${tag}-${username}`;
      ids.push(id);
      blobs.push(barrier.encrypt(CONTEXTS.leases(id), Buffer.from(JSON.stringify({ ...internal, username }))).sealed);
      const fields = leaseFields({ id, mountId, secretType: 'creds', tokenAccessor: null, issuedAt, expiresAt, maxExpiresAt, ttlSeconds: 3600, renewable: true });
      macs.push(rowMac.sign('leases', fields) ?? Buffer.alloc(0));
    }
    await db.query(
      `INSERT INTO leases (id, mount_id, secret_type, internal, token_accessor, issued_at, expires_at, max_expires_at, ttl_seconds, renewable, due_at, mac)
       SELECT u.id, $3, 'creds', u.internal, NULL, $4, $5, $6, 3600, true, $5, u.mac
         FROM unnest($1::text[], $2::bytea[], $7::bytea[]) AS u(id, internal, mac)`,
      [ids, blobs, mountId, issuedAt, expiresAt, maxExpiresAt, macs],
    );
  }
}

const leasesLeft = async (): Promise<number> => Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM leases`)).rows[0]?.n ?? 0);

/** A: the broker's expiry worker. Revocations per second, from "due" to "no lease left". */
async function viaBroker(round: number): Promise<number> {
  const tag = `a${round}`;
  const users = names(tag);
  await createRoles(users);
  await insertLeases(users, tag);
  const t0 = performance.now();
  await db.query(`UPDATE leases SET due_at = now()`);
  for (;;) {
    const left = await leasesLeft();
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - t0) / 1000;
  const still = await countRoles(tag);
  if (still !== 0) throw new Error(`${still} roles of round ${tag} are still on the target after their leases went`);
  return N / seconds;
}

/** B: a minimal revoker, per user: end its sessions, drop it. */
async function raw(round: number): Promise<number> {
  const tag = `b${round}`;
  const users = names(tag);
  await createRoles(users);
  const t0 = performance.now();
  for (const u of users) {
    await target.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [u]);
    await target.query(`DROP ROLE ${pg.escapeIdentifier(u)}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  if ((await countRoles(tag)) !== 0) throw new Error('raw loop left roles behind');
  return N / seconds;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

try {
  console.log(`lease-expiry: ${N} due leases of real roles per round, ${ROUNDS} rounds A B A B, PostgreSQL ${cluster.majorVersion}`);
  const ratios: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const a = await viaBroker(i);
    const b = await raw(i);
    as.push(a);
    bs.push(b);
    ratios.push(a / b);
    console.log(`round ${i + 1}: sealbox expiry ${a.toFixed(0).padStart(6)} revocations/s   raw terminate+DROP ROLE loop ${b.toFixed(0).padStart(6)} /s   ratio ${(a / b).toFixed(2)}`);
  }
  console.log(`sealbox: best ${Math.max(...as).toFixed(0)}/s, median ${median(as).toFixed(0)}/s; raw: best ${Math.max(...bs).toFixed(0)}/s, median ${median(bs).toFixed(0)}/s`);
  console.log(`ratio sealbox/raw: best ${Math.max(...ratios).toFixed(2)}, median ${median(ratios).toFixed(2)} (goal >= 0.80)`);
} finally {
  await target.end();
  await db.close();
  await stopBroker();
  await cluster.stop();
}
