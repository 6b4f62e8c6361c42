// The LIST method on the wire (src/http/list-method.ts, list-framing.ts): rewritten in front of Node's parser on every
// request of a keep-alive connection, over HTTP and HTTPS, never disagreeing with Node about where a request ends.
// The longer fuzz run: `node --import tsx scripts/list-fuzz.ts --seed N --count N`.
import test from 'ava';
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import tls, { TLSSocket } from 'node:tls';
import { createListener, type Listener } from '../src/http/listener.ts';
import { isListRequest, transportOf } from '../src/http/list-method.ts';
import { checkCase, randomCase, randomSplits, seededRng } from './helpers/list-fuzz.ts';
import { createTestPki } from './helpers/test-pki.ts';

const SEED = 0x5ea1b0c5;

test('fuzz: random pipelined streams agree with Node’s own parser and smuggle nothing (fixed seed)', async (t) => {
  const rng = seededRng(SEED);
  let stricter = 0;
  let lists = 0;
  for (let i = 0; i < 400; i++) {
    const c = randomCase(rng);
    const v = await checkCase(c.stream, randomSplits(rng, c.stream.length));
    if (!v.ok) t.fail(`case ${i} (${c.mutation ?? 'valid'}) disagrees: ${JSON.stringify(c.stream.toString('latin1'))}\n${JSON.stringify({ actual: v.actual, expected: v.expected }, null, 1)}`);
    if (c.mutation === null) t.false(v.stricter, `case ${i}: a valid stream must never be cut short`);
    if (v.stricter) stricter++;
    lists += v.actual.records.filter((r) => r.startsWith('REQ LIST')).length;
  }
  // The cases exercise what they claim: many LIST requests delivered, few streams where the rewrite is stricter.
  t.true(lists > 50, `LIST requests delivered: ${lists}`);
  t.true(stricter < 40, `stricter than Node: ${stricter}`);
});

test('fuzz: split at every byte, the same requests reach the server', async (t) => {
  const rng = seededRng(SEED + 1);
  let done = 0;
  while (done < 6) {
    const c = randomCase(rng);
    if (c.stream.length > 220) continue;
    done++;
    for (let cut = 1; cut < c.stream.length; cut++) {
      const v = await checkCase(c.stream, [cut]);
      if (!v.ok) t.fail(`split at ${cut} (${c.mutation ?? 'valid'}): ${JSON.stringify(c.stream.toString('latin1'))}\n${JSON.stringify(v, null, 1)}`);
    }
  }
  t.pass();
});

const H = 'Host: h\r\n';
const AMBIGUOUS: Record<string, string> = {
  'both Content-Length and Transfer-Encoding': `POST /a HTTP/1.1\r\n${H}Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nLIST /smuggled HTTP/1.1\r\n${H}\r\n`,
  'repeated Content-Length': `POST /a HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 40\r\n\r\nLIST /smuggled HTTP/1.1\r\n${H}\r\n`,
  'obsolete line folding': `POST /a HTTP/1.1\r\n${H}X-A: 1\r\n Content-Length: 30\r\n\r\nLIST /smuggled HTTP/1.1\r\n${H}\r\n`,
  'a bad chunk size': `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\nLIST /smuggled HTTP/1.1\r\n${H}\r\n`,
  'a chunk size overflow': `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n10000000000000003\r\nabc\r\n0\r\n\r\nLIST /smuggled HTTP/1.1\r\n${H}\r\n`,
  'a bare LF': `LIST /a HTTP/1.1\n${H}\r\nLIST /smuggled HTTP/1.1\r\n${H}\r\n`,
  'a Transfer-Encoding that is not chunked': `POST /a HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nLIST /smuggled HTTP/1.1\r\n${H}\r\n`,
  'a client’s own LINK': `LINK /smuggled HTTP/1.1\r\n${H}\r\n`,
};

for (const [what, stream] of Object.entries(AMBIGUOUS)) {
  test(`ambiguous framing closes the connection with Node’s 400: ${what}`, async (t) => {
    const v = await checkCase(Buffer.from(stream, 'latin1'), []);
    t.true(v.ok);
    t.regex(v.actual.output, /HTTP\/1\.1 400 Bad Request\r\nConnection: close\r\n\r\n$/);
    t.false(v.actual.records.some((r) => r.includes('/smuggled')), JSON.stringify(v.actual.records));
  });
}

