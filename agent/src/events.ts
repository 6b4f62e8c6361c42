/**
 * Subscription to the broker's change events: `GET /v1/sys/events/subscribe` as server-sent events
 * (`event: <type>` + `data: {"type","path","version"?,"time"}`, `: ping` heartbeats). Reconnects with backoff;
 * a 404 means the broker has no event stream (the agent polls) and is asked again later.
 */
import type http from 'node:http';
import type { Logger } from './log.ts';
import type { Broker } from './broker-client.ts';
import { backoffMs } from './timing.ts';

export interface BrokerEvent {
  type: string;
  path: string;
  version?: number;
}

export type StreamState = 'connecting' | 'up' | 'down' | 'unsupported' | 'off';

export interface EventStreamOptions {
  /** The agent's transport to the broker (the same keep-alive connections and TLS settings as its API calls). */
  broker: Pick<Broker, 'stream'>;
  token: () => string | undefined;
  onEvent: (e: BrokerEvent) => void;
  onState: (s: StreamState) => void;
  /** Treat the stream as dead after this long without a byte (heartbeats come every 15 s). */
  idleTimeoutMs?: number;
  /** How long to wait before asking again after a 404. */
  unsupportedRetryMs: number;
  retry: { initialMs: number; maxMs: number };
  log: Logger;
}

export interface EventStream {
  stop(): void;
  /** Reconnects at once (a new token after a re-login: the old one may be revoked). */
  reconnect(): void;
}

/** Parse an SSE byte stream; calls `dispatch(eventType, data)` for each complete event. */
export function createSseParser(dispatch: (type: string, data: string) => void): (chunk: string) => void {
  let buf = '';
  let type = '';
  let data: string[] = [];
  return (chunk) => {
    buf += chunk;
    let nl: number;
    while ((nl = buf.search(/\r?\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(buf[nl] === '\r' ? nl + 2 : nl + 1);
      if (line === '') {
        if (data.length > 0) dispatch(type || 'message', data.join('\n'));
        type = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'event') type = value;
        else if (field === 'data') data.push(value);
      }
    }
  };
}

export function startEventStream(o: EventStreamOptions): EventStream {
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let req: http.ClientRequest | undefined;
  let generation = 0;
  const idleMs = o.idleTimeoutMs ?? 45_000;

  const again = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(connect, ms);
  };
  const failed = (why: string): void => {
    if (stopped) return;
    req = undefined;
    o.onState('down');
    const wait = backoffMs(attempt++, o.retry.initialMs, o.retry.maxMs);
    o.log.debug({ why, retry_ms: Math.round(wait) }, 'event stream down');
    again(wait);
  };

  function connect(): void {
    if (stopped) return;
    const token = o.token();
    if (!token) {
      again(500);
      return;
    }
    o.onState('connecting');
    let done = false;
    const gen = ++generation;
    const finish = (why: string, fn: () => void = () => failed(why)): void => {
      // A connection replaced by reconnect() ends quietly: the new one owns the retries.
      if (done || gen !== generation) return;
      done = true;
      fn();
    };
    // The idle timeout: no byte (not even a heartbeat) for that long ends the connection.
    const r = o.broker.stream('sys/events/subscribe', token, idleMs);
    req = r;
    r.on('error', (err) => finish(err.message));
    r.on('response', (res) => {
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode === 404 || res.statusCode === 405 || (res.statusCode === 200 && !type.startsWith('text/event-stream'))) {
        res.resume();
        finish('unsupported', () => {
          req = undefined;
          o.onState('unsupported');
          again(o.unsupportedRetryMs);
        });
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        finish(`HTTP ${String(res.statusCode)}`);
        return;
      }
      attempt = 0;
      o.onState('up');
      res.setEncoding('utf8');
      const parse = createSseParser((_type, data) => {
        try {
          const e = JSON.parse(data) as Partial<BrokerEvent>;
          if (typeof e.path === 'string') o.onEvent({ type: typeof e.type === 'string' ? e.type : _type, path: e.path, ...(typeof e.version === 'number' ? { version: e.version } : {}) });
        } catch {
          o.log.debug('event stream: ignored an event that is not JSON');
        }
      });
      res.on('data', parse);
      res.on('end', () => finish('stream ended'));
      res.on('error', (err) => finish(err.message));
    });
  }

  connect();
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      req?.destroy();
    },
    reconnect() {
      if (stopped) return;
      if (timer) clearTimeout(timer);
      const old = req;
      req = undefined;
      generation += 1; // the old connection's handlers now end quietly
      old?.destroy();
      connect();
    },
  };
}

/**
 * The secret path an event's path refers to, so that `secret/metadata/x` or `secret/destroy/x` refetches
 * `secret/data/x`, and `database/static-roles/x` or `rotate-role/x` refetches `database/static-creds/x`.
 */
export function canonicalPath(p: string): string {
  return p
    .replace(/^\/+/, '')
    .replace(/^v1\//, '')
    .replace(/\?.*$/, '')
    .replace(/\/(metadata|delete|undelete|destroy)\//, '/data/')
    .replace(/\/(static-roles|rotate-role)\//, '/static-creds/')
    .replace(/\/+$/, '');
}
