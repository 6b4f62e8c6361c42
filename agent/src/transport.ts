/**
 * The agent's one HTTP transport to the broker: node:http/https with one keep-alive agent per client, used for the
 * JSON API calls (broker-client.ts) and for the event stream (events.ts). Errors never carry request data (the
 * headers hold the token). node:https (and with it node:tls) is loaded only for an https:// broker address: an agent
 * talking plain HTTP to a sidecar or a mesh does not pay for it (issue 18).
 */
import fs from 'node:fs';
import http from 'node:http';
import type https from 'node:https';
import process from 'node:process';

export interface TransportOptions {
  /** The broker's base address, e.g. "https://sealbox:8200". */
  address: string;
  caFile: string | undefined;
  tlsSkipVerify: boolean;
  timeoutMs: number;
  /** TLS client certificate (cert auth): file names, read when the transport is made. */
  clientCert?: { certFile: string; keyFile: string };
}

export interface JsonResponse {
  status: number;
  /** The parsed JSON body; the text when it is not JSON; undefined when empty. */
  body: unknown;
}

/** A transport error that carries no request data. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Transport {
  /** One request under /v1 with a JSON body (if any) and a JSON answer. */
  json(method: string, path: string, opts?: { token?: string | undefined; body?: unknown }): Promise<JsonResponse>;
  /** A long-lived GET under /v1 (server-sent events): the caller reads the response and destroys the request to stop. */
  stream(path: string, token: string, idleTimeoutMs: number): http.ClientRequest;
  /** Closes the keep-alive connections. */
  close(): void;
}

const MAX_BODY = 16 * 1024 * 1024;

const errCode = (err: NodeJS.ErrnoException, fallback: string): string => err.code ?? fallback;

/** node:https, loaded on first use (synchronously: a built-in module). */
const loadHttps = (): typeof https => process.getBuiltinModule('node:https');

export function createTransport(o: TransportOptions): Transport {
  // The files are read now (a missing CA or key fails at start, not at the first request), for either scheme.
  const tls = {
    ca: o.caFile ? fs.readFileSync(o.caFile) : undefined,
    cert: o.clientCert ? fs.readFileSync(o.clientCert.certFile) : undefined,
    key: o.clientCert ? fs.readFileSync(o.clientCert.keyFile) : undefined,
    rejectUnauthorized: !o.tlsSkipVerify,
  };
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  let secureClient: { mod: typeof https; agent: https.Agent } | undefined;
  const secure = (): { mod: typeof https; agent: https.Agent } => {
    if (!secureClient) {
      const mod = loadHttps();
      secureClient = { mod, agent: new mod.Agent({ keepAlive: true, maxSockets: 16, ...tls }) };
    }
    return secureClient;
  };
  const base = o.address.replace(/\/+$/, '');

  function open(method: string, path: string, headers: Record<string, string | number>, timeoutMs: number): http.ClientRequest {
    const url = new URL(`${base}/v1/${path.replace(/^\/+/, '')}`);
    const s = url.protocol === 'https:' ? secure() : undefined;
    const req = s ? s.mod.request(url, { method, headers, agent: s.agent }) : http.request(url, { method, headers, agent: httpAgent });
    req.setTimeout(timeoutMs, () => req.destroy(new TransportError('ETIMEDOUT', 'no answer within the timeout')));
    return req;
  }

  return {
    json(method, path, { token, body } = {}) {
      return new Promise((resolve, reject) => {
        const payload = body !== undefined ? Buffer.from(JSON.stringify(body)) : undefined;
        const headers: Record<string, string | number> = { accept: 'application/json' };
        if (token) headers['x-vault-token'] = token;
        if (payload) {
          headers['content-type'] = 'application/json';
          headers['content-length'] = payload.length;
        }
        const req = open(method, path, headers, o.timeoutMs);
        req.on('response', (res) => {
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
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
          res.on('error', (err: NodeJS.ErrnoException) => reject(new TransportError(errCode(err, 'ERESPONSE'), err.message)));
        });
        req.on('error', (err: NodeJS.ErrnoException) => reject(err instanceof TransportError ? err : new TransportError(errCode(err, 'EREQUEST'), err.message)));
        req.end(payload);
      });
    },
    stream(path, token, idleTimeoutMs) {
      const req = open('GET', path, { 'x-vault-token': token, accept: 'text/event-stream' }, idleTimeoutMs);
      req.end();
      return req;
    },
    close() {
      httpAgent.destroy();
      secureClient?.agent.destroy();
    },
  };
}
