/**
 * The agent's HTTP transport for node-vault, in the `request-promise` shape node-vault accepts (`config['request-promise']`):
 * plain node:http/https with one keep-alive agent. node-vault's default transport is axios, which (with form-data and
 * mime-db) costs a sidecar about 12 MB of RSS for features the agent never uses; lean-node-vault.ts keeps it unloaded.
 */
import http from 'node:http';
import https from 'node:https';

export interface TransportTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized: boolean;
}

interface RequestOptions {
  uri: string;
  method: string;
  headers?: Record<string, string>;
  json?: unknown;
  timeout?: number;
}

export interface TransportResponse {
  statusCode: number;
  body: unknown;
  request: { path: string };
}

/** A transport error that carries no request data (headers hold the token). */
export class TransportError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const MAX_BODY = 16 * 1024 * 1024;

export function createTransport(tls: TransportTls, defaultTimeoutMs: number) {
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized });

  const send = (options: RequestOptions): Promise<TransportResponse> =>
    new Promise((resolve, reject) => {
      const url = new URL(options.uri);
      const secure = url.protocol === 'https:';
      const body = options.json !== undefined && typeof options.json !== 'boolean' ? Buffer.from(JSON.stringify(options.json)) : undefined;
      const headers: Record<string, string | number> = { accept: 'application/json', ...options.headers };
      if (body) {
        headers['content-type'] ??= 'application/json';
        headers['content-length'] = body.length;
      }
      const req = (secure ? https : http).request(url, { method: options.method, headers, agent: secure ? httpsAgent : httpAgent, timeout: options.timeout ?? defaultTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new TransportError('EBODYTOOLARGE', 'response body too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text === '' ? undefined : text;
          try {
            if (text !== '') parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text (node-vault reports the status)
          }
          resolve({ statusCode: res.statusCode ?? 0, body: parsed, request: { path: url.pathname } });
        });
        res.on('error', (err: NodeJS.ErrnoException) => reject(new TransportError(err.code ?? 'ERESPONSE', err.message)));
      });
      req.on('timeout', () => req.destroy(new TransportError('ETIMEDOUT', 'request timed out')));
      req.on('error', (err: NodeJS.ErrnoException) => reject(err instanceof TransportError ? err : new TransportError(err.code ?? 'EREQUEST', err.message)));
      req.end(body);
    });

  return {
    /** node-vault calls `defaults(rpDefaults)` once and then the returned function per request. */
    defaults: () => send,
    close(): void {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}
