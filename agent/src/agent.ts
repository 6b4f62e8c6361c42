/**
 * The agent's two modes. `runOnce` logs in, fetches and renders every secret, and only then writes them all
 * (a failure writes nothing and revokes what it fetched). `startAgent` keeps running: one SecretWorker per
 * secret, the token keeper, the event stream (polling while it is down), and the health endpoint.
 */
import type http from 'node:http';
import type { Logger } from './log.ts';
import { writeFileAtomic, readCurrent } from './atomic-write.ts';
import { createBroker, BrokerError, type Broker } from './broker-client.ts';
import type { AgentConfig } from './config.ts';
import { canonicalPath, startEventStream, type EventStream, type StreamState } from './events.ts';
import { fetchSecret, type Fetched } from './fetch-secret.ts';
import { startHealthServer } from './health-server.ts';
import { createChangeNotifier } from './on-change.ts';
import { SecretWorker } from './secret-worker.ts';
import { createTokenKeeper } from './token-keeper.ts';

/** A failure to report and exit non-zero with. */
export class AgentFailure extends Error {
  override readonly name = 'AgentFailure';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** --once: a few quick retries when the broker does not answer, none for an answer that says no. */
async function retrying<T>(what: string, fn: () => Promise<T>, log: Logger): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const transient = (err instanceof BrokerError || err instanceof Error) && 'transient' in err && err.transient === true;
      if (!transient || attempt >= 3) throw err;
      log.warn({ err: (err as Error).message }, `${what} failed; retrying`);
      await sleep(500 * 2 ** attempt);
    }
  }
}

export async function runOnce(cfg: AgentConfig, log: Logger): Promise<void> {
  const broker = createBroker(cfg.broker);
  const tokens = createTokenKeeper({ cfg, broker, log, once: true });
  let token: string;
  try {
    token = await retrying('login', () => tokens.get(), log);
  } catch (err) {
    throw new AgentFailure((err as Error).message);
  } finally {
    tokens.stop();
  }
  const results = await Promise.allSettled(
    cfg.secrets.map((s) => retrying(`fetch ${s.path}`, () => fetchSecret(broker, token, s, Date.now, Math.random), log)),
  );
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`secrets[${i}] (${cfg.secrets[i]?.path ?? ''}): ${(r.reason as Error).message}`] : []));
  if (failures.length > 0) {
    await revokeFetched(broker, token, results, log);
    throw new AgentFailure(`nothing written: ${failures.join('; ')}`);
  }
  const fetched = results.map((r) => (r as PromiseFulfilledResult<Fetched>).value);
  const notifiers = [];
  for (const [i, s] of cfg.secrets.entries()) {
    const f = fetched[i];
    if (!f) continue;
    const before = await readCurrent(s.destination);
    const next = Buffer.from(f.content);
    if (before?.equals(next)) continue;
    try {
      await writeFileAtomic(s, next);
    } catch (err) {
      throw new AgentFailure(`secrets[${i}]: cannot write ${s.destination}: ${(err as Error).message}`);
    }
    log.info({ destination: s.destination, path: s.path, version: f.version }, 'file written');
    if (before !== undefined && s.onChange) {
      const n = createChangeNotifier(s.onChange, { SEALBOX_AGENT_DESTINATION: s.destination, SEALBOX_AGENT_PATH: s.path }, log);
      n.notify();
      notifiers.push(n.idle());
    }
  }
  await Promise.all(notifiers);
}

async function revokeFetched(broker: Broker, token: string, results: PromiseSettledResult<Fetched>[], log: Logger): Promise<void> {
  for (const r of results) {
    if (r.status !== 'fulfilled' || !r.value.lease) continue;
    await broker.request('PUT', 'sys/leases/revoke', { token, body: { lease_id: r.value.lease.id } }).catch((err: Error) => log.warn({ err: err.message }, 'could not revoke a lease fetched before the failure'));
  }
}

export interface RunningAgent {
  /** Resolves once every secret was written at least once. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig, log: Logger): Promise<RunningAgent> {
  const broker = createBroker(cfg.broker);
  const tokens = createTokenKeeper({ cfg, broker, log, once: false });
  let stream: StreamState = cfg.events ? 'connecting' : 'off';
  // While the event stream is up, polling is only a slow safety net.
  const pollMs = (): number => (stream === 'up' ? cfg.pollIntervalMs * 5 : cfg.pollIntervalMs);
  const workers = cfg.secrets.map((s) => new SecretWorker(s, { broker, tokens, log, retry: cfg.retry, pollMs }));
  const started = Date.now();
  let readyAt: number | undefined;

  let server: http.Server | undefined;
  if (cfg.listen) {
    try {
      server = await startHealthServer(cfg.listen, {
        ready: () => workers.every((w) => w.written),
        health: () => ({ authenticated: tokens.peek() !== undefined, events: stream, secrets: workers.map((w) => w.status()) }),
      });
    } catch (err) {
      throw new AgentFailure(`cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(err as Error).message}`);
    }
    log.info({ address: `${cfg.listen.host}:${(server.address() as { port: number }).port}` }, 'health endpoint listening');
  }

  let events: EventStream | undefined;
  if (cfg.events) {
    events = startEventStream({
      broker,
      token: () => tokens.peek(),
      retry: cfg.retry,
      unsupportedRetryMs: Math.max(cfg.pollIntervalMs, 60_000),
      log,
      onEvent: (e) => {
        const p = canonicalPath(e.path);
        for (const w of workers) {
          if (canonicalPath(w.secret.path) === p) {
            log.debug({ type: e.type, path: e.path }, 'event: refetching');
            w.trigger('fetch');
          }
        }
      },
      onState: (s) => {
        const was = stream;
        stream = s;
        if (s === was) return;
        if (s === 'up' || s === 'unsupported' || (s === 'down' && was === 'up')) log.info({ state: s }, 'event stream');
        // Up: changes may have been missed while it was down. Down after up: go back to the short poll.
        if (s === 'up' || (was === 'up' && s !== 'connecting')) for (const w of workers) if (w.written && w.eventDriven) w.trigger('fetch');
      },
    });
  }

  tokens.onNewToken(() => {
    // Leases die with the token that created them: fetch new credentials under the new token.
    for (const w of workers) if (w.hasLease) w.trigger('fetch');
    // The stream still carries the old token, which may be revoked or expire: subscribe again with the new one.
    events?.reconnect();
  });

  const ready = (async () => {
    await tokens.get();
    for (const w of workers) w.trigger('fetch');
    while (!workers.every((w) => w.written)) await sleep(20);
    readyAt = Date.now();
    log.info({ startup_ms: readyAt - started }, 'ready: every secret written');
  })();
  ready.catch(() => {});

  return {
    ready,
    async stop() {
      events?.stop();
      await Promise.all(workers.map((w) => w.stop()));
      tokens.stop();
      if (server) {
        server.closeAllConnections();
        await new Promise((r) => server?.close(r));
      }
      if (cfg.revokeOnShutdown) {
        const revoke = (async () => {
          await Promise.allSettled(workers.map((w) => w.revoke().catch((err: Error) => log.warn({ destination: w.secret.destination, err: err.message }, 'lease not revoked'))));
          await tokens.revoke().catch((err: Error) => log.warn({ err: err.message }, 'token not revoked'));
        })();
        await Promise.race([revoke, sleep(3500)]);
      }
      await Promise.race([Promise.all(workers.map((w) => w.idle())), sleep(500)]);
    },
  };
}
