// bench/mixed-load (issue 21): three brokers on one PostgreSQL, a realistic mix of requests at a fixed rate for a
// configurable duration (KV reads and writes, AppRole logins, database creds minted, renewed and revoked, PKI
// issue, audit search), spread round-robin over the brokers, with each broker's RSS, open file descriptors and
// event-loop delay (p99, from its own metrics), the database's open connections and the lease counts sampled.
// It exits non-zero when any request gets a 5xx or no answer, when memory or file descriptors keep growing (the
// last third of the run against the middle third), when the load generator falls behind, or when any lease outlives
// its expiry by more than the slack.
// With faults (MIXED_FAULTS=1 or --faults), the run injects them at known moments: at 15% of it one broker is killed
// with SIGKILL and started again, and at 50% the brokers' PostgreSQL (then a server of its own, pg-standby.ts) is
// stopped with `-m immediate` for MIXED_PG_DOWN seconds and started again. Each fault's window runs from its start to
// MIXED_FAULT_GRACE seconds after its recovery (the broker listening again, PostgreSQL accepting connections); a 5xx
// or no answer inside a window (from the killed broker for its kill, from any broker for PostgreSQL) is counted and
// reported, and only those outside every window fail the run.
//
//   npm run bench:mixed-load                              (MIXED_SECONDS=600 MIXED_RATE=20 by default)
//   MIXED_SECONDS=60 npm run bench:mixed-load             (the CI version, .ci/run)
//   MIXED_SECONDS=90 npm run bench:mixed-load -- --faults (a short run with faults)
// Knobs: MIXED_RATE (requests/s in all), MIXED_LEASE_TTL (s, creds), MIXED_SLACK (s), MIXED_SAMPLE (s),
// MIXED_RSS_GROWTH_MB, MIXED_FD_GROWTH, MIXED_FAULTS, MIXED_FAULT_GRACE (s, default 10), MIXED_PG_DOWN (s, default 3).
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pgBinariesMissing, startPgServer, type PgNode } from '../test/helpers/pg-standby.ts';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { call, ensureBuilt, mountPostgresTarget, spawnServer, type Server } from './lib.ts';

const SECONDS = Number(process.env.MIXED_SECONDS ?? 600);
const RATE = Number(process.env.MIXED_RATE ?? 20);
const LEASE_TTL = Number(process.env.MIXED_LEASE_TTL ?? 20);
const SLACK = Number(process.env.MIXED_SLACK ?? 10);
const SAMPLE_S = Number(process.env.MIXED_SAMPLE ?? Math.max(2, Math.min(30, SECONDS / 20)));
const RSS_GROWTH_MB = Number(process.env.MIXED_RSS_GROWTH_MB ?? 64);
const FD_GROWTH = Number(process.env.MIXED_FD_GROWTH ?? 50);
const MAX_IN_FLIGHT = 200;
const FAULTS = process.env.MIXED_FAULTS === '1' || process.argv.includes('--faults');
// The issue's bound for brokers serving again after a failover.
const FAULT_GRACE_S = Number(process.env.MIXED_FAULT_GRACE ?? 10);
const PG_DOWN_S = Number(process.env.MIXED_PG_DOWN ?? 3);
/** The broker killed and started again (with faults). */
const KILLED = 1;
const TOKEN = 'mixed-root';

// The mix, by weight (out of 100).
const MIX = [
  ['kv-read', 35],
  ['kv-write', 15],
  ['login', 10],
  ['creds', 10],
  ['renew', 8],
  ['revoke', 7],
  ['pki-issue', 8],
  ['audit-search', 7],
] as const;
type Kind = (typeof MIX)[number][0];

const pgc = await startPostgres();
// With faults, the brokers' database is on a server of its own that the run can stop and start (the targets stay on
// the shared cluster); without PostgreSQL server binaries there is no PostgreSQL fault, only the broker's.
const noOwnServer = FAULTS ? pgBinariesMissing() : 'faults off';
const own = noOwnServer === null ? await startPgServer() : null;
if (own) {
  const c = await own.node.client();
  await c.query('CREATE DATABASE sealbox');
  await c.end();
} else if (FAULTS) console.log(`mixed load: no PostgreSQL restart fault (${noOwnServer})`);
const ownNode: PgNode | null = own?.node ?? null;
const brokerDb = ownNode ? ownNode.url('sealbox') : await pgc.createDatabase();
const targetUrl = await pgc.createDatabase();
const targetDb = new URL(targetUrl).pathname.slice(1);
await withPgClient(targetUrl, (c) => c.query(`DO $$ BEGIN CREATE ROLE mixed_readers NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`));

