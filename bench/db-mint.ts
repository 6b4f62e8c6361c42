// bench/db-mint: dynamic PostgreSQL credentials per second through the broker (HTTP, SCRAM verifier, CREATE ROLE,
// lease row and audit entry included) against a raw `CREATE ROLE … LOGIN PASSWORD … VALID UNTIL … IN ROLE` loop on
// the same target with the same number of connections, in the same run. Goal (issue 5): ratio ≥ 0.8.
//
//   npm run bench:db-mint                 (BENCH_SECONDS=10 BENCH_ROUNDS=2 BENCH_DB_CONNECTIONS=4 by default)
//   BENCH_SHARING=1 npm run bench:db-mint (issue 20: a role with credential_sharing "identity", BENCH_CALLERS=100 callers
//                                          of one AppRole identity, each its own token; also counts the users created)
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import pg from 'pg';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { call, mountPostgresTarget, SECONDS, spawnBroker } from './lib.ts';

const TOKEN = 'bench-root-token';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DB_CONNECTIONS = Number(process.env.BENCH_DB_CONNECTIONS ?? 4);
const HTTP_CONCURRENCY = Number(process.env.BENCH_HTTP_CONCURRENCY ?? DB_CONNECTIONS * 2);

const cluster = await startPostgres();
const targetUrl = await cluster.createDatabase();
const targetDb = new URL(targetUrl).pathname.slice(1);
await withPgClient(targetUrl, (c) => c.query(`DO $$ BEGIN CREATE ROLE mint_readers NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`));
// BENCH_AUDIT=false measures the same with the audit log off, to show what the audit entry per credential costs.
const broker = await spawnBroker(await cluster.createDatabase(), TOKEN, process.env.BENCH_AUDIT === 'false' ? { SEALBOX_AUDIT: 'false' } : {});

await mountPostgresTarget(broker.address, TOKEN, { port: cluster.port, user: cluster.user, password: cluster.password, dbName: targetDb }, { max_open_connections: DB_CONNECTIONS });
await call(broker.address, TOKEN, 'POST', 'database/roles/ro', { db_name: 'main', default_group: 'mint_readers', default_ttl: '1h', max_ttl: '1h' });

/** Runs `lanes` loops of `once` for `seconds`; returns operations per second. */
async function rate(lanes: number, seconds: number, once: (lane: number) => Promise<void>): Promise<number> {
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
  return n / ((performance.now() - t0) / 1000);
}

async function raw(seconds: number): Promise<number> {
  const clients = await Promise.all(
    Array.from({ length: DB_CONNECTIONS }, async () => {
      const c = new pg.Client({ connectionString: targetUrl });
      await c.connect();
      return c;
    }),
  );
  let i = 0;
  const r = await rate(DB_CONNECTIONS, seconds, async (lane) => {
    const name = `raw_${Date.now()}_${i++}`;
    const password = randomBytes(15).toString('base64url');
    const until = new Date(Date.now() + 3600_000).toISOString();
    await clients[lane]?.query(`CREATE ROLE ${pg.escapeIdentifier(name)} WITH LOGIN PASSWORD ${pg.escapeLiteral(password)} VALID UNTIL ${pg.escapeLiteral(until)} IN ROLE mint_readers`);
  });
  await Promise.all(clients.map((c) => c.end()));
  return r;
}

/** autocannon rather than fetch: the load generator shares the 2 cores, and undici's fetch costs several times more CPU per request. */
async function viaBroker(seconds: number): Promise<number> {
  const r = await autocannon({ url: `${broker.address}/v1/database/creds/ro`, connections: HTTP_CONCURRENCY, duration: seconds, headers: { 'x-vault-token': TOKEN } });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`creds: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  return r.requests.total / seconds;
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
async function viaBrokerShared(seconds: number): Promise<number> {
  return rate(CALLERS, seconds, async (lane) => {
    const r = await fetch(`${broker.address}/v1/database/creds/shared`, { headers: { 'x-vault-token': sharingTokens[lane] ?? '' } });
    if (r.status !== 200) throw new Error(`creds/shared: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
  });
}

try {
  if (SHARING) {
    await raw(2);
    await viaBrokerShared(2);
    const raws: number[] = [];
    const shared: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      raws.push(await raw(SECONDS));
      shared.push(await viaBrokerShared(SECONDS));
    }
    const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const users = await withPgClient(targetUrl, async (c) =>
      Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_auth_members a JOIN pg_roles g ON g.oid = a.roleid WHERE g.rolname = 'shared_readers'`)).rows[0]?.n ?? 0),
    );
    console.log(`db-mint sharing: ${SECONDS} s per run, ${ROUNDS} rounds alternated, ${CALLERS} callers of one identity, ${DB_CONNECTIONS} target connections, PostgreSQL ${cluster.majorVersion}`);
    console.log(`raw CREATE ROLE … IN ROLE loop          ${avg(raws).toFixed(0).padStart(6)} roles/s   (runs: ${raws.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`sealbox GET database/creds/shared      ${avg(shared).toFixed(0).padStart(6)} creds/s   (runs: ${shared.map((x) => x.toFixed(0)).join(', ')})`);
    console.log(`ratio sealbox/raw: ${(avg(shared) / avg(raws)).toFixed(2)}; target users created for the sharing role: ${users}`);
    sharingTokens = [];
    process.exitCode = 0;
  } else {
  await raw(2);
  await viaBroker(2);
  const raws: number[] = [];
  const brokers: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    raws.push(await raw(SECONDS));
    brokers.push(await viaBroker(SECONDS));
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const r = avg(raws);
  const b = avg(brokers);
  const roles = await withPgClient(targetUrl, async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_roles`)).rows[0]?.n ?? 0));
  console.log(`db-mint${process.env.BENCH_AUDIT === 'false' ? ' (audit log OFF)' : ''}: ${SECONDS} s per run, ${ROUNDS} rounds alternated, ${DB_CONNECTIONS} target connections, ${HTTP_CONCURRENCY} HTTP clients, PostgreSQL ${cluster.majorVersion}; ${roles} roles on the target at the end`);
  console.log(`raw CREATE ROLE … IN ROLE loop        ${r.toFixed(0).padStart(6)} roles/s   (runs: ${raws.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`sealbox GET database/creds/ro          ${b.toFixed(0).padStart(6)} creds/s   (runs: ${brokers.map((x) => x.toFixed(0)).join(', ')})`);
  console.log(`ratio sealbox/raw: ${(b / r).toFixed(2)} (goal >= 0.80)`);
  }
} finally {
  broker.proc.kill('SIGTERM');
  await cluster.stop();
}
