// The injected clock decides time-based behaviour, and every background job can be run on demand (issue 16 item 1):
// buildApp in-process on PGlite with a FakeClock, time moved by advance(), jobs kicked with app.jobs.runNow(). No
// test here waits for time to pass.
import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { buildApp, type App } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createFakeClock } from '../src/lib/fake-clock.ts';
import { createLogger } from '../src/lib/log.ts';
import { createSeededRandom } from '../src/lib/seeded-random.ts';

const ROOT = 'clock-root';
const clock = createFakeClock('2030-03-01T00:00:00Z');
let app: App;
let server: http.Server;
let base = '';
let dir = '';

test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-clock-'));
  const config = loadConfig(['--dev', '--data', dir, '--dev-root-token', ROOT], {
    SEALBOX_AUDIT_CHECKPOINT_EVERY: '100000',
    SEALBOX_AUDIT_CHECKPOINT_SECONDS: '30',
  });
  app = await buildApp({ config, log: createLogger({ level: 'silent' }), clock, random: createSeededRandom('clock-jobs') });
  server = http.createServer(app.http.callback());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

test.after.always(async () => {
  server?.close();
  await app?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function call(method: string, p: string, body?: unknown, token = ROOT): Promise<{ status: number; json: { data?: Record<string, unknown>; auth?: Record<string, unknown>; errors?: string[] } }> {
  const res = await fetch(`${base}/v1/${p}`, { method, headers: { 'x-vault-token': token, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, json: text ? (JSON.parse(text) as never) : {} };
}

test.serial('every background job is listed and can be run now; an unknown job is refused', async (t) => {
  const names = app.jobs.names();
  for (const n of ['lease-expiry', 'token-tidy', 'audit-checkpoint', 'rate-limit-sweep', 'rate-limit-counter-purge', 'login-failures-prune', 'keyring-rewrap']) t.true(names.includes(n), n);
  for (const n of names) t.not(await app.jobs.runNow(n), 'failed', n);
  await t.throwsAsync(app.jobs.runNow('no-such-job'), { message: /unknown job/ });
});

test.serial('an exclusive job run twice while the fake clock stands still runs twice (manual slots never collide)', async (t) => {
  t.is(await app.jobs.runNow('login-failures-prune'), 'ok');
  t.is(await app.jobs.runNow('login-failures-prune'), 'ok');
  const history = await call('GET', 'sys/scheduler/jobs/login-failures-prune/history');
  const runs = (history.json.data?.runs ?? []) as { kind: string; slot: string }[];
  const manual = runs.filter((r) => r.kind === 'manual');
  t.true(manual.length >= 2, JSON.stringify(runs));
  t.is(new Set(manual.map((r) => r.slot)).size, manual.length);
});

test.serial('a token expires when the clock says so, and token-tidy removes it when kicked', async (t) => {
  const created = await call('POST', 'auth/token/create', { ttl: '1h', policies: ['default'] });
  t.is(created.status, 200);
  const token = String(created.json.auth?.client_token);
  const accessor = String(created.json.auth?.accessor);
  t.is((await call('GET', 'auth/token/lookup-self', undefined, token)).status, 200);
  clock.advance(59 * 60_000);
  t.is((await call('GET', 'auth/token/lookup-self', undefined, token)).status, 200, 'still valid a minute before its end');
  clock.advance(2 * 60_000);
  t.is((await call('GET', 'auth/token/lookup-self', undefined, token)).status, 403, 'expired on the fake clock');
  t.is(await app.jobs.runNow('token-tidy'), 'ok');
  const lookup = await call('POST', 'auth/token/lookup-accessor', { accessor });
  t.is(lookup.status, 400, JSON.stringify(lookup.json));
});

test.serial('the audit checkpoint cadence and its signed time follow the clock', async (t) => {
  const count = async (): Promise<{ n: number; last: string }> => {
    const r = await call('GET', 'sys/audit-log/checkpoints');
    const cps = (r.json.data?.checkpoints ?? []) as { note?: string }[];
    return { n: cps.length, last: cps.at(-1)?.note ?? '' };
  };
  await app.jobs.runNow('audit-checkpoint');
  await call('GET', 'sys/health');
  await call('PUT', 'secret/data/clock', { data: { k: 'v' } });
  const before = await count();
  clock.advance(10_000);
  await app.jobs.runNow('audit-checkpoint');
  t.is((await count()).n, before.n, 'not due: 10 s of 30');
  clock.advance(21_000);
  const due = clock.now();
  await app.jobs.runNow('audit-checkpoint');
  const after = await count();
  t.true(after.n > before.n, 'due after 31 s');
  t.true(after.last.includes(`\ntime ${Math.floor(due.getTime() / 1000)}\n`), after.last);
});
