// The replay helper itself: what it puts on the wire is what HashiCorp's Go client sends (checked against a raw TCP
// listener that records the request bytes), so the tool replays in this directory test the broker with the real shapes.
import net from 'node:net';
import test from 'ava';
import { goClient, goDuration, goPathJoin, goQuery } from './replay.ts';

/** A listener that answers every request with a fixed JSON body and hands back the raw request text. */
async function recorder(): Promise<{ address: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = net.createServer((sock) => {
    let buf = '';
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const len = Number(/\r\ncontent-length: *(\d+)/i.exec(buf.slice(0, end))?.[1] ?? '0');
      if (buf.length < end + 4 + len) return;
      requests.push(buf.slice(0, end + 4 + len));
      const body = '{"data":{"ok":true}}';
      sock.end(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Vault-Index: v1:state-1\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { address: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

test('a Go-client write: PUT, cleaned path, X-Vault-Request/-Token, no Content-Type or Connection, json.Encoder body with a newline', async (t) => {
  const rec = await recorder();
  t.teardown(rec.close);
  const go = goClient(rec.address, { token: 'tok', namespace: 'root' });
  const r = await go.write('secret//data/app/', { b: 1, a: 'x' });
  t.is(r.status, 200);
  t.deepEqual(r.json, { data: { ok: true } });
  const [head = '', body] = (rec.requests[0] ?? '').split('\r\n\r\n');
  const lines = head.split('\r\n');
  t.is(lines[0], 'PUT /v1/secret/data/app HTTP/1.1');
  t.deepEqual(lines.slice(1).map((l) => l.split(':')[0]), ['Host', 'User-Agent', 'Content-Length', 'X-Vault-Namespace', 'X-Vault-Request', 'X-Vault-Token', 'Accept-Encoding']);
  t.true(lines.includes('User-Agent: Go-http-client/1.1'));
  t.true(lines.includes('X-Vault-Request: true'));
  t.true(lines.includes('X-Vault-Token: tok'));
  t.true(lines.includes('X-Vault-Namespace: root'));
  t.false(lines.some((l) => /^(content-type|connection):/i.test(l)));
  t.is(body, '{"b":1,"a":"x"}\n');
});

test('list is GET ?list=true; a nil map is the JSON null; wrap TTL and read-your-writes headers are sent', async (t) => {
  const rec = await recorder();
  t.teardown(rec.close);
  const go = goClient(rec.address, { token: 'tok', readYourWrites: true });
  await go.list('secret/metadata/team/');
  await go.request('PUT', 'sys/wrapping/unwrap', { body: null, wrapTTL: '5m0s' });
  const [list = '', unwrap = ''] = rec.requests;
  t.true(list.startsWith('GET /v1/secret/metadata/team?list=true HTTP/1.1\r\n'));
  t.false(/\r\nX-Vault-Index:/.test(list), 'no state recorded yet');
  t.true(unwrap.includes('\r\nX-Vault-Wrap-TTL: 5m0s\r\n'));
  t.true(unwrap.includes('\r\nX-Vault-Index: v1:state-1\r\n'), 'the state from the first response is sent back');
  t.true(unwrap.endsWith('\r\n\r\nnull\n'));
});

test('Go formatting helpers: path.Join, url.Values.Encode, time.Duration.String', (t) => {
  t.is(goPathJoin('/v1', 'a//b/../c/'), '/v1/a/c');
  t.is(goQuery({ version: '2', list: 'true', q: 'a b&c' }), 'list=true&q=a+b%26c&version=2');
  t.is(goDuration(2160 * 3600), '2160h0m0s');
  t.is(goDuration(90), '1m30s');
  t.is(goDuration(0), '0s');
});
