/**
 * The broker's listening socket: plain HTTP, or HTTPS (TLS 1.2+) when a certificate and key are configured,
 * with the header, body and keep-alive limits that cut slow (slowloris-style) clients.
 */
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config.ts';

export type Listener = HttpServer | HttpsServer;

type ListenerConfig = Pick<
  Config,
  | 'tls_cert_file'
  | 'tls_key_file'
  | 'tls_client_ca_file'
  | 'tls_request_client_cert'
  | 'max_header_bytes'
  | 'header_timeout'
  | 'request_timeout'
  | 'keep_alive_timeout'
>;

/** How often Node checks the header and request timeouts of open connections (its default is 30 s). */
const CONNECTIONS_CHECK_MS = 500;

export class ListenerError extends Error {}

function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ListenerError(`${what} ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Builds (but does not start) the listener. Throws ListenerError when the TLS material cannot be read or used. */
export function createListener(config: ListenerConfig, handler: RequestListener): Listener {
  const limits = {
    maxHeaderSize: config.max_header_bytes,
    headersTimeout: config.header_timeout * 1000,
    requestTimeout: config.request_timeout * 1000,
    keepAliveTimeout: config.keep_alive_timeout * 1000,
    connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
  };
  let server: Listener;
  if (config.tls_cert_file && config.tls_key_file) {
    const cert = readPem(config.tls_cert_file, 'tls_cert_file');
    const key = readPem(config.tls_key_file, 'tls_key_file');
    const ca = config.tls_client_ca_file ? readPem(config.tls_client_ca_file, 'tls_client_ca_file') : undefined;
    try {
      server = createHttpsServer(
        {
          ...limits,
          cert,
          key,
          ...(ca ? { ca } : {}),
          minVersion: 'TLSv1.2',
          // The TLS handshake gets the same budget as the request headers.
          handshakeTimeout: config.header_timeout * 1000,
          // Ask for a client certificate but never refuse a connection over it: clients without one (tokens, AppRole …)
          // must still work, and whether a certificate is trusted is decided by the `cert` auth method at login.
          requestCert: config.tls_request_client_cert,
          rejectUnauthorized: false,
          // A resumed TLS session keeps only the client's leaf certificate, not the intermediates it presented, so a
          // chained client certificate would stop verifying on a resumed connection. No resumption while we ask for one.
          ...(config.tls_request_client_cert ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
        },
        handler,
      );
    } catch (e) {
      throw new ListenerError(`TLS: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    server = createHttpServer(limits, handler);
  }
  // Also set on the instance: Node reads keepAliveTimeout from the server object.
  server.keepAliveTimeout = limits.keepAliveTimeout;
  return server;
}

/** The bound address as a URL, e.g. `https://127.0.0.1:8200`. */
export function listenerAddress(server: Listener): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  return `${scheme}://${host}:${a.port}`;
}
