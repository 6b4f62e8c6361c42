// bench/rotation-event: how soon an agent hears of a rotation. Time from sending `POST database/rotate-role/:name`
// to the `rotation/finished` event for `database/static-creds/:name` arriving at a subscriber of
// `sys/events/subscribe` (server-sent events), p50 and p99 over BENCH_ROTATIONS rotations (default 100), next to
// the rotate-role response time itself. Broker on PostgreSQL, target a real PostgreSQL, one subscriber.
//
//   npm run bench:rotation-event          (BENCH_ROTATIONS=100 BENCH_STRATEGY=single|alternating, default alternating)
import http from 'node:http';
import pg from 'pg';
import { startPostgres, withPgClient } from '../test/helpers/postgres.ts';
import { call, mountPostgresTarget, spawnBroker } from './lib.ts';

const TOKEN = 'bench-root-token';
const ROTATIONS = Number(process.env.BENCH_ROTATIONS ?? 100);
const STRATEGY = process.env.BENCH_STRATEGY === 'single' ? 'single' : 'alternating';

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
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms   p99 ${pct(xs, 99).toFixed(1)} ms   max ${Math.max(...xs).toFixed(1)} ms`;
console.log(`rotation-event (${STRATEGY}, ${ROTATIONS} rotations, PostgreSQL ${cluster.majorVersion})`);
console.log(`  rotate-role sent → rotation/finished event at subscriber: ${fmt(toEvent)}`);
console.log(`  rotate-role sent → 204 response:                          ${fmt(toResponse)}`);

stream.destroy();
broker.proc.kill('SIGTERM');
await cluster.stop();
process.exit(0);