ensureBuilt();
const data = mkdtempSync(join(tmpdir(), 'bench-mixed-'));
const args = ['bin/sealbox.mjs', 'server', '--dev', '--listen', '127.0.0.1:0', '--data', data, '--dev-root-token', TOKEN];
const spawnOne = (i: number): Promise<Server> => spawnServer(`mixed-${i}`, args, { SEALBOX_DATABASE_URL: brokerDb });
// Mutable: a broker killed by the faults is replaced by its restart (at a new address).
const brokers: Server[] = await Promise.all([0, 1, 2].map(spawnOne));
const [b0] = brokers as [Server, Server, Server];
const stopAll = async (): Promise<void> => {
  for (const b of brokers) b.proc.kill('SIGTERM');
  await own?.cleanup();
};

let exitCode = 0;
try {
  await mountPostgresTarget(b0.address, TOKEN, { port: pgc.port, user: pgc.user, password: pgc.password, dbName: targetDb });
  await call(b0.address, TOKEN, 'POST', 'database/roles/app', { db_name: 'main', default_group: 'mixed_readers', default_ttl: `${LEASE_TTL}s`, max_ttl: `${LEASE_TTL * 3}s` });
  await call(b0.address, TOKEN, 'POST', 'sys/mounts/pki', { type: 'pki' });
  await call(b0.address, TOKEN, 'POST', 'pki/root/generate/internal', { common_name: 'Mixed Root', ttl: '8760h' });
  await call(b0.address, TOKEN, 'POST', 'pki/roles/svc', { allowed_domains: 'svc.test', allow_subdomains: true, ttl: '1h', max_ttl: '1h' });
  await call(b0.address, TOKEN, 'POST', 'sys/auth/approle', { type: 'approle' });
  await call(b0.address, TOKEN, 'PUT', 'sys/policies/acl/app', { policy: JSON.stringify({ path: { 'secret/data/mixed/*': { capabilities: ['read'] } } }) });
  await call(b0.address, TOKEN, 'POST', 'auth/approle/role/app', { token_policies: 'app', token_ttl: '5m', token_max_ttl: '10m' });
  const roleId = ((await call(b0.address, TOKEN, 'GET', 'auth/approle/role/app/role-id')) as { data: { role_id: string } }).data.role_id;
  const secretId = ((await call(b0.address, TOKEN, 'POST', 'auth/approle/role/app/secret-id', {})) as { data: { secret_id: string } }).data.secret_id;
  for (let i = 0; i < 100; i++) await call(b0.address, TOKEN, 'POST', `secret/data/mixed/k${i}`, { data: { v: `v${i}` } });

  // ------------------------------------------------------------------ requests
  const latencies = new Map<Kind, number[]>(MIX.map(([k]) => [k, []]));
  const statuses = new Map<string, number>();
  /** Every 5xx or unanswered request: when (performance.now), on which broker, and what. */
  const failures: { at0: number; at1: number; broker: number; text: string }[] = [];
  /** Leases minted and not yet revoked, with when (renewed only while well inside their TTL). */
  const held: { id: string; at: number }[] = [];
  let inFlight = 0;
  let behind = 0;
  let n = 0;

  /** The slowest requests (a few kept), for the report of a faults run. */
  const slowest: { at: number; ms: number; what: string }[] = [];
  const behindAt: number[] = [];
  const send = async (kind: Kind, bi: number): Promise<void> => {
    const b = brokers[bi] as Server;
    const i = n++;
    let method = 'GET';
    let path = '';
    let body: unknown;
    let token = TOKEN;
    if (kind === 'kv-read') path = `secret/data/mixed/k${i % 100}`;
    else if (kind === 'kv-write') [method, path, body] = ['POST', `secret/data/mixed/k${i % 100}`, { data: { v: `v${i}` } }];
    else if (kind === 'login') [method, path, body, token] = ['POST', 'auth/approle/login', { role_id: roleId, secret_id: secretId }, ''];
    else if (kind === 'creds') path = 'database/creds/app';
    else if (kind === 'renew' || kind === 'revoke') {
      while (held.length > 0 && (held[0]?.at ?? 0) < performance.now() - (LEASE_TTL * 1000) / 2) held.shift();
      const entry = kind === 'revoke' ? held.shift() : held[i % Math.max(1, held.length)];
      if (!entry) return send('creds', bi);
      if (kind === 'renew') entry.at = performance.now();
      [method, path, body] = ['PUT', kind === 'renew' ? 'sys/leases/renew' : 'sys/leases/revoke', kind === 'renew' ? { lease_id: entry.id, increment: LEASE_TTL } : { lease_id: entry.id }];
    } else if (kind === 'pki-issue') [method, path, body] = ['POST', 'pki/issue/svc', { common_name: `s${i}.svc.test`, ttl: '10m' }];
    else path = `sys/audit-log?path_prefix=secret/&limit=20`;
    const t0 = performance.now();
    let status = 0;
    let text = '';
    try {
      const r = await fetch(`${b.address}/v1/${path}`, {
        method,
        headers: { ...(token ? { 'x-vault-token': token } : {}), 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      status = r.status;
      text = await r.text();
    } catch (err) {
      text = err instanceof Error ? err.message : String(err);
    }
    latencies.get(kind)?.push(performance.now() - t0);
    slowest.push({ at: t0, ms: performance.now() - t0, what: `${kind} on broker ${bi}: ${status || 'no answer'}` });
    if (slowest.length > 50) slowest.sort((x, y) => y.ms - x.ms).splice(10);
    statuses.set(`${kind} ${status || 'no answer'}`, (statuses.get(`${kind} ${status || 'no answer'}`) ?? 0) + 1);
    if (status === 0 || status >= 500) failures.push({ at0: t0, at1: performance.now(), broker: bi, text: `${kind} on broker ${bi} (${b.address}): ${status || 'no answer'} ${text.slice(0, 200)}` });
    if (kind === 'creds' && status === 200) held.push({ id: (JSON.parse(text) as { lease_id: string }).lease_id, at: t0 });
    // Keep a bounded set of leases to renew and revoke; the rest expire and the expiry worker revokes them.
    if (held.length > 200) held.splice(0, held.length - 200);
  };

  const pick = (): Kind => {
    let r = Math.random() * 100;
    for (const [k, w] of MIX) if ((r -= w) < 0) return k;
    return 'kv-read';
  };

  // ------------------------------------------------------------------ samples
  interface Sample {
    at: number;
    /** Each broker's pid: a restarted broker's samples before its restart are another process's. */
    pids: number[];
    rss: number[];
    fds: number[];
    loopP99: number[];
    dbConnections: number;
    activeLeases: number;
    overdue: number;
    /** Of them, leases held by a claim (a broker revoking them, or one that died or lost its database while it did). */
    overdueClaimed: number;
    targetUsers: number;
  }
  const samples: Sample[] = [];
  // The sampler's connection: made again after a PostgreSQL restart; a sample it cannot take is NaN.
  let sql: pg.Client | null = null;
  const sqlClient = async (): Promise<pg.Client> => {
    if (sql) return sql;
    const c = new pg.Client({ connectionString: brokerDb, connectionTimeoutMillis: 2000 });
    c.on('error', () => {
      if (sql === c) sql = null;
    });
    await c.connect();
    sql = c;
    return c;
  };
  const dbName = new URL(brokerDb).pathname.slice(1);
  const orNaN = <T>(f: () => T): T | number => {
    try {
      return f();
    } catch {
      return NaN;
    }
  };
  const rssOf = (pid: number): number => Number(orNaN(() => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024));
  const fdsOf = (pid: number): number => Number(orNaN(() => readdirSync(`/proc/${pid}/fd`).length));
  const loopP99 = async (b: Server): Promise<number> => {
    try {
      const r = await fetch(`${b.address}/v1/sys/metrics?format=prometheus`, { headers: { 'x-vault-token': TOKEN }, signal: AbortSignal.timeout(10_000) });
      const m = /^nodejs_eventloop_lag_p99_seconds (\S+)/m.exec(await r.text());
      return m ? Number(m[1]) * 1000 : NaN;
    } catch {
      return NaN;
    }
  };
  const sample = async (): Promise<void> => {
    const q = async (text: string, params: unknown[] = []): Promise<number> => {
      try {
        return Number((await (await sqlClient()).query<{ n: string }>(text, params)).rows[0]?.n ?? 0);
      } catch {
        await sql?.end().catch(() => undefined);
        sql = null;
        return NaN;
      }
    };
    const current = [...brokers];
    samples.push({
      at: performance.now(),
      pids: current.map((b) => b.proc.pid ?? 0),
      rss: current.map((b) => rssOf(b.proc.pid ?? 0)),
      fds: current.map((b) => fdsOf(b.proc.pid ?? 0)),
      loopP99: await Promise.all(current.map(loopP99)),
      dbConnections: await q('SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1', [dbName]),
      activeLeases: await q("SELECT count(*)::text AS n FROM leases WHERE state = 'active'"),
      overdue: await q(`SELECT count(*)::text AS n FROM leases WHERE expires_at < now() - make_interval(secs => $1)`, [SLACK]),
      overdueClaimed: await q(`SELECT count(*)::text AS n FROM leases WHERE expires_at < now() - make_interval(secs => $1) AND claim_id IS NOT NULL`, [SLACK]),
      targetUsers: await withPgClient(targetUrl, async (c) =>
        Number((await c.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE g.rolname = 'mixed_readers'")).rows[0]?.n ?? 0),
      ),
    });
  };

  // ------------------------------------------------------------------ the run: an open loop at a fixed rate
  await sample();
  const start = performance.now();
  const end = start + SECONDS * 1000;

  // ------------------------------------------------------------------ faults, at known moments of the run
  interface FaultWindow {
    what: string;
    /** The broker whose failures it excuses; null: every broker's. */
    broker: number | null;
    start: number;
    /** Recovered (the broker listening, PostgreSQL up); the window ends FAULT_GRACE_S later. */
    recovered: number;
  }
  const windows: FaultWindow[] = [];
  const at = (fraction: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, start + SECONDS * 1000 * fraction - performance.now())));
  const faults = async (): Promise<void> => {
    if (!FAULTS) return;
    await at(0.15);
    const killed = brokers[KILLED] as Server;
    const w: FaultWindow = { what: `SIGKILL broker ${KILLED} and start it again`, broker: KILLED, start: performance.now(), recovered: Infinity };
    windows.push(w);
    const exited = new Promise((r) => killed.proc.once('exit', r));
    killed.proc.kill('SIGKILL');
    await exited;
    brokers[KILLED] = await spawnOne(KILLED);
    w.recovered = performance.now();
    if (!ownNode) return;
    await at(0.5);
    const p: FaultWindow = { what: `PostgreSQL stopped (-m immediate) for ${PG_DOWN_S} s and started again`, broker: null, start: performance.now(), recovered: Infinity };
    windows.push(p);
    await ownNode.stop('immediate');
    await new Promise((r) => setTimeout(r, PG_DOWN_S * 1000));
    await ownNode.start();
    p.recovered = performance.now();
  };
  const faulting = faults();
  let nextSample = start + SAMPLE_S * 1000;
  let sent = 0;
  const pending = new Set<Promise<void>>();
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - start) / 1000) * RATE);
    while (sent < due) {
      sent++;
      if (inFlight >= MAX_IN_FLIGHT) {
        behind++;
        behindAt.push(performance.now());
        continue;
      }
      inFlight++;
      const p = send(pick(), sent % brokers.length).finally(() => {
        inFlight--;
        pending.delete(p);
      });
      pending.add(p);
    }
    if (performance.now() >= nextSample) {
      nextSample += SAMPLE_S * 1000;
      await sample();
    }
    // The pacing of an open-loop load generator (not synchronisation): wake for the next request due.
    await new Promise((r) => setTimeout(r, Math.max(1, 1000 / RATE / 2)));
  }
  await faulting;
  await Promise.all(pending);
  await sample();
  await (sql as pg.Client | null)?.end().catch(() => undefined);

  // ------------------------------------------------------------------ report and verdict
  const pct = (xs: number[], p: number): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0) : 0;
  };
  const elapsed = (performance.now() - start) / 1000;
  console.log(`mixed load: ${SECONDS} s at ${RATE} req/s over ${brokers.length} brokers; ${n} requests in ${elapsed.toFixed(1)} s (${(n / elapsed).toFixed(1)}/s)`);
  for (const [k] of MIX) {
    const l = latencies.get(k) ?? [];
    console.log(`  ${k.padEnd(13)} ${String(l.length).padStart(7)}   p50 ${pct(l, 50).toFixed(1).padStart(7)} ms   p99 ${pct(l, 99).toFixed(1).padStart(7)} ms`);
  }
  console.log(`  statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
  const first = samples[0] as Sample;
  const last = samples.at(-1) as Sample;
  const ms = (x: number): string => `${((x - start) / 1000).toFixed(1)} s`;
  const inWindow = (f: (typeof failures)[number]): FaultWindow | undefined =>
    windows.find((w) => (w.broker === null || w.broker === f.broker) && f.at1 >= w.start && f.at0 <= w.recovered + FAULT_GRACE_S * 1000);
  const outside = failures.filter((f) => !inWindow(f));
  for (const w of windows) {
    const inside = failures.filter((f) => inWindow(f) === w);
    const last = Math.max(...inside.map((f) => f.at1));
    console.log(
      `  fault: ${w.what}: at ${ms(w.start)}, recovered at ${ms(w.recovered)} (${((w.recovered - w.start) / 1000).toFixed(1)} s), window to ${ms(w.recovered + FAULT_GRACE_S * 1000)}; ` +
        `${inside.length} 5xx or unanswered inside${inside.length > 0 ? `, the last at ${ms(last)}` : ''}`,
    );
  }
  if (FAULTS) console.log(`  5xx or unanswered: ${failures.length - outside.length} inside fault windows, ${outside.length} outside`);
  console.log(`  RSS MB start ${first.rss.map((x) => x.toFixed(0)).join('/')}  end ${last.rss.map((x) => x.toFixed(0)).join('/')}   fds start ${first.fds.join('/')}  end ${last.fds.join('/')}`);
  const maxOf = (xs: number[]): number => Math.max(...xs.filter((x) => Number.isFinite(x)));
  console.log(`  event-loop p99 ms (max over samples) ${brokers.map((_, i) => maxOf(samples.map((s) => s.loopP99[i] ?? 0)).toFixed(1)).join('/')}`);
  console.log(`  db connections max ${maxOf(samples.map((s) => s.dbConnections))}  active leases end ${last.activeLeases} (max ${maxOf(samples.map((s) => s.activeLeases))})  target users end ${last.targetUsers}`);

  const problems: string[] = [];
  if (outside.length > 0) problems.push(`${outside.length} requests got a 5xx or no answer${FAULTS ? ' outside the fault windows' : ''}, first: ${outside.slice(0, 3).map((f) => `${f.text} at ${ms(f.at0)}`).join(' | ')}`);
  if (behind > 0) problems.push(`the load generator fell behind (${behind} requests not sent: ${MAX_IN_FLIGHT} in flight)`);
  const overdue = maxOf(samples.map((s) => s.overdue));
  if (overdue > 0) {
    const when = samples.filter((x) => x.overdue > 0).map((x) => `${ms(x.at)}: ${x.overdue} (${x.overdueClaimed} claimed)`);
    problems.push(`${overdue} leases outlived their expiry by more than ${SLACK} s; samples ${when.join(', ')}`);
  }
  if (behind > 0) console.log(`  fell behind from ${ms(Math.min(...behindAt))} to ${ms(Math.max(...behindAt))}`);
  if (FAULTS) console.log(`  slowest: ${slowest.sort((x, y) => y.ms - x.ms).slice(0, 5).map((x) => `${x.what} at ${ms(x.at)} took ${(x.ms / 1000).toFixed(1)} s`).join('; ')}`);
  // Growth: the last third of the samples against the middle third (the first third is warm-up).
  const third = Math.floor(samples.length / 3);
  if (third >= 1) {
    brokers.forEach((_, i) => {
      // A restarted broker is compared over its current process only.
      const same = (s: Sample): boolean => s.pids[i] === last.pids[i] && Number.isFinite(s.rss[i] ?? NaN) && Number.isFinite(s.fds[i] ?? NaN);
      const mid = samples.slice(third, 2 * third).filter(same);
      const tail = samples.slice(2 * third).filter(same);
      if (mid.length === 0 || tail.length === 0) {
        console.log(`  broker ${i}: too few samples of its current process for a growth figure`);
        return;
      }
      const median = (xs: number[]) => pct(xs, 50);
      const rssGrowth = median(tail.map((s) => s.rss[i] ?? 0)) - median(mid.map((s) => s.rss[i] ?? 0));
      const fdGrowth = Math.max(...tail.map((s) => s.fds[i] ?? 0)) - Math.max(...mid.map((s) => s.fds[i] ?? 0));
      console.log(`  broker ${i}: RSS growth ${rssGrowth.toFixed(1)} MB, fd growth ${fdGrowth} (last third against middle third)`);
      if (rssGrowth > RSS_GROWTH_MB) problems.push(`broker ${i} RSS grew ${rssGrowth.toFixed(1)} MB (limit ${RSS_GROWTH_MB})`);
      if (fdGrowth > FD_GROWTH) problems.push(`broker ${i} file descriptors grew by ${fdGrowth} (limit ${FD_GROWTH})`);
    });
  }
  if (problems.length > 0) {
    for (const p of problems) console.log(`FAIL: ${p}`);
    exitCode = 1;
  } else console.log('mixed load: OK');
} finally {
  await stopAll();
}
process.exit(exitCode);
