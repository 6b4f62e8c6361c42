// Run the broker IN the test process: `buildApp` (src/app.ts) with a fake clock and seeded randomness, its Koa
// callback served on 127.0.0.1:0 (so `vaultClient`, `api` and node-vault work unchanged), pino captured in memory.
// The interface is `startBroker`'s (address, rootToken, dataDir, logs(), logLines(), stop()), so a test moves by
// changing its import:
//
//   const b = await startApp();                                        // dev mode, embedded PGlite, temp data dir
//   const b = await startApp({ databaseUrl: await pg.createDatabase() });   // dev mode on PostgreSQL
//   b.clock.advance(61_000); await b.kick('lease-expiry');              // time moves only when the test moves it
//   t.teardown(() => b.stop());
//
// Background jobs start no timer: a test runs one with `kick(name)` (the job's body, now; `jobs()` lists them).
// Dev mode is what `sealbox server --dev` builds: unsealed, a `secret/` KV v2 mount and the given root token.
// What needs a real process (the CLI, replicas on one data dir, signals, SIGKILL, the agent) stays on startBroker.
import { stir } from './activity.ts';
import { createLogWaiters } from './log-waiters.ts';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { devBanner } from '../../src/dev-banner.ts';
import { createListener, listenerAddress, type Listener } from '../../src/http/listener.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { createLogger } from '../../src/lib/log.ts';
import type { RunOutcome } from '../../src/core/jobs/scheduler.ts';
import type { Broker, StartBrokerOptions } from './broker.ts';
import { createFakeClock, type FakeClock } from '../../src/lib/fake-clock.ts';
import type { Random } from '../../src/lib/random.ts';
import { createSeededRandom } from '../../src/lib/seeded-random.ts';
import { createMemoryPgliteDb } from '../../src/storage/pglite-db.ts';
import { onExitSync } from './exit.ts';

export interface StartAppOptions extends Pick<StartBrokerOptions, 'dataDir' | 'databaseUrl' | 'rootToken' | 'args' | 'env' | 'dev' | 'configFile'> {
  /** Seed of the app's randomness. Default: a fresh random seed (reported as `seed`, to replay a failure). */
  seed?: string;
  /** 'fake' (default): time moves only through `clock.advance`/`clock.set`. 'system': the wall clock. */
  clock?: 'fake' | 'system';
  /** Where the fake clock starts. Default: now. */
  startAt?: Date | number;
  /** true: the background jobs run on their cron timers as in a real broker. Default false (run them with kick). */
  timers?: boolean;
  /**
   * Where embedded PGlite keeps its cluster when the test gives no dataDir, databaseUrl or configFile. 'memory'
   * (default): in memory, loaded from the build's template tarball, gone at stop (the app's data directory holds
   * the rest). 'disk': in `<dataDir>/pglite`, as a real broker, for a test that restarts on the same directory
   * or looks at the files.
   */
  storage?: 'memory' | 'disk';
}

export interface InProcessBroker extends Omit<Broker, 'proc'> {
  /** The app itself (its pipeline, for the rare test that needs it). */
  app: App;
  /** The app's clock. With `clock: 'system'` advance/set throw. */
  clock: FakeClock;
  random: Random;
  seed: string;
  /**
   * Runs a background job now and waits for it (App.jobs.runNow): 'ok', 'failed', 'skipped' (an exclusive job that
   * was running), or 'not-claimed'. Advance `clock` first when the job acts on what is due.
   */
  kick(job: string): Promise<RunOutcome>;
  /** The background jobs' names. */
  jobs(): string[];
}

/**
 * Environment that src/ reads from process.env itself rather than from the config (row MACs, rotation failpoints,
 * adoption of unsigned rows): one process cannot give two apps different values, so these stay process tests.
 */
const PROCESS_ONLY_ENV = ['SEALBOX_TEST_MODE', 'SEALBOX_TEST_NO_ROW_MAC', 'SEALBOX_TEST_FAILPOINTS', 'SEALBOX_ADOPT_UNSIGNED_ROWS'];

const tempDirs = new Set<string>();
let exitHookInstalled = false;
let counter = 0;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onExitSync(() => {
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  });
}

