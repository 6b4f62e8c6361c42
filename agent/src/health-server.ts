/** The `listen` endpoint: GET /ready (200 once every secret was written at least once) and GET /health (liveness). */
import http from 'node:http';

export interface HealthSource {
  ready(): boolean;
  health(): Record<string, unknown>;
}

export function startHealthServer(listen: { host: string; port: number }, src: HealthSource): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, { errors: ['method not allowed'] });
    if (url === '/ready') return src.ready() ? send(200, { ready: true }) : send(503, { ready: false, ...src.health() });
    if (url === '/health') return send(200, { status: 'ok', ...src.health() });
    return send(404, { errors: ['not found'] });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
