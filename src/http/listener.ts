/**
 * The broker's listening socket: plain HTTP, or HTTPS (TLS 1.2+) when a certificate and key are configured,
 * with the header, body and keep-alive limits that cut slow (slowloris-style) clients.
 */
import { constants } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { Config } from '../config.ts';
import { acceptListMethod } from './list-method.ts';

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
  | 'max_connections'
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

/** A serving certificate (leaf first, then any intermediates) and its private key, PEM. */
export interface ServingCertificate {
  cert: string | Buffer;
  key: string | Buffer;
}

/**
 * The secure-context options: given in full both at creation and to `setSecureContext`, which resets every option it
 * is not given (the client CA list and the no-ticket option included).
 */
type ContextConfig = Pick<ListenerConfig, 'tls_client_ca_file' | 'tls_request_client_cert'>;

function secureContextOptions(config: ContextConfig, serving: ServingCertificate) {
  const ca = config.tls_client_ca_file ? readPem(config.tls_client_ca_file, 'tls_client_ca_file') : undefined;
  return {
    cert: serving.cert,
    key: serving.key,
    ...(ca ? { ca } : {}),
    minVersion: 'TLSv1.2' as const,
    // A resumed TLS session keeps only the client's leaf certificate, not the intermediates it presented, so a
    // chained client certificate would stop verifying on a resumed connection. No resumption while we ask for one.
    ...(config.tls_request_client_cert ? { secureOptions: constants.SSL_OP_NO_TICKET } : {}),
  };
}

/**
 * Builds (but does not start) the listener. HTTPS when `serving` is given (a certificate that changes at run time,
 * see replaceServingCertificate) or the certificate files are configured. Throws ListenerError when the TLS material
 * cannot be read or used.
 */
export function createListener(config: ListenerConfig, handler: RequestListener, serving?: ServingCertificate): Listener {
  const limits = {
    maxHeaderSize: config.max_header_bytes,
    headersTimeout: config.header_timeout * 1000,
    requestTimeout: config.request_timeout * 1000,
    keepAliveTimeout: config.keep_alive_timeout * 1000,
    connectionsCheckingInterval: CONNECTIONS_CHECK_MS,
  };
  let server: Listener;
  const fromFiles =
    config.tls_cert_file && config.tls_key_file
      ? { cert: readPem(config.tls_cert_file, 'tls_cert_file'), key: readPem(config.tls_key_file, 'tls_key_file') }
      : undefined;
  const material = serving ?? fromFiles;
  if (material) {
    const context = secureContextOptions(config, material);
    try {
      server = createHttpsServer(
        {
          ...limits,
          ...context,
          // The TLS handshake gets the same budget as the request headers.
          handshakeTimeout: config.header_timeout * 1000,
          // Ask for a client certificate but never refuse a connection over it: clients without one (tokens, AppRole …)
          // must still work, and whether a certificate is trusted is decided by the `cert` auth method at login.
          requestCert: config.tls_request_client_cert,
          rejectUnauthorized: false,
        },
        handler,
      );
    } catch (e) {
      throw new ListenerError(`TLS: ${e instanceof Error ? e.message : String(e)}`);
    }
  } else {
    server = createHttpServer(limits, handler);
  }
  // Vault's LIST method, which Node's parser refuses, reaches the adapter rewritten.
  acceptListMethod(server);
  // Also set on the instance: Node reads keepAliveTimeout from the server object.
  server.keepAliveTimeout = limits.keepAliveTimeout;
  // Beyond this many open connections Node closes a new one at once (each connection costs memory, authenticated or not).
  server.maxConnections = config.max_connections;
  return server;
}

/**
 * Swaps the serving certificate of a running HTTPS listener: new handshakes get it, open connections keep theirs.
 * Throws ListenerError (and keeps the current one) when the certificate and key are unusable or do not match.
 */
export function replaceServingCertificate(server: HttpsServer, config: ContextConfig, serving: ServingCertificate): void {
  try {
    const options = secureContextOptions(config, serving);
    // Checked on its own first: a failing setSecureContext has already overwritten the server's stored options.
    createSecureContext(options);
    server.setSecureContext(options);
  } catch (e) {
    if (e instanceof ListenerError) throw e;
    throw new ListenerError(`TLS: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The bound address as a URL, e.g. `https://127.0.0.1:8200`. */
export function listenerAddress(server: Listener): string {
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  const scheme = server instanceof HttpsServer ? 'https' : 'http';
  return `${scheme}://${host}:${a.port}`;
}
