// A bare listener for bench/list-method.ts: the broker's createListener (with the LIST rewrite in front of Node's
// parser) or a plain node:http server with the same limits (BENCH_PLAIN=1), answering a small JSON body.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createListener } from '../src/http/listener.ts';

const handler: RequestListener = (_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end('{"data":{"keys":["a","b"]}}');
};
const limits = { max_header_bytes: 16384, header_timeout: 10, request_timeout: 30, keep_alive_timeout: 5, max_connections: 4096, tls_request_client_cert: false };
// The same options createListener gives node:http (src/http/listener.ts), without the rewrite.
function plain() {
  const s = createServer({ maxHeaderSize: 16384, headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5000, connectionsCheckingInterval: 500 }, handler);
  s.keepAliveTimeout = 5000;
  return s;
}
const server = process.env.BENCH_PLAIN === '1' ? plain() : createListener(limits, handler);
server.listen(0, '127.0.0.1', () => {
  const a = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ msg: 'listening', address: `http://127.0.0.1:${a.port}` })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
