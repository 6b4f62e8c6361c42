// bench/rotation-event: how soon agents hear of a rotation. Time from sending `POST database/rotate-role/:name`
// to the `rotation/finished` event for `database/static-creds/:name` arriving at subscribers of
// `sys/events/subscribe` (server-sent events). Broker on PostgreSQL, target a real PostgreSQL.
//
// 1. One subscriber: p50 and p99 over BENCH_ROTATIONS rotations (default 100), next to the rotate-role response time.
// 2. Fan-out (issue 18 item 8): BENCH_SUBSCRIBERS subscribers (default 1000; 0 skips it), each over its own HTTP
//    connection with its own token (a policy that may read the path), held by a separate client process
//    (bench/sse-fanout.ts) that receives with raw http.request streams. BENCH_FANOUT_EVENTS rotations per round
//    (default 20), rounds alternating with the baseline (BENCH_ROUNDS, default 2: A B A B): a bare node:http server
//    holding as many SSE connections and writing the same event, serialised once, to all of them. For each event and
//    each subscriber: trigger sent → received (the goal: p99 ≤ 100 ms at each of 1,000 subscribers), and the event's
//    `time` → received (the fan-out itself, compared with the baseline's: the ratio).
//
//   npm run bench:rotation-event          (BENCH_ROTATIONS=100 BENCH_SUBSCRIBERS=1000 BENCH_FANOUT_EVENTS=20
//                                          BENCH_ROUNDS=2 BENCH_STRATEGY=single|alternating, default alternating)
//   BENCH_BROKER_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' profiles the broker (written when it exits);
//   BENCH_BASELINE_NODE_ARGS does the same for the baseline server.
import { fork } from 'node:child_process';
import http from 'node:http';
import pg from 'pg';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { treeCpuMs } from './cpu.ts';
import { call, mountPostgresTarget, ROOT, spawnBroker, spawnServer } from './lib.ts';

const TOKEN = 'bench-root-token';
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 100);
const STRATEGY = process.env.BENCH_STRATEGY === 'single' ? 'single' : 'alternating';
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 1000);
const FANOUT_EVENTS = Number(process.env.BENCH_FANOUT_EVENTS ?? 20);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);

const cluster = await startPostgres();
const targetUrl = await cluster.createDatabase();
const targetDb = new URL(targetUrl).pathname.slice(1);
const users = [`bench_rot_a_${process.pid}`, `bench_rot_b_${process.pid}`];
await withPgClient(targetUrl, async (c) => {
  for (const u of users) await c.query(`CREATE ROLE ${pg.escapeIdentifier(u)} LOGIN PASSWORD 'initial'`);
});
const broker = await spawnBroker(await cluster.createDatabase(), TOKEN);
await mountPostgresTarget(broker.address, TOKEN, { port: cluster.port, user: cluster.user, password: cluster.password, dbName: targetDb });
await call(
  broker.address,
  TOKEN,
  'POST',
  'database/static-roles/app',
  STRATEGY === 'alternating' ? { db_name: 'main', rotation_strategy: 'alternating', usernames: users, rotation_period: '24h' } : { db_name: 'main', username: users[0], rotation_period: '24h' },
);

/** Resolves the next time a rotation/finished event for the static-creds path arrives. */
let waiter: ((at: number) => void) | null = null;
const stream = http.get(`${broker.address}/v1/sys/events/subscribe?types=rotation/finished`, { headers: { 'x-vault-token': TOKEN, accept: 'text/event-stream' } }, (res) => {
  let buf = '';
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const at = performance.now();
      if (/^data: .*"path":"database\/static-creds\/app"/m.test(block)) waiter?.(at);
    }
  });
});
stream.on('error', () => {});
await new Promise((r) => setTimeout(r, 500));

