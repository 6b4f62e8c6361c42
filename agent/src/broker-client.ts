/**
 * The agent's only way to the broker's API: node-vault's request(), with the token passed per call and errors
 * turned into BrokerError (status, or none when the broker was unreachable). Only the public, Vault-compatible
 * API is used, so the agent also works against Vault or OpenBao.
 */
import fs from 'node:fs';
import vault from 'node-vault';
import { createTransport } from './http-transport.ts';

export interface BrokerResponse {
  lease_id?: string;
  lease_duration?: number;
  renewable?: boolean;
  data?: Record<string, unknown> | null;
  auth?: { client_token?: string; accessor?: string; lease_duration?: number; renewable?: boolean } | null;
  warnings?: string[] | null;
}

export class BrokerError extends Error {
  override readonly name = 'BrokerError';
  constructor(
    message: string,
    /** HTTP status; undefined when there was no answer (connection refused, timeout, TLS). */
    readonly status: number | undefined,
  ) {
    super(message);
  }

  /** Worth retrying: no answer, a 5xx, 429 or a sealed broker. */
  get transient(): boolean {
    return this.status === undefined || this.status >= 500 || this.status === 429;
  }
}

interface RequestSpec {
  path: string;
  method: string;
  json?: unknown;
  headers?: Record<string, string>;
  timeout?: number;
}
/** The part of node-vault's client the agent uses (its own typings are loose). */
interface VaultLike {
  request(spec: RequestSpec): Promise<unknown>;
}

export interface BrokerOptions {
  address: string;
  caFile: string | undefined;
  tlsSkipVerify: boolean;
  timeoutMs: number;
  /** TLS client certificate (cert auth): file names, read when the client is made. */
  clientCert?: { certFile: string; keyFile: string };
}

export interface Broker {
  request(method: string, path: string, opts?: { token?: string | undefined; body?: unknown }): Promise<BrokerResponse>;
  /** Closes its keep-alive connections (a short-lived client, e.g. for a cert login). */
  close(): void;
}

function describe(err: unknown): BrokerError {
  const e = err as { message?: string; code?: string; response?: { statusCode?: number; body?: unknown } };
  const status = e.response?.statusCode;
  if (typeof status === 'number') return new BrokerError(`${e.message ?? `status ${status}`} (HTTP ${status})`, status);
  // axios/network errors: keep only the code and message, never the request (it carries the token).
  const what = e.code ? `${e.code}` : (e.message ?? 'request failed');
  return new BrokerError(`broker unreachable: ${what}`, undefined);
}

export function createBroker(opts: BrokerOptions): Broker {
  const transport = createTransport(
    {
      ca: opts.caFile ? fs.readFileSync(opts.caFile) : undefined,
      cert: opts.clientCert ? fs.readFileSync(opts.clientCert.certFile) : undefined,
      key: opts.clientCert ? fs.readFileSync(opts.clientCert.keyFile) : undefined,
      rejectUnauthorized: !opts.tlsSkipVerify,
    },
    opts.timeoutMs,
  );
  // `request-promise` is node-vault's documented transport hook; its typings do not list it.
  const options = {
    apiVersion: 'v1',
    endpoint: opts.address,
    noCustomHTTPVerbs: true,
    'request-promise': transport,
    // node-vault's default debug logger prints request bodies (secret IDs, JWTs) when DEBUG=node-vault is set.
    debug: () => undefined,
    // node-vault falls back to VAULT_TOKEN; the agent passes its token per call (cleared below).
  } as unknown as Parameters<typeof vault>[0];
  const client = vault(options) as unknown as VaultLike & { token?: string };
  client.token = undefined;
  return {
    close: () => transport.close(),
    async request(method, path, { token, body } = {}) {
      const spec: RequestSpec = { path: `/${path.replace(/^\/+/, '')}`, method, headers: {}, timeout: opts.timeoutMs };
      if (token) spec.headers = { 'X-Vault-Token': token };
      if (body !== undefined) spec.json = body;
      let res: unknown;
      try {
        res = await client.request(spec);
      } catch (err) {
        throw describe(err);
      }
      return typeof res === 'object' && res !== null ? (res as BrokerResponse) : {};
    },
  };
}
