// bench/db-mint: dynamic PostgreSQL credentials per second through the broker (HTTP, SCRAM verifier, CREATE ROLE,
// lease row and audit entry included) against a raw `CREATE ROLE … LOGIN PASSWORD … VALID UNTIL … IN ROLE` loop on
// the same target with the same number of connections, in the same run. Goal (issue 18): ratio ≥ 0.9 (issue 5: 0.8).
//
//   npm run bench:db-mint                 (BENCH_SECONDS=10 BENCH_ROUNDS=2 BENCH_DB_CONNECTIONS=4 by default)
//   BENCH_SHARING=1 npm run bench:db-mint (issue 20: a role with credential_sharing "identity", BENCH_CALLERS=100 callers
//                                          of one AppRole identity, each its own token; also counts the users created)
//
// The broker's storage is a PostgreSQL cluster of its own, apart from the target's (as in a real deployment; issue 18):
// BENCH_SAME_CLUSTER=1 puts both in one cluster, as this benchmark did before.
//
// Each run also reports the CPU time per operation of the broker, of the target's PostgreSQL ("postgres"), of the
// broker's storage PostgreSQL ("storage", when apart) and of the load generator, and the ratio is the median of the
// rounds' ratios: other work on a shared machine moves the rates, much less the CPU per operation.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import pg from 'pg';
import { startPostgres, startSeparatePostgres, withPgClient, type PgCluster } from '../test/helpers/postgres.ts';
import { measureCpu } from './cpu.ts';
import { call, mountPostgresTarget, SECONDS, spawnBroker } from './lib.ts';

const TOKEN = 'bench-root-token';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DB_CONNECTIONS = Number(process.env.BENCH_DB_CONNECTIONS ?? 4);
const HTTP_CONCURRENCY = Number(process.env.BENCH_HTTP_CONCURRENCY ?? DB_CONNECTIONS * 2);

const SAME_CLUSTER = process.env.BENCH_SAME_CLUSTER === '1';
const cluster = await startPostgres();
const storageCluster = SAME_CLUSTER ? cluster : await startSeparatePostgres();
const targetUrl = await cluster.createDatabase();
const targetDb = new URL(targetUrl).pathname.slice(1);
await withPgClient(targetUrl, (c) => c.query(`DO $$ BEGIN CREATE ROLE mint_readers NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`));
// BENCH_AUDIT=false measures the same with the audit log off, to show what the audit entry per credential costs.
const broker = await spawnBroker(await storageCluster.createDatabase(), TOKEN, process.env.BENCH_AUDIT === 'false' ? { SEALBOX_AUDIT: 'false' } : {});

await mountPostgresTarget(broker.address, TOKEN, { port: cluster.port, user: cluster.user, password: cluster.password, dbName: targetDb }, { max_open_connections: DB_CONNECTIONS });
await call(broker.address, TOKEN, 'POST', 'database/roles/ro', { db_name: 'main', default_group: 'mint_readers', default_ttl: '1h', max_ttl: '1h' });

/** One timed run: operations per second, and CPU milliseconds per operation of each process measured. */
interface Run {
  rate: number;
  cpuPerOp: Record<string, number>;
}

/** A cluster's postmaster (its backends are its children): from postmaster.pid in its data directory. */
const postmasterOf = (c: PgCluster): Promise<number> =>
  withPgClient(c.superuserUrl, async (client) => {
    const dir = (await client.query<{ data_directory: string }>('SHOW data_directory')).rows[0]?.data_directory ?? '';
    return Number(readFileSync(`${dir}/postmaster.pid`, 'utf8').split('\n')[0]);
  });
const postmaster = await postmasterOf(cluster);
const storagePostmaster = SAME_CLUSTER ? null : await postmasterOf(storageCluster);
const pids = (): Record<string, number> => ({ broker: broker.proc.pid ?? 0, postgres: postmaster, ...(storagePostmaster ? { storage: storagePostmaster } : {}) });
const timed = async (ops: () => Promise<{ n: number; seconds: number }>): Promise<Run> => {
  const { result, ms } = await measureCpu(pids(), ops);
  return { rate: result.n / result.seconds, cpuPerOp: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, v / Math.max(1, result.n)])) };
};