const toEvent: number[] = [];
const toResponse: number[] = [];
const cpuBefore = treeCpuMs(broker.proc.pid ?? 0);
for (let i = 0; i < ROTATIONS; i++) {
  const arrived = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rotation ${i}: no event within 10 s`)), 10_000);
    waiter = (at) => {
      clearTimeout(timer);
      waiter = null;
      resolve(at);
    };
  });
  const sent = performance.now();
  await call(broker.address, TOKEN, 'POST', 'database/rotate-role/app');
  toResponse.push(performance.now() - sent);
  toEvent.push((await arrived) - sent);
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
};
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms   p99 ${pct(xs, 99).toFixed(1)} ms   max ${xs.reduce((m, x) => Math.max(m, x), -Infinity).toFixed(1)} ms`;
console.log(`rotation-event (${STRATEGY}, ${ROTATIONS} rotations, PostgreSQL ${cluster.majorVersion})`);
console.log(`  rotate-role sent → rotation/finished event at subscriber: ${fmt(toEvent)}`);
console.log(`  rotate-role sent → 204 response:                          ${fmt(toResponse)}`);
console.log(`  broker CPU per rotation: ${((treeCpuMs(broker.proc.pid ?? 0) - cpuBefore) / ROTATIONS).toFixed(1)} ms`);

stream.destroy();
if (SUBSCRIBERS > 0) await fanOut();
broker.proc.kill('SIGTERM');
await new Promise((r) => broker.proc.once('exit', r));
await cluster.stop();
process.exit();

async function fanOut(): Promise<void> {
  const now = (): number => performance.timeOrigin + performance.now();
  // Every subscriber has its own token, as agents do; all share one policy.
  await call(broker.address, TOKEN, 'PUT', 'sys/policies/acl/fanout', {
    policy: JSON.stringify({ path: { 'sys/events/subscribe*': { capabilities: ['read'] }, 'database/static-creds/app': { capabilities: ['read'] } } }),
  });
  const tokens: string[] = [];
  for (let i = 0; i < SUBSCRIBERS; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, SUBSCRIBERS - i) }, () => call(broker.address, TOKEN, 'POST', 'auth/token/create', { policies: ['fanout'], ttl: '24h' }) as Promise<{ auth: { client_token: string } }>),
    );
    tokens.push(...batch.map((b) => b.auth.client_token));
  }
  const baselineArgs = (process.env.BENCH_BASELINE_NODE_ARGS ?? '').split(/\s+/).filter((a) => a !== '');
  const baseline = await spawnServer('sse-baseline', [...baselineArgs, '--import', 'tsx', 'bench/sse-fanout.ts', 'server'], {});
  const client = fork(new URL('./sse-fanout.ts', import.meta.url).pathname, ['client'], { cwd: ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  type Reply = { op: 'ready' | 'opened' | 'armed' } | { op: 'got'; times: number[]; eventTime: string | null; extra: number } | { op: 'error'; message: string };
  let failure: string | null = null;
  const waiters: ((m: Reply) => void)[] = [];
  client.on('message', (m: Reply) => {
    if (m.op === 'error') {
      failure ??= m.message;
      return;
    }
    waiters.shift()?.(m);
  });
  const next = (what: string): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fan-out: no "${what}" from the client within 30 s${failure ? ` (${failure})` : ''}`)), 30_000);
      waiters.push((m) => {
        clearTimeout(timer);
        resolve(m);
      });
    });
  await next('ready');
  const sides = {
    sealbox: {
      url: `${broker.address}/v1/sys/events/subscribe?types=rotation/finished`,
      tokens,
      trigger: () => call(broker.address, TOKEN, 'POST', 'database/rotate-role/app'),
    },
    baseline: {
      url: `${baseline.address}/events`,
      tokens: [''],
      trigger: async () => {
        const r = await fetch(`${baseline.address}/trigger`, { method: 'POST' });
        await r.arrayBuffer();
      },
    },
  };
  for (const [label, side] of Object.entries(sides)) {
    const opened = next('opened');
    client.send({ op: 'open', label, url: side.url, tokens: side.tokens, n: SUBSCRIBERS });
    await opened;
  }
  if (failure) throw new Error(failure);

  const marker = '"path":"database/static-creds/app"';
  const run = async (label: keyof typeof sides, events = FANOUT_EVENTS) => {
    const fromSent: number[] = [];
    const fromEvent: number[] = [];
    let extra = 0;
    const pid = (label === 'sealbox' ? broker.proc.pid : baseline.proc.pid) ?? 0;
    const cpu0 = treeCpuMs(pid);
    for (let i = 0; i < events; i++) {
      const armed = next('armed');
      client.send({ op: 'expect', label, marker });
      await armed;
      const got = next('got');
      const sent = now();
      await sides[label].trigger();
      const m = await got;
      if (m.op !== 'got') throw new Error(`fan-out: unexpected ${m.op}`);
      const eventAt = m.eventTime ? Date.parse(m.eventTime) : NaN;
      for (const t of m.times) {
        fromSent.push(t - sent);
        fromEvent.push(t - eventAt);
      }
      extra += m.extra;
    }
    return { fromSent, fromEvent, extra, cpuPerEvent: (treeCpuMs(pid) - cpu0) / events };
  };
  // Warm-up events, not counted.
  await run('sealbox', 3);
  await run('baseline', 3);

  const rounds: { s: Awaited<ReturnType<typeof run>>; b: Awaited<ReturnType<typeof run>> }[] = [];
  for (let r = 0; r < ROUNDS; r++) rounds.push({ s: await run('sealbox'), b: await run('baseline') });
  client.send({ op: 'close' });
  baseline.proc.kill('SIGTERM');
  if (failure) throw new Error(failure);

  const median = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b);
    const m = v.length >> 1;
    return v.length % 2 === 1 ? (v[m] ?? NaN) : ((v[m - 1] ?? NaN) + (v[m] ?? NaN)) / 2;
  };
  console.log(`fan-out: ${SUBSCRIBERS} subscribers over ${SUBSCRIBERS} connections (own token each), ${FANOUT_EVENTS} events per round, ${ROUNDS} rounds A B A B`);
  const ratios: number[] = [];
  rounds.forEach(({ s, b }, i) => {
    const ratio = pct(s.fromEvent, 99) / pct(b.fromEvent, 99);
    ratios.push(ratio);
    console.log(`  round ${i + 1}: sealbox  sent → each subscriber ${fmt(s.fromSent)}   event time → each ${fmt(s.fromEvent)}`);
    console.log(`           baseline sent → each subscriber ${fmt(b.fromSent)}   event time → each ${fmt(b.fromEvent)}`);
    console.log(`           ratio sealbox/baseline, event time → each subscriber, p99: ${ratio.toFixed(2)}   server CPU per event: sealbox ${s.cpuPerEvent.toFixed(1)} ms (rotation included), baseline ${b.cpuPerEvent.toFixed(1)} ms`);
  });
  const all = rounds.flatMap((r) => r.s.fromSent);
  const extra = rounds.reduce((n, r) => n + r.s.extra + r.b.extra, 0);
  console.log(`  sealbox over all rounds, rotate-role sent → each subscriber: ${fmt(all)}   (${all.length} deliveries, ${extra} duplicate or unexpected)`);
  console.log(`  baseline over all rounds, trigger sent → each subscriber:    ${fmt(rounds.flatMap((r) => r.b.fromSent))}`);
  console.log(`  fan-out ratio (p99 sealbox/baseline, event time → each) per round: ${ratios.map((r) => r.toFixed(2)).join(' ')}; best ${Math.min(...ratios).toFixed(2)}, median ${median(ratios).toFixed(2)}`);
  const ok = pct(all, 99) <= 100;
  console.log(`  goal p99 ≤ 100 ms at each of ${SUBSCRIBERS} subscribers: ${ok ? 'met' : 'NOT met'} (p99 ${pct(all, 99).toFixed(1)} ms)`);
  if (!ok || extra > 0) process.exitCode = 1;
}
