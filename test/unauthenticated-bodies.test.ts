// Request bodies are read only once the token is known to be valid (or the path needs none), and what unauthenticated
// requests may hold in memory is capped: bytes of bodies in flight and open connections.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import test from 'ava';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { startPostgres } from './helpers/postgres.ts';

const MiB = 1024 * 1024;

function rssBytes(pid: number): number {
  const line = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(line?.[1] ?? 0) * 1024;
}

interface Held {
  socket: net.Socket;
  /** The status line of the answer, or 'closed' if the server closed without one. */
  answer: Promise<string>;
}

/** A connection that sends the headers of a `size`-byte body and then `sent` bytes of it, and holds the rest back. */
function holdBody(b: Broker, method: string, path: string, size: number, sent: number, token?: string): Promise<Held> {
  const url = new URL(b.address);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      const head = [
        `${method} /v1/${path} HTTP/1.1`,
        `Host: ${url.host}`,
        'Content-Type: application/json',
        `Content-Length: ${size}`,
        ...(token ? [`X-Vault-Token: ${token}`] : []),
        '',
        '',
      ].join('\r\n');
      socket.write(head);
      if (sent > 0) socket.write(Buffer.alloc(sent, 0x20));
      resolve({ socket, answer });
    });
    let text = '';
    const answer = new Promise<string>((done) => {
      socket.on('data', (c: Buffer) => {
        text += c.toString('latin1');
        const eol = text.indexOf('\r\n');
        if (eol > 0) done(text.slice(0, eol));
      });
      socket.on('close', () => done(text.length > 0 ? text.slice(0, Math.max(0, text.indexOf('\r\n'))) : 'closed'));
    });
    socket.on('error', () => undefined);
    socket.once('error', reject);
  });
}

test.serial('no valid token: the answer is 403 before a single byte of the declared body arrives, and the connection is closed', async (t) => {
  const b = await startBroker();
  t.teardown(() => b.stop());
  for (const token of [undefined, 'not-a-token']) {
    const held = await holdBody(b, 'POST', 'secret/data/x', MiB, 0, token);
    t.is(await held.answer, 'HTTP/1.1 403 Forbidden');
    await new Promise<void>((r) => (held.socket.destroyed ? r() : held.socket.once('close', () => r())));
    t.pass('the server closed the connection');
  }
  // A valid token still writes a body as before.
  t.is((await api(b, 'POST', 'secret/data/x', { body: { data: { a: 1 } } })).status, 200);
});

test.serial('a client that sends its whole body at once still receives the 403 (the connection lingers, no reset loses the answer)', async (t) => {
  const b = await startBroker();
  t.teardown(() => b.stop());
  const statuses: string[] = [];
  for (let i = 0; i < 20; i++) {
    const held = await holdBody(b, 'POST', 'secret/data/x', MiB, MiB, 'not-a-token');
    statuses.push(await held.answer);
    held.socket.destroy();
  }
  t.deepEqual(statuses, Array<string>(20).fill('HTTP/1.1 403 Forbidden'));
});

