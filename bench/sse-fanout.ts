// bench/rotation-event's two helper processes, so that neither shares the measuring process's event loop:
//
//   node --import tsx bench/sse-fanout.ts server   the baseline: a bare node:http server holding SSE connections;
//                                                  POST /trigger writes one event (built once) to every connection
//   node --import tsx bench/sse-fanout.ts client   the subscribers: opens N raw http.request streams when told over
//                                                  IPC and reports, per event, when each connection received it
//
// Times are epoch milliseconds with sub-millisecond precision (performance.timeOrigin + performance.now()), so that
// the parent, the client and the event's own `time` field can be compared.
import { randomUUID } from 'node:crypto';
import http from 'node:http';

const now = (): number => performance.timeOrigin + performance.now();

if (process.argv[2] === 'server') {
  const streams = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      req.socket.setNoDelay(true);
      res.write(': subscribed\n\n');
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return;
    }
    if (req.method === 'POST' && req.url === '/trigger') {
      req.resume();
      const event = { id: randomUUID(), type: 'rotation/finished', path: 'database/static-creds/app', time: new Date().toISOString() };
      const frame = `event: ${event.type}\nid: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`;
      for (const s of streams) s.write(frame);
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404).end();
  });
  server.requestTimeout = 0;
  // An orderly exit, so that --cpu-prof (BENCH_BASELINE_NODE_ARGS) writes its profile.
  process.on('SIGTERM', () => process.exit(0));
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    console.log(JSON.stringify({ msg: 'listening', address: `http://127.0.0.1:${port}` }));
  });
} else if (process.argv[2] === 'client') {
  type Msg = { op: 'open'; label: string; url: string; tokens: string[]; n: number } | { op: 'expect'; label: string; marker: string } | { op: 'close' };
  interface Group {
    reqs: http.ClientRequest[];
    /** Per connection: the arrival time of the awaited event, or -1. */
    times: number[];
    got: number;
    marker: string | null;
    eventTime: string | null;
    /** Matching events beyond one per connection per expected event (duplicates, or events nobody asked for). */
    extra: number;
  }
  const groups = new Map<string, Group>();
  const send = (m: unknown): void => void process.send?.(m);

  const open = (m: Extract<Msg, { op: 'open' }>): void => {
    const g: Group = { reqs: [], times: new Array<number>(m.n).fill(-1), got: 0, marker: null, eventTime: null, extra: 0 };
    groups.set(m.label, g);
    let ready = 0;
    let next = 0;
    // At most 50 connections being set up at once: a burst of 1,000 SYNs would overflow the listen backlog.
    const startNext = (): void => {
      if (next < m.n) connect(next++);
    };
    const connect = (i: number): void => {
      const token = m.tokens[i % m.tokens.length] ?? '';
      const req = http.request(m.url, { agent: false, headers: { 'x-vault-token': token, accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          send({ op: 'error', message: `${m.label} subscriber ${i}: status ${res.statusCode}` });
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        let subscribed = false;
        res.on('data', (chunk: string) => {
          const at = now();
          buf += chunk;
          let cut: number;
          while ((cut = buf.indexOf('\n\n')) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            if (!subscribed && block.startsWith(': subscribed')) {
              subscribed = true;
              if (++ready === m.n) send({ op: 'opened', label: m.label });
              startNext();
              continue;
            }
            if (g.marker === null || !block.includes(g.marker)) {
              if (block.startsWith('event: ') && !block.startsWith('event: end')) g.extra++;
              continue;
            }
            if (g.times[i] !== -1) {
              g.extra++;
              continue;
            }
            g.times[i] = at;
            g.eventTime ??= /"time":"([^"]+)"/.exec(block)?.[1] ?? null;
            if (++g.got === m.n) {
              send({ op: 'got', label: m.label, times: g.times, eventTime: g.eventTime, extra: g.extra });
              g.marker = null;
            }
          }
        });
        res.on('end', () => send({ op: 'error', message: `${m.label} subscriber ${i}: the stream ended` }));
      });
      req.on('error', (err) => send({ op: 'error', message: `${m.label} subscriber ${i}: ${err.message}` }));
      req.end();
      g.reqs.push(req);
    };
    for (let k = 0; k < 50; k++) startNext();
  };

  process.on('message', (m: Msg) => {
    if (m.op === 'open') open(m);
    else if (m.op === 'expect') {
      const g = groups.get(m.label);
      if (!g) return;
      g.times = g.times.map(() => -1);
      g.got = 0;
      g.eventTime = null;
      g.extra = 0;
      g.marker = m.marker;
      send({ op: 'armed', label: m.label });
    } else {
      for (const g of groups.values()) for (const r of g.reqs) r.destroy();
      process.exit(0);
    }
  });
  send({ op: 'ready' });
}