/** Runs `lanes` loops of `once` for `seconds`; returns how many ran and for how long. */
async function loop(lanes: number, seconds: number, once: (lane: number) => Promise<void>): Promise<{ n: number; seconds: number }> {
  const until = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      while (performance.now() < until) {
        await once(lane);
        n++;
      }
    }),
  );
  return { n, seconds: (performance.now() - t0) / 1000 };
}

async function raw(seconds: number): Promise<Run> {
  const clients = await Promise.all(
    Array.from({ length: DB_CONNECTIONS }, async () => {
      const c = new pg.Client({ connectionString: targetUrl });
      await c.connect();
      return c;
    }),
  );
  let i = 0;
  // Measured before the clients end: a backend's CPU time is gone with it.
  const r = await timed(() =>
    loop(DB_CONNECTIONS, seconds, async (lane) => {
      const name = `raw_${Date.now()}_${i++}`;
      const password = randomBytes(15).toString('base64url');
      const until = new Date(Date.now() + 3600_000).toISOString();
      await clients[lane]?.query(`CREATE ROLE ${pg.escapeIdentifier(name)} WITH LOGIN PASSWORD ${pg.escapeLiteral(password)} VALID UNTIL ${pg.escapeLiteral(until)} IN ROLE mint_readers`);
    }),
  );
  await Promise.all(clients.map((c) => c.end()));
  return r;
}

/** autocannon rather than fetch: the load generator shares the 2 cores, and undici's fetch costs several times more CPU per request. */
async function viaBroker(seconds: number): Promise<Run> {
  return timed(async () => {
    const r = await autocannon({ url: `${broker.address}/v1/database/creds/ro`, connections: HTTP_CONCURRENCY, duration: seconds, headers: { 'x-vault-token': TOKEN } });
    if (r.non2xx > 0 || r.errors > 0) throw new Error(`creds: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
    return { n: r.requests.total, seconds };
  });
}

const SHARING = process.env.BENCH_SHARING === '1';
const CALLERS = Number(process.env.BENCH_CALLERS ?? 100);
let sharingTokens: string[] = [];
if (SHARING) {
  await withPgClient(targetUrl, (c) => c.query(`DO $$ BEGIN CREATE ROLE shared_readers NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`));
  await call(broker.address, TOKEN, 'POST', 'database/roles/shared', { db_name: 'main', default_group: 'shared_readers', default_ttl: '1h', max_ttl: '2h', credential_sharing: 'identity' });
  await call(broker.address, TOKEN, 'POST', 'sys/auth/approle', { type: 'approle' });
  await call(broker.address, TOKEN, 'PUT', 'sys/policies/acl/mint', { policy: 'path "database/creds/*" { capabilities = ["read"] }' });
  await call(broker.address, TOKEN, 'POST', 'auth/approle/role/app', { token_policies: ['mint'], token_ttl: '1h' });
  const roleId = ((await call(broker.address, TOKEN, 'GET', 'auth/approle/role/app/role-id')) as { data: { role_id: string } }).data.role_id;
  for (let i = 0; i < CALLERS; i++) {
    const sid = ((await call(broker.address, TOKEN, 'POST', 'auth/approle/role/app/secret-id')) as { data: { secret_id: string } }).data.secret_id;
    sharingTokens.push(((await call(broker.address, '', 'POST', 'auth/approle/login', { role_id: roleId, secret_id: sid })) as { auth: { client_token: string } }).auth.client_token);
  }
}

/** Sharing mode: CALLERS lanes, each a caller of the one identity with its own token, reading creds in a loop. */
async function viaBrokerShared(seconds: number): Promise<Run> {
  return timed(() => loop(CALLERS, seconds, async (lane) => {
    const r = await fetch(`${broker.address}/v1/database/creds/shared`, { headers: { 'x-vault-token': sharingTokens[lane] ?? '' } });
    if (r.status !== 200) throw new Error(`creds/shared: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  }));
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] ?? 0) : ((s[m - 1] ?? 0) + (s[m] ?? 0)) / 2;
};
const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
/** "broker 2.1 ms, postgres 3.0 ms, client 0.4 ms": the mean CPU per operation over the runs. */
const cpuLine = (runs: Run[]): string =>
  Object.keys(runs[0]?.cpuPerOp ?? {})
    .map((k) => `${k} ${avg(runs.map((r) => r.cpuPerOp[k] ?? 0)).toFixed(2)} ms`)
    .join(', ');

