// The broker's listener: HTTPS (TLS 1.2+, optional client certificates) and the limits that cut slow clients.
import test from 'ava';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { createTestPki, type Issued, type TestPki } from './helpers/test-pki.ts';

let pki: TestPki;
let server: Issued;
let client: Issued;
let tlsBroker: Broker;
let plain: Broker;

test.before(async () => {
  pki = createTestPki();
  pki.ca('ca');
  server = pki.issue('server', {
    ca: 'ca',
    subject: '/CN=localhost',
    ext: ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth'],
  });
  client = pki.issue('client', { ca: 'ca', subject: '/CN=web', ext: ['extendedKeyUsage=clientAuth'] });
  [tlsBroker, plain] = await Promise.all([
    startBroker({ env: { SEALBOX_TLS_CERT_FILE: server.certFile, SEALBOX_TLS_KEY_FILE: server.keyFile } }),
    startBroker({ env: { SEALBOX_HEADER_TIMEOUT: '2', SEALBOX_REQUEST_TIMEOUT: '3' } }),
  ]);
});
test.after.always(async () => {
  await Promise.all([tlsBroker?.stop(), plain?.stop()]);
});

const portOf = (b: Broker): number => Number(new URL(b.address).port);

interface Reply {
  status: number;
  json: unknown;
}

