// bench/row-mac: what the row integrity checks (issue 13) cost, measured in one run on the workloads of bench/kv-read
// and bench/db-mint: the same broker with the checks on, and with them off (the test-only switch
// SEALBOX_TEST_MODE=1 + SEALBOX_TEST_NO_ROW_MAC=1), on separate databases, loaded alternately (on, off, on, off, …)
// so that a noisy neighbour hits both alike. Goal: on/off ≥ 0.95 on both.
//
//   npm run bench:row-mac                  (BENCH_SECONDS=10 BENCH_ROUNDS=4 by default)
//
// kv-read uses a non-root token with an ACL policy (the token row and the policy row are checked when they are
// loaded into their caches); db-mint signs one lease row per credential.
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { createRowMac, type MacFields } from '../src/core/integrity/row-mac.ts';
import { leaseFields, tokenFields } from '../src/core/integrity/rows.ts';
import { deriveKey } from '../src/lib/crypto.ts';
import { createLogger } from '../src/lib/log.ts';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { call, mountPostgresTarget, SECONDS, spawnBroker, type Server } from './lib.ts';

const TOKEN = 'bench-root-token';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const DB_CONNECTIONS = Number(process.env.BENCH_DB_CONNECTIONS ?? 4);
const OFF = { SEALBOX_TEST_MODE: '1', SEALBOX_TEST_NO_ROW_MAC: '1' };

const cluster = await startPostgres();
const targetUrl = await cluster.createDatabase();
const targetDb = new URL(targetUrl).pathname.slice(1);
await withPgClient(targetUrl, (c) => c.query(`DO $$ BEGIN CREATE ROLE mint_readers NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`));

async function prepare(b: Server): Promise<string> {
  await call(b.address, TOKEN, 'POST', 'secret/data/bench/app', { data: { username: 'app', password: 'correct-horse-battery-staple' } });
  await call(b.address, TOKEN, 'PUT', 'sys/policies/acl/bench', { policy: JSON.stringify({ path: { 'secret/data/bench/*': { capabilities: ['read'] } } }) });
  await mountPostgresTarget(b.address, TOKEN, { port: cluster.port, user: cluster.user, password: cluster.password, dbName: targetDb }, { max_open_connections: DB_CONNECTIONS });
  await call(b.address, TOKEN, 'POST', 'database/roles/ro', { db_name: 'main', default_group: 'mint_readers', default_ttl: '1h', max_ttl: '1h' });
  const created = (await call(b.address, TOKEN, 'POST', 'auth/token/create', { policies: ['bench'], ttl: '24h' })) as { auth: { client_token: string } };
  return created.auth.client_token;
}

const on = await spawnBroker(await cluster.createDatabase(), TOKEN);
const off = await spawnBroker(await cluster.createDatabase(), TOKEN, OFF);
const tokens = new Map<Server, string>([
  [on, await prepare(on)],
  [off, await prepare(off)],
]);

/** The broker process's CPU seconds so far (user + system, from /proc): less disturbed by a loaded machine than req/s. */
const cpuSeconds = (b: Server): number => {
  const fields = readFileSync(`/proc/${b.proc.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

interface Measured {
  rps: number;
  /** Broker CPU milliseconds per request. */
  cpuMs: number;
}

async function measured(b: Server, seconds: number, run: () => Promise<number>): Promise<Measured> {
  const c0 = cpuSeconds(b);
  const total = await run();
  return { rps: total / seconds, cpuMs: ((cpuSeconds(b) - c0) * 1000) / Math.max(1, total) };
}

async function kvRead(b: Server, seconds: number): Promise<Measured> {
  return measured(b, seconds, async () => {
  const r = await autocannon({ url: `${b.address}/v1/secret/data/bench/app`, connections: CONNECTIONS, duration: seconds, headers: { 'x-vault-token': tokens.get(b) ?? '' } });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`kv-read: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return r.requests.total;
  });
}