/** ABAB… rounds of the raw loop and the broker, after a warm-up of each. */
async function rounds(broker: (seconds: number) => Promise<Run>): Promise<{ raws: Run[]; brokers: Run[] }> {
  await raw(2);
  await broker(2);
  const raws: Run[] = [];
  const brokers: Run[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    raws.push(await raw(SECONDS));
    brokers.push(await broker(SECONDS));
  }
  return { raws, brokers };
}

function report(what: string, unit: string, goal: string, { raws, brokers }: { raws: Run[]; brokers: Run[] }): void {
  const runs = (xs: Run[]) => xs.map((x) => x.rate.toFixed(0)).join(', ');
  const ratios = brokers.map((b, i) => b.rate / (raws[i]?.rate ?? 1));
  console.log(`raw CREATE ROLE … IN ROLE loop         ${avg(raws.map((x) => x.rate)).toFixed(0).padStart(6)} roles/s   (runs: ${runs(raws)}); CPU per role: ${cpuLine(raws)}`);
  console.log(`sealbox GET ${what.padEnd(26)} ${avg(brokers.map((x) => x.rate)).toFixed(0).padStart(6)} ${unit}/s   (runs: ${runs(brokers)}); CPU per cred: ${cpuLine(brokers)}`);
  console.log(`ratio sealbox/raw: median ${median(ratios).toFixed(2)} of the rounds (${ratios.map((r) => r.toFixed(2)).join(', ')}); of the means ${(avg(brokers.map((x) => x.rate)) / avg(raws.map((x) => x.rate))).toFixed(2)}${goal}`);
}

try {
  if (SHARING) {
    const result = await rounds(viaBrokerShared);
    const users = await withPgClient(targetUrl, async (c) =>
      Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid WHERE g.rolname = 'shared_readers'`)).rows[0]?.n ?? 0),
    );
    console.log(`db-mint sharing: ${SECONDS} s per run, ${ROUNDS} rounds alternated, ${CALLERS} callers of one identity, ${DB_CONNECTIONS} target connections, PostgreSQL ${cluster.majorVersion}`);
    report('database/creds/shared', 'creds', ' (goal > 1)', result);
    console.log(`target users created for the sharing role: ${users}`);
    sharingTokens = [];
    process.exitCode = 0;
  } else {
    const result = await rounds(viaBroker);
    const roles = await withPgClient(targetUrl, async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_roles`)).rows[0]?.n ?? 0));
    console.log(`db-mint${process.env.BENCH_AUDIT === 'false' ? ' (audit log OFF)' : ''}: ${SECONDS} s per run, ${ROUNDS} rounds alternated, ${DB_CONNECTIONS} target connections, ${HTTP_CONCURRENCY} HTTP clients, PostgreSQL ${cluster.majorVersion}, broker storage ${SAME_CLUSTER ? 'in the target\'s cluster' : 'on a cluster of its own'}; ${roles} roles on the target at the end`);
    report('database/creds/ro', 'creds', ' (goal >= 0.90)', result);
  }
} finally {
  broker.proc.kill('SIGTERM');
  await cluster.stop();
  if (!SAME_CLUSTER) await storageCluster.stop();
}