test('pipelined LIST requests with bodies, split anywhere, all arrive as lists', async (t) => {
  const stream = Buffer.from(
    `LIST /v1/secret/metadata HTTP/1.1\r\n${H}\r\n` +
      `\r\nPOST /v1/secret/data/a HTTP/1.1\r\n${H}Content-Length: 41\r\n\r\nLIST /v1/not-a-request HTTP/1.1\r\nHost: h\r\n` +
      `LIST /v1/sys/policy?x=1 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n4;a=b\r\nLIST\r\n0\r\nX-T: 1\r\n\r\n` +
      `GET /v1/sys/health HTTP/1.1\r\n${H}\r\n`,
    'latin1',
  );
  for (let cut = 1; cut < stream.length; cut++) {
    const v = await checkCase(stream, [cut]);
    t.true(v.ok && !v.stricter, `split at ${cut}`);
    t.deepEqual(
      v.actual.records.filter((r) => r.startsWith('REQ')),
      ['REQ LIST /v1/secret/metadata null', 'REQ POST /v1/secret/data/a null', 'REQ LIST /v1/sys/policy?x=1 null', 'REQ GET /v1/sys/health null'],
    );
  }
});

interface Seen {
  method: string;
  list: boolean;
  url: string;
  peer: boolean;
}

function echoHandler(req: IncomingMessage, res: ServerResponse): void {
  const transport = transportOf(req.socket);
  const peer = transport instanceof TLSSocket && Object.keys(transport.getPeerCertificate()).length > 0;
  const seen: Seen = { method: req.method ?? '', list: isListRequest(req), url: req.url ?? '', peer };
  req.resume();
  req.on('end', () => res.end(JSON.stringify(seen)));
}

const LIMITS = { max_header_bytes: 16384, header_timeout: 10, request_timeout: 30, keep_alive_timeout: 5, max_connections: 4096 };

async function listen(server: Listener): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** Sends `payload` on one connection and reads until `responses` JSON bodies came back. */
async function exchange(socket: net.Socket, payload: string, responses: number): Promise<Seen[]> {
  let text = '';
  socket.setEncoding('latin1');
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: string) => {
      text += d;
      if ((text.match(/\{"method"/g) ?? []).length >= responses) resolve();
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed after: ${text}`)));
  });
  socket.write(payload);
  await done;
  socket.destroy();
  return [...text.matchAll(/\{"method".*?\}/g)].map((m) => JSON.parse(m[0]) as Seen);
}

const PIPELINE = `LIST /v1/secret/metadata HTTP/1.1\r\n${H}\r\nGET /v1/x HTTP/1.1\r\n${H}\r\nLIST /v1/auth/token/accessors HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\n{}`;

test('over HTTP: every request of a keep-alive connection, pipelined', async (t) => {
  const server = createListener({ ...LIMITS, tls_request_client_cert: false }, echoHandler);
  t.teardown(() => server.close());
  const port = await listen(server);
  const seen = await exchange(net.connect(port, '127.0.0.1'), PIPELINE, 3);
  t.deepEqual(
    seen.map((s) => [s.list, s.url]),
    [
      [true, '/v1/secret/metadata'],
      [false, '/v1/x'],
      [true, '/v1/auth/token/accessors'],
    ],
  );
});

test('over HTTPS: LIST works and the TLS peer certificate stays reachable (cert auth)', async (t) => {
  const pki = createTestPki();
  pki.ca('ca');
  const serving = pki.issue('server', { ca: 'ca', subject: '/CN=localhost', ext: ['subjectAltName=IP:127.0.0.1', 'extendedKeyUsage=serverAuth'] });
  const client = pki.issue('client', { ca: 'ca', subject: '/CN=web', ext: ['extendedKeyUsage=clientAuth'] });
  const server = createListener(
    { ...LIMITS, tls_cert_file: serving.certFile, tls_key_file: serving.keyFile, tls_request_client_cert: true },
    echoHandler,
  );
  t.teardown(() => server.close());
  const port = await listen(server);
  const socket = tls.connect({ port, host: '127.0.0.1', ca: pki.read('ca.pem'), cert: client.cert, key: client.key });
  await once(socket, 'secureConnect');
  const seen = await exchange(socket, PIPELINE, 3);
  t.deepEqual(
    seen.map((s) => [s.list, s.peer]),
    [
      [true, true],
      [false, true],
      [true, true],
    ],
  );
});
