import { mkdir } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { createListener, ListenerError, listenerAddress, type Listener, type ServingCertificate } from './http/listener.ts';
import { systemClock } from './lib/clock.ts';
import { createLogger } from './lib/log.ts';
import { devBanner } from './dev-banner.ts';
import { systemRandom } from './lib/random.ts';
import { startupMark } from './lib/startup-trace.ts';
import type { Db } from './storage/db.ts';
import { createPgliteThreadDb, discardPrestartedPglite } from './storage/pglite-thread-db.ts';

const DRAIN_MS = 10_000;

function listenerOrExit(config: Config, handler: RequestListener, serving?: ServingCertificate): Listener | null {
  try {
    return createListener(config, handler, serving);
  } catch (e) {
    if (e instanceof ListenerError) {
      process.stderr.write(`sealbox: ${e.message}\n`);
      return null;
    }
    throw e;
  }
}

async function openEmbedded(dataDir: string): Promise<Db> {
  // A fresh checkout has no ./.sealbox yet: `npm start` must create it (owner-only: it holds the data).
  await mkdir(join(dataDir, 'pglite'), { recursive: true, mode: 0o700 });
  const db = await createPgliteThreadDb(join(dataDir, 'pglite'), dataDir);
  startupMark('embedded database open');
  return db;
}

/** `sealbox server`: load config, build the app, listen, and drain on SIGTERM/SIGINT. */
export async function runServer(argv: readonly string[]): Promise<number> {
  startupMark('main loaded');
  let config;
  try {
    config = loadConfig(argv, process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`sealbox: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const log = createLogger({ level: config.log_level });
  // SIGTERM/SIGINT are ours from here on: one that arrives while the broker starts is kept and drains it as soon as it
  // listens (a supervisor that stops a starting broker gets a clean stop, not a kill mid-boot); repeats are ignored.
  let onSignal = (signal: string): void => void (pendingSignal ??= signal);
  let pendingSignal: string | undefined;
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  // With tls_pki_mount, a self-signed certificate until the broker's own PKI mount can issue one.
  // (Imported only then: it loads the X.509 library, which the rest of start-up does not wait for.)
  const pkiTlsModule = config.tls_pki_mount ? await import('./http/pki-tls.ts') : undefined;
  const boot = pkiTlsModule ? await pkiTlsModule.bootstrapCertificate(config, { clock: systemClock, random: systemRandom }) : undefined;
  if (boot) log.warn({ expires: boot.notAfter.toISOString(), mount: config.tls_pki_mount }, 'serving a self-signed certificate until the PKI mount issues one');
  // Built before the app so that unusable TLS material stops the broker before storage is opened.
  const deferred: { handler?: RequestListener } = {};
  const server = listenerOrExit(config, (req, res) => deferred.handler?.(req, res), boot);
  if (!server) return 2;
  // The embedded database starts in its worker thread now, on the other core, while the rest of the broker loads
  // (buildApp and what it imports are most of the start-up's module loading) and wires itself.
  if (config.database_url) discardPrestartedPglite();
  const embeddedDb = config.database_url ? undefined : openEmbedded(config.data_dir);
  embeddedDb?.catch(() => undefined); // awaited (and its failure reported) by buildApp
  const { buildApp } = await import('./app.ts');
  const app = await buildApp({ config, log, clock: systemClock, random: systemRandom, embeddedDb });
  const pkiTls = boot && pkiTlsModule ? pkiTlsModule.startPkiTls({ config, server, pipeline: app.pipeline, bootstrap: boot, log, clock: systemClock, random: systemRandom }) : null;
  deferred.handler = app.http.callback();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.listen.port, config.listen.host, () => resolve());
  });
  startupMark('listening');
  // The banner (stderr) before the `listening` line (stdout) that scripts wait for: whoever sees that line has the banner.
  if (app.dev) process.stderr.write(devBanner({ ...app.dev, address: listenerAddress(server), dataDir: config.data_dir }));
  log.info({ address: listenerAddress(server), storage: config.database_url ? 'postgresql' : 'pglite', dev: config.dev }, 'listening');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'draining');
      pkiTls?.close();
      // Event streams never finish by themselves: end them first so that they do not hold the drain open.
      app.drain();
      const force = setTimeout(() => server.closeAllConnections(), DRAIN_MS);
      force.unref();
      server.close(() => {
        clearTimeout(force);
        // Storage gets a deadline too: a stuck connection must not keep the process from exiting.
        const deadline = new Promise<void>((r) => setTimeout(r, 5_000).unref());
        void Promise.race([app.close(), deadline])
          .catch((err: Error) => log.error({ err: err.message }, 'close failed'))
          .finally(() => {
            log.info('stopped');
            log.flush(() => resolve(0));
          });
      });
      server.closeIdleConnections();
    };
    onSignal = stop;
    if (pendingSignal) stop(pendingSignal);
  });
}
