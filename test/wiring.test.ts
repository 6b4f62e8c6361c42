/**
 * buildApp as a wiring diagram (issue 16 item 3): start-up is one list and close() undoes it in reverse; the app
 * builds in-process on PGlite, serves, and closes twice without error.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { systemClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/log.ts';
import { systemRandom } from '../src/lib/random.ts';
import { createLifecycle } from '../src/wiring/lifecycle.ts';

test('close() undoes the start list in reverse, owned resources last', async (t) => {
  const life = createLifecycle();
  const log: string[] = [];
  life.own('database', () => void log.push('close database'));
  await life.start([
    { name: 'a', start: () => void log.push('start a'), stop: () => void log.push('stop a') },
    { name: 'b', start: () => void log.push('start b') },
    { name: 'c', stop: () => void log.push('stop c') },
  ]);
  t.deepEqual(life.pending(), ['c', 'a', 'database']);
  await life.close();
  t.deepEqual(log, ['start a', 'start b', 'stop c', 'stop a', 'close database']);
  await life.close();
  t.is(log.length, 5, 'a second close undoes nothing twice');
});

test('a failed start leaves only the finished steps to undo, and close runs every stop before it throws', async (t) => {
  const life = createLifecycle();
  const stopped: string[] = [];
  await t.throwsAsync(
    life.start([
      { name: 'a', start: () => undefined, stop: () => void stopped.push('a') },
      { name: 'b', start: () => Promise.reject(new Error('b failed')), stop: () => void stopped.push('b') },
      { name: 'c', start: () => undefined, stop: () => void stopped.push('c') },
    ]),
    { message: 'b failed' },
  );
  t.deepEqual(life.pending(), ['a']);
  life.own('x', () => Promise.reject(new Error('x failed')));
  await t.throwsAsync(life.close(), { message: 'x failed' });
  t.deepEqual(stopped, ['a'], 'the step after the failing one still stopped');
});

test('buildApp builds in-process on PGlite (dev), serves through its Koa callback, and closes twice', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-wiring-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const config = loadConfig(['--dev', '--data', dir], { SEALBOX_LOG_LEVEL: 'silent' });
  const app = await buildApp({ config, log: createLogger({ level: 'silent' }), clock: systemClock, random: systemRandom });
  const server = createServer(app.http.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const health = await fetch(`${base}/v1/sys/health`);
    t.is(health.status, 200);
    const mounts = await fetch(`${base}/v1/sys/mounts`, { headers: { 'X-Vault-Token': app.dev?.rootToken ?? '' } });
    t.is(mounts.status, 200);
    const body = (await mounts.json()) as { data: Record<string, unknown> };
    t.truthy(body.data['secret/'], 'dev mode mounted kv at secret/');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await app.close();
  await t.notThrowsAsync(app.close());
});