async function dbMint(b: Server, seconds: number): Promise<Measured> {
  return measured(b, seconds, async () => {
  const r = await autocannon({ url: `${b.address}/v1/database/creds/ro`, connections: DB_CONNECTIONS * 2, duration: seconds, headers: { 'x-vault-token': TOKEN } });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`db-mint: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return r.requests.total;
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};

/** In-process cost of one MAC (sign, then verify) over a token row and a lease row, in microseconds. */
function macMicros(): string {
  const key = deriveKey(Buffer.alloc(32, 7), 'row-mac');
  const rm = createRowMac({ deriveKey: () => key, log: createLogger({ level: 'fatal' }), enabled: true });
  const now = new Date();
  const token = tokenFields({
    tokenHmac: Buffer.alloc(32, 1), accessor: 'a'.repeat(24), parentAccessor: null, policies: ['bench', 'default'], displayName: 'token', meta: {},
    path: 'auth/token/create', orphan: false, renewable: true, creationTtl: 86400, explicitMaxTtl: 0, period: 0, numUses: 0, numUsesLimit: 0,
    createdAt: now, expiresAt: now, maxExpiresAt: now, entityName: '', alias: null,
  });
  const lease = leaseFields({ id: `database/creds/ro/${'x'.repeat(24)}`, mountId: '00000000-0000-0000-0000-000000000000', secretType: 'creds', tokenAccessor: null, issuedAt: now, expiresAt: now, maxExpiresAt: now, ttlSeconds: 3600, renewable: true });
  const time = (table: 'tokens' | 'leases', fields: MacFields<'tokens'> | MacFields<'leases'>): string => {
    const n = 20_000;
    const sign = () => (table === 'tokens' ? rm.sign('tokens', fields as MacFields<'tokens'>) : rm.sign('leases', fields as MacFields<'leases'>));
    const mac = sign();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) sign();
    const t1 = performance.now();
    let good = 0;
    for (let i = 0; i < n; i++) good += (table === 'tokens' ? rm.ok('tokens', fields as MacFields<'tokens'>, mac) : rm.ok('leases', fields as MacFields<'leases'>, mac)) ? 1 : 0;
    if (good !== n) throw new Error('a MAC did not verify');
    const t2 = performance.now();
    return `${table}: sign ${(((t1 - t0) * 1000) / n).toFixed(1)} µs, verify ${(((t2 - t1) * 1000) / n).toFixed(1)} µs`;
  };
  return `${time('tokens', token)}; ${time('leases', lease)}`;
}

try {
  console.log(`one row MAC in-process (this machine, now): ${macMicros()}`);
  console.log('per request: kv-read checks no row (the token and the policy are checked once per cache load); db-mint signs one lease row');
  let failed = false;
  for (const [name, work] of [
    ['kv-read (non-root token, ACL)', kvRead],
    ['db-mint (GET database/creds/ro)', dbMint],
  ] as const) {
    await work(on, 2);
    await work(off, 2);
    const ons: Measured[] = [];
    const offs: Measured[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first, so that neither always follows the other's warm-down.
      if (i % 2 === 0) {
        ons.push(await work(on, SECONDS));
        offs.push(await work(off, SECONDS));
      } else {
        offs.push(await work(off, SECONDS));
        ons.push(await work(on, SECONDS));
      }
    }
    const ratios = ons.map((x, i) => x.rps / (offs[i]?.rps ?? 1));
    // CPU per request, off/on: 1.0 = the checks cost nothing; 0.95 = they add 5% CPU per request.
    const cpuRatios = ons.map((x, i) => (offs[i]?.cpuMs ?? 0) / x.cpuMs);
    console.log(`${name}: ${SECONDS} s per run, ${ROUNDS} rounds alternated (on, off, off, on, …), PostgreSQL ${cluster.majorVersion}`);
    console.log(`  checks on   ${ons.map((x) => x.rps.toFixed(0)).join(', ')} req/s; broker CPU ${ons.map((x) => x.cpuMs.toFixed(3)).join(', ')} ms/req`);
    console.log(`  checks off  ${offs.map((x) => x.rps.toFixed(0)).join(', ')} req/s; broker CPU ${offs.map((x) => x.cpuMs.toFixed(3)).join(', ')} ms/req`);
    console.log(`  throughput on/off per round ${ratios.map((r) => r.toFixed(3)).join(', ')}; best ${Math.max(...ratios).toFixed(3)}, median ${median(ratios).toFixed(3)} (goal >= 0.95)`);
    console.log(`  CPU/request off/on per round ${cpuRatios.map((r) => r.toFixed(3)).join(', ')}; best ${Math.max(...cpuRatios).toFixed(3)}, median ${median(cpuRatios).toFixed(3)} (goal >= 0.95)`);
    if (median(ratios) < 0.95 && median(cpuRatios) < 0.95) failed = true;
  }
  if (failed) {
    console.log('FAIL: the integrity checks cost more than 5% of throughput (median ratio)');
    process.exitCode = 1;
  }
} finally {
  on.proc.kill('SIGTERM');
  off.proc.kill('SIGTERM');
  await cluster.stop();
}