/** Lines written by pino, kept in memory: `logs()` is the text, `logLines()` the parsed JSON objects. */
function memoryLog() {
  const chunks: string[] = [];
  const parsed: Record<string, unknown>[] = [];
  const waiters = createLogWaiters(parsed);
  return {
    chunks,
    parsed,
    waitForLogLine: (match: (line: Record<string, unknown>) => boolean, timeoutMs?: number) => waiters.waitFor(match, timeoutMs),
    destination: {
      write(msg: string): void {
        chunks.push(msg);
        for (const line of msg.split('\n')) {
          const s = line.trim();
          if (!s.startsWith('{')) continue;
          try {
            const obj: unknown = JSON.parse(s);
            if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
              const rec = obj as Record<string, unknown>;
              parsed.push(rec);
              waiters.seen(rec);
            }
          } catch {
            // not JSON
          }
        }
        // Not inside pino's write: a wait's check may call into the app.
        queueMicrotask(stir);
      },
    },
  };
}

export async function startApp(opts: StartAppOptions = {}): Promise<InProcessBroker> {
  installExitHook();
  const n = ++counter;
  const seed = opts.seed ?? `${process.pid}-${n}-${Math.random().toString(36).slice(2)}`;
  const random = createSeededRandom(seed);
  const rootToken = opts.rootToken ?? `root-${random.bytes(12).toString('hex')}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SEALBOX_DATABASE_URL;
  if (opts.databaseUrl) env.SEALBOX_DATABASE_URL = opts.databaseUrl;
  Object.assign(env, opts.env ?? {});
  for (const k of PROCESS_ONLY_ENV) {
    if (opts.env?.[k] !== undefined) throw new Error(`startApp: ${k} is read from process.env by src/; use startBroker for this test`);
  }

  let dataDir = opts.dataDir ?? '';
  if (!opts.dataDir && !opts.configFile) {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sealbox-app-'));
    tempDirs.add(dataDir);
  }
  // With configFile, production mode as `server --config <file>` (the file decides storage; the app listens on 127.0.0.1:0).
  const argv: string[] = opts.configFile ? ['--config', opts.configFile] : (opts.dev ?? true) ? ['--dev', '--listen', '127.0.0.1:0', '--data', dataDir, '--dev-root-token', rootToken] : ['--listen', '127.0.0.1:0', '--data', dataDir];
  argv.push(...(opts.args ?? []));
  const config = loadConfig(argv, env);

  const mem = memoryLog();
  const log = createLogger({ level: config.log_level, destination: mem.destination });
  const fake = createFakeClock(opts.startAt ?? Date.now());
  const clock: FakeClock =
    opts.clock === 'system'
      ? {
          now: () => systemClock.now(),
          advance: () => {
            throw new Error('startApp: clock is "system"');
          },
          advanceSeconds: () => {
            throw new Error('startApp: clock is "system"');
          },
          set: () => {
            throw new Error('startApp: clock is "system"');
          },
        }
      : fake;

  const deferred: { handler?: Parameters<typeof createListener>[1] } = {};
  const server: Listener = createListener(config, (req, res) => deferred.handler?.(req, res));
  const inMemory = !opts.dataDir && !opts.configFile && !config.database_url && (opts.storage ?? 'memory') === 'memory';
  const app = await buildApp({ config, log, clock, random, timers: opts.timers ?? false, embeddedDb: inMemory ? createMemoryPgliteDb() : undefined });
  deferred.handler = app.http.callback();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  } catch (err) {
    await app.close();
    throw err;
  }
  // Boot takes real seconds, and a few schedule computations still start from the wall clock (node-cron's next
  // runs): the fake clock is put at the wall clock once the app is up, never behind it.
  if (opts.clock !== 'system' && opts.startAt === undefined && fake.now().getTime() < Date.now()) fake.set(Date.now());
  const address = listenerAddress(server);
  if (app.dev) mem.chunks.push(devBanner({ ...app.dev, address, dataDir: config.data_dir }));
  log.info({ address, storage: config.database_url ? 'postgresql' : 'pglite', dev: config.dev }, 'listening');

  let stopping: Promise<number | null> | undefined;
  const stop = (): Promise<number | null> => {
    stopping ??= (async () => {
      log.info({ signal: 'SIGTERM' }, 'draining');
      app.drain();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The test is done with it: keep-alive sockets of the test's own clients must not hold the close open.
      server.closeAllConnections();
      await closed;
      await app.close();
      log.info('stopped');
      return 0;
    })();
    return stopping;
  };

  return {
    address,
    rootToken,
    dataDir,
    app,
    clock,
    random,
    seed,
    kick: (job) => app.jobs.runNow(job),
    jobs: () => app.jobs.names(),
    logs: () => mem.chunks.join(''),
    logLines: () => [...mem.parsed],
    waitForLogLine: mem.waitForLogLine,
    stop,
  };
}
