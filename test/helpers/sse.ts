// Subscribe to a broker's event stream (server-sent events) in a test:
//
//   const sse = await subscribe(b, token, '?types=kv-v2/*');
//   const e = await sse.waitFor((x) => x.event === 'kv-v2/data-write');
//   sse.close();
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { stir } from './activity.ts';
import { api, type Broker } from './broker.ts';

export interface Sse {
  events: { event: string; data: Record<string, unknown>; at: number }[];
  status: number;
  ended: Promise<void>;
  close(): void;
  waitFor(pred: (e: { event: string; data: Record<string, unknown> }) => boolean, timeoutMs?: number): Promise<{ event: string; data: Record<string, unknown>; at: number }>;
}

export function subscribe(b: Pick<Broker, 'address'>, token: string, query = ''): Promise<Sse> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${b.address}/v1/sys/events/subscribe${query}`, { headers: { 'x-vault-token': token, accept: 'text/event-stream' } }, (res) => {
      const events: Sse['events'] = [];
      const arrived = new EventEmitter();
      let buf = '';
      let endResolve: () => void = () => {};
      const ended = new Promise<void>((r) => (endResolve = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event && data) events.push({ event, data: JSON.parse(data) as Record<string, unknown>, at: Date.now() });
        }
        arrived.emit('data');
        stir();
      });
      res.on('end', () => endResolve());
      res.on('close', () => {
        endResolve();
        arrived.emit('close');
      });
      resolve({
        events,
        status: res.statusCode ?? 0,
        ended,
        close: () => req.destroy(),
        // Checked when each chunk of the stream arrives; the only timer is the deadline.
        waitFor(pred, timeoutMs = 5000) {
          return new Promise((done, fail) => {
            const finish = (err?: Error): void => {
              clearTimeout(deadline);
              arrived.off('data', check);
              arrived.off('close', closed);
              const hit = events.find(pred);
              if (hit && !err) done(hit);
              else fail(err ?? new Error('unreachable'));
            };
            const check = (): void => {
              if (events.some(pred)) finish();
            };
            const closed = (): void => finish(events.some(pred) ? undefined : new Error(`the stream ended with no matching event; got ${JSON.stringify(events)}`));
            const deadline = setTimeout(() => finish(new Error(`no matching event within ${timeoutMs} ms; got ${JSON.stringify(events)}`)), timeoutMs);
            arrived.on('data', check);
            arrived.on('close', closed);
            check();
          });
        },
      });
    });
    req.on('error', reject);
  });
}

/** A token whose only policy is `policy` (a JSON path map), for ACL-filtering checks. */
export async function tokenWith(b: Pick<Broker, 'address' | 'rootToken'>, policy: Record<string, unknown>): Promise<string> {
  const name = `p${Math.random().toString(36).slice(2, 8)}`;
  await api(b, 'PUT', `sys/policies/acl/${name}`, { body: { policy: JSON.stringify({ path: policy }) } });
  const r = await api(b, 'POST', 'auth/token/create', { body: { policies: [name] } });
  return (r.json as { auth: { client_token: string } }).auth.client_token;
}

