/**
 * The agent's API calls to the broker, over its one transport (transport.ts), with the token passed per call and
 * errors turned into BrokerError (status, or none when the broker was unreachable). Only the public, Vault-compatible
 * API is used, so the agent also works against Vault or OpenBao.
 */
import type http from 'node:http';
import { createTransport, type TransportOptions } from './transport.ts';

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

export type BrokerOptions = TransportOptions;

export interface Broker {
  request(method: string, path: string, opts?: { token?: string | undefined; body?: unknown }): Promise<BrokerResponse>;
  /** A long-lived GET (the event stream) over the same transport; destroy the request to stop it. */
  stream(path: string, token: string, idleTimeoutMs: number): http.ClientRequest;
  /** Closes its keep-alive connections (a short-lived client, e.g. for a cert login). */
  close(): void;
}

/** Vault's error text: the first of `errors`, else the status. */
function apiError(status: number, body: unknown): BrokerError {
  const errors = typeof body === 'object' && body !== null ? (body as { errors?: unknown }).errors : undefined;
  const first = Array.isArray(errors) && typeof errors[0] === 'string' ? errors[0] : `Status ${status}`;
  return new BrokerError(`${first} (HTTP ${status})`, status);
}

export function createBroker(opts: BrokerOptions): Broker {
  const transport = createTransport(opts);
  return {
    close: () => transport.close(),
    stream: (path, token, idleTimeoutMs) => transport.stream(path, token, idleTimeoutMs),
    async request(method, path, { token, body } = {}) {
      let res;
      try {
        res = await transport.json(method, path, { token, body });
      } catch (err) {
        // Only the code or message, never the request (it carries the token).
        const e = err as { code?: string; message?: string };
        throw new BrokerError(`broker unreachable: ${e.code ?? e.message ?? 'request failed'}`, undefined);
      }
      if (res.status !== 200 && res.status !== 204) throw apiError(res.status, res.body);
      return typeof res.body === 'object' && res.body !== null ? (res.body as BrokerResponse) : {};
    },
  };
}