function httpsCall(b: Broker, method: string, path: string, opts: { token?: string; cert?: Issued } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${b.address}/v1/${path}`,
      {
        method,
        ca: pki.read('ca.pem'),
        ...(opts.cert ? { cert: opts.cert.cert, key: opts.cert.key } : {}),
        headers: opts.token ? { 'x-vault-token': opts.token } : {},
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** Writes `head` on a raw TCP connection, then one byte of `drip` per interval; resolves when the server closes it. */
function slowClient(port: number, head: string, drip: string, everyMs: number): Promise<{ ms: number; received: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    let received = '';
    let i = 0;
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(head);
      const timer = setInterval(() => {
        if (socket.destroyed || socket.writableEnded) return clearInterval(timer);
        socket.write(drip[i % drip.length] ?? 'x');
        i++;
      }, everyMs);
      socket.on('close', () => clearInterval(timer));
    });
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (received += c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ ms: Date.now() - started, received }));
    // Safety net: never hang the test.
    setTimeout(() => socket.destroy(), 20_000).unref();
  });
}

test('the listening line names an https address, and health works over HTTPS without a client certificate', async (t) => {
  t.regex(tlsBroker.address, /^https:\/\/127\.0\.0\.1:\d+$/);
  const health = await httpsCall(tlsBroker, 'GET', 'sys/health');
  t.is(health.status, 200);
  t.like(health.json as object, { initialized: true, sealed: false });
  // Token clients are unaffected by the certificate request.
  const mounts = await httpsCall(tlsBroker, 'GET', 'sys/mounts', { token: tlsBroker.rootToken });
  t.is(mounts.status, 200);
  // And a client certificate the broker has never heard of does not break an ordinary request either.
  t.is((await httpsCall(tlsBroker, 'GET', 'sys/mounts', { token: tlsBroker.rootToken, cert: client })).status, 200);
});

test('plain HTTP to the TLS port gets no answer', async (t) => {
  const r = await slowClient(portOf(tlsBroker), 'GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', '', 60_000);
  t.notRegex(r.received, /^HTTP\/1\.1 200/);
  t.false(r.received.includes('initialized'));
  await t.throwsAsync(fetch(`${tlsBroker.address.replace('https:', 'http:')}/v1/sys/health`, { signal: AbortSignal.timeout(5000) }));
});

function handshake(port: number, opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: pki.read('ca.pem'), ...opts }, () => {
      const protocol = s.getProtocol() ?? '';
      s.end();
      resolve(protocol);
    });
    s.on('error', reject);
  });
}

test('TLS 1.2 and 1.3 are accepted, TLS 1.1 is refused', async (t) => {
  const port = portOf(tlsBroker);
  t.is(await handshake(port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), 'TLSv1.2');
  t.is(await handshake(port, { minVersion: 'TLSv1.3' }), 'TLSv1.3');

  // Control: this client really can speak TLS 1.1 (to a server that allows it) …
  const old = tls.createServer({ cert: server.cert, key: server.key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
  await new Promise<void>((r) => old.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => old.close());
  const tls11 = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;
  t.is(await handshake((old.address() as net.AddressInfo).port, tls11), 'TLSv1.1');
  // … and the broker refuses it.
  const err = await t.throwsAsync(handshake(port, tls11));
  t.regex(err?.message ?? '', /protocol version|unsupported protocol|wrong version/i);
});

test('a client sending its headers one byte at a time is cut after header_timeout, while others are served', async (t) => {
  const port = portOf(plain);
  const slow = slowClient(port, 'GET /v1/sys/health HTTP/1.1\r\nHost: 127.0.0.1\r\n', 'X-Slow: aaaaaaaaaaaaaaaaaaaa\r\n', 500);
  // Meanwhile, other clients get prompt answers: one request after another for as long as the slow client is connected.
  let slowDone = false;
  void slow.then(() => (slowDone = true), () => (slowDone = true));
  let served = 0;
  while (!slowDone) {
    t.is((await api(plain, 'GET', 'sys/health', { token: null })).status, 200);
    served++;
  }
  t.true(served >= 3, `${served} requests served while the slow client was connected`);
  const r = await slow;
  // header_timeout is 2 s and Node checks every 500 ms.
  t.true(r.ms >= 1500 && r.ms < 5000, `closed after ${r.ms} ms`);
  t.regex(r.received, /^HTTP\/1\.1 408|^$/);
  t.log(`closed after ${r.ms} ms: ${JSON.stringify(r.received.slice(0, 40))}`);
});

test('a client sending its body slowly is cut after request_timeout', async (t) => {
  const port = portOf(plain);
  const head = [
    'POST /v1/secret/data/slow HTTP/1.1',
    'Host: 127.0.0.1',
    `X-Vault-Token: ${plain.rootToken}`,
    'Content-Type: application/json',
    'Content-Length: 1000',
    '',
    '',
  ].join('\r\n');
  const slow = slowClient(port, head, '{"data":{"a":"', 300);
  t.is((await api(plain, 'GET', 'sys/health', { token: null })).status, 200);
  const r = await slow;
  t.true(r.ms >= 2500 && r.ms < 6500, `closed after ${r.ms} ms`);
  t.false(r.received.startsWith('HTTP/1.1 2'));
  t.log(`closed after ${r.ms} ms: ${JSON.stringify(r.received.slice(0, 40))}`);
  t.false(plain.logs().includes('unhandled error'), 'a cut connection is not a server error');
  // Nothing was written.
  t.is((await api(plain, 'GET', 'secret/data/slow')).status, 404);
});

test('oversized request headers get 431 (max_header_bytes defaults to 16 KiB)', async (t) => {
  const big = await api(plain, 'GET', 'sys/health', { token: null, headers: { 'x-big': 'a'.repeat(17 * 1024) } });
  t.is(big.status, 431);
  const fits = await api(plain, 'GET', 'sys/health', { token: null, headers: { 'x-big': 'a'.repeat(12 * 1024) } });
  t.is(fits.status, 200);
});

test('TLS settings are checked at start with a clear message', async (t) => {
  const onlyCert = await t.throwsAsync(startBroker({ env: { SEALBOX_TLS_CERT_FILE: server.certFile }, timeoutMs: 15_000 }));
  t.regex(onlyCert?.message ?? '', /code 2[\s\S]*tls_cert_file[\s\S]*tls_key_file/);

  const missing = await t.throwsAsync(
    startBroker({ env: { SEALBOX_TLS_CERT_FILE: pki.file('nope.pem'), SEALBOX_TLS_KEY_FILE: server.keyFile }, timeoutMs: 15_000 }),
  );
  t.regex(missing?.message ?? '', /code 2[\s\S]*tls_cert_file: file is not readable/);

  // A key that does not belong to the certificate.
  const mismatch = await t.throwsAsync(
    startBroker({ env: { SEALBOX_TLS_CERT_FILE: server.certFile, SEALBOX_TLS_KEY_FILE: client.keyFile }, timeoutMs: 15_000 }),
  );
  t.regex(mismatch?.message ?? '', /code 2[\s\S]*sealbox: TLS:/);
  t.false((mismatch?.message ?? '').includes(client.key.split('\n')[1] ?? '@@'), 'no key material in the message');

  const badTimeouts = await t.throwsAsync(
    startBroker({ env: { SEALBOX_HEADER_TIMEOUT: '20', SEALBOX_REQUEST_TIMEOUT: '10' }, timeoutMs: 15_000 }),
  );
  t.regex(badTimeouts?.message ?? '', /header_timeout must not be longer than request_timeout/);
});