test.serial('250 unauthenticated connections each holding a 1 MiB body: beyond the in-flight cap they get 503 at once, and the broker RSS stays bounded', async (t) => {
  const cap = 8 * MiB;
  // On PostgreSQL: the embedded store's WASM heap would swamp the measurement.
  const pg = await startPostgres();
  const b = await startBroker({ databaseUrl: await pg.createDatabase(), env: {
      SEALBOX_MAX_UNAUTHENTICATED_BODY_BYTES: String(cap),
      SEALBOX_MAX_CONNECTIONS: '1000',
      // The held bodies must stay held while all 250 connect, however slow this machine is: no request timeout frees them.
      SEALBOX_REQUEST_TIMEOUT: '10m',
    },
  });
  t.teardown(() => b.stop());
  const pid = b.proc.pid ?? 0;
  // Warm the request path once, so that what follows measures the held bodies, not first-use allocations.
  t.is((await api(b, 'PUT', 'sys/unseal', { token: null, body: { reset: true } })).status, 200);
  const before = rssBytes(pid);

  const held: Held[] = [];
  t.teardown(() => {
    for (const h of held) h.socket.destroy();
  });
  // Each declares 1 MiB: cap / 1 MiB of them fit, every other one is refused with 503 as soon as its headers arrive.
  const fit = cap / MiB;
  let refused = 0;
  let answered = 0;
  const answers = new Map<string, number>();
  // Every connection beyond the cap gets an answer (the held ones get none): wait for that many, then look at them. If
  // the broker dies or a connection fails instead, say so rather than wait for a count that cannot come.
  const outcome = await new Promise<string>((resolve) => {
    const count = (status: string): void => {
      answered++;
      answers.set(status, (answers.get(status) ?? 0) + 1);
      if (status.startsWith('HTTP/1.1 503')) refused++;
      if (answered === 250 - fit) resolve('answered');
    };
    b.proc.once('exit', (code, signal) => resolve(`the broker exited (${String(code ?? signal)}): ${b.logs().slice(-3000)}`));
    void (async () => {
      for (let i = 0; i < 250; i++) {
        const h = await holdBody(b, 'PUT', 'sys/unseal', MiB, MiB - 1);
        held.push(h);
        void h.answer.then(count);
      }
      // Every connection is made: if all of them are closed by now and the count is short, it never will be reached.
      await Promise.all(held.map((h) => h.answer));
      resolve(`every connection closed, ${answered} answered`);
    })().catch((err: unknown) => resolve(`connection ${held.length} failed: ${String(err)}`));
  });
  t.is(outcome, 'answered', `answers so far: ${JSON.stringify([...answers])}`);
  const during = rssBytes(pid);
  const growthMb = (during - before) / MiB;
  t.log(`RSS before ${(before / MiB).toFixed(1)} MiB, with 250 held 1 MiB bodies ${(during / MiB).toFixed(1)} MiB: growth ${growthMb.toFixed(1)} MiB; ${refused} of 250 refused with 503`);
  t.is(refused, 250 - fit, `answers: ${JSON.stringify([...answers])}`);
  // Generous: the cap is 8 MiB of bodies; without it this grew by about 250 MiB.
  t.true(growthMb < 64, `RSS grew by ${growthMb.toFixed(1)} MiB`);

  for (const h of held) h.socket.destroy();
  // The broker still answers.
  t.is((await api(b, 'GET', 'sys/health', { token: null })).status, 200);
});

test.serial('open connections are capped: beyond SEALBOX_MAX_CONNECTIONS a new connection is closed at once; the broker serves again when they go', async (t) => {
  const max = 32;
  const b = await startBroker({ env: { SEALBOX_MAX_CONNECTIONS: String(max) } });
  t.teardown(() => b.stop());
  const url = new URL(b.address);
  const sockets: net.Socket[] = [];
  t.teardown(() => {
    for (const s of sockets) s.destroy();
  });
  let closed = 0;
  const enoughClosed = new Promise<void>((resolve) => {
    for (let i = 0; i < max * 2; i++) {
      const s = net.connect(Number(url.port), url.hostname);
      s.on('error', () => undefined);
      s.on('close', () => {
        closed++;
        if (closed === max) resolve();
      });
      sockets.push(s);
    }
  });
  await enoughClosed;
  const open = sockets.filter((s) => !s.destroyed).length;
  t.log(`${closed} of ${max * 2} connections closed by the server, ${open} open`);
  t.true(open <= max, `${open} connections stayed open`);
  for (const s of sockets) s.destroy();
  // The broker sees those connections go a moment later: until then a new one may still be turned away.
  let status = 0;
  for (let attempt = 0; attempt < 100 && status === 0; attempt++) {
    status = await api(b, 'GET', 'sys/health', { token: null }).then((r) => r.status, () => 0);
  }
  t.is(status, 200);
});
