/**
 * Accepts Vault's `LIST` method on the wire. Node's HTTP parser refuses unknown methods with a bare 400, so every
 * connection's bytes pass through a framing tracker (list-framing.ts) before the parser sees them: it rewrites a
 * request's `LIST` into `LINK` (and a client's own `LINK` into an invalid method), length-preserving, and
 * `isListRequest` tells the vault adapter which requests were lists. The parser still frames every request itself.
 *
 * The connection handed to Node's HTTP server is a Duplex around the real socket (Node documents that any Duplex may
 * be injected as a connection); `transportOf` gives the real socket back (the TLS peer certificate, for cert auth).
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { Server as TlsServer } from 'node:tls';
import { createFramingTracker, type FramingTracker } from './list-framing.ts';

/** What the wrapper needs of a connection: a net.Socket or TLSSocket (tests pass any Duplex). */
export type Transport = Duplex & {
  setTimeout?(ms: number): unknown;
  setNoDelay?(noDelay?: boolean): unknown;
  setKeepAlive?(enable?: boolean, delay?: number): unknown;
} & Partial<Pick<Socket, 'remoteAddress' | 'remotePort' | 'remoteFamily' | 'localAddress' | 'localPort'>>;

/** How long a closing connection keeps discarding what the client still sends (Go's net/http waits 500 ms too). */
const LINGER_MS = 500;

export class ListMethodSocket extends Duplex {
  readonly transport: Transport;
  readonly #tracker: FramingTracker = createFramingTracker();
  /** Set when the tracker stopped: why (for tests and debugging; never sent to the client). */
  stopReason: string | undefined;
  #reading = true;
  #upgraded = false;

  constructor(transport: Transport) {
    super({ allowHalfOpen: true });
    this.transport = transport;
    transport.on('data', this.#onData);
    transport.on('end', this.#onEnd);
    transport.on('error', (err: Error) => this.destroy(err));
    transport.on('close', () => this.destroy());
    transport.on('timeout', () => this.emit('timeout'));
  }

  readonly #onData = (chunk: Buffer): void => {
    if (!this.#reading) return;
    if (this.#upgraded) {
      this.stopReason = 'data after an upgrade request';
      this.destroy();
      return;
    }
    const r = this.#tracker.feed(chunk);
    const more = r.out.length === 0 || this.push(r.out);
    if (r.kind === 'upgrade') {
      this.#upgraded = true;
      if (r.out.length < chunk.length) this.#onData(chunk.subarray(r.out.length));
    } else if (r.kind === 'stop') {
      this.stopReason = r.reason;
      this.#stopReading();
      this.push(null);
    } else if (!more) {
      this.transport.pause();
    }
  };

  readonly #onEnd = (): void => {
    if (!this.#reading) return;
    const rest = this.#tracker.flush();
    if (rest.length > 0) this.push(rest);
    this.push(null);
  };

  #stopReading(): void {
    this.#reading = false;
    this.transport.off('data', this.#onData);
    this.transport.pause();
  }

  override _read(): void {
    if (this.#reading) this.transport.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.transport.write(chunk, encoding)) cb();
    else this.transport.once('drain', () => cb());
  }

  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: (err?: Error | null) => void): void {
    // Node's HTTP server corks the socket around a response: hand the pieces over in one go.
    this.transport.cork();
    let ok = true;
    for (const { chunk, encoding } of chunks) ok = this.transport.write(chunk, encoding);
    this.transport.uncork();
    if (ok) cb();
    else this.transport.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.transport.end(() => cb());
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.transport.destroy();
    cb(err);
  }

  /**
   * How Node's HTTP server closes a connection after its last answer (`Connection: close`). Closing a socket while
   * request bytes are still unread makes the kernel send a reset, and the client may then lose the answer it was sent
   * (a 403 or 503 given before the body arrived). As Go's net/http does: once the answer is flushed, half-close, discard
   * what still arrives until the client closes its side, for at most LINGER_MS, then close.
   */
  destroySoon(): void {
    this.#stopReading();
    this.transport.on('data', () => undefined);
    this.transport.resume();
    const linger = (): void => {
      if (this.transport.readableEnded) {
        this.destroy();
        return;
      }
      const timer = setTimeout(() => this.destroy(), LINGER_MS);
      timer.unref();
      this.transport.once('end', () => this.destroy());
      this.once('close', () => clearTimeout(timer));
    };
    if (this.writableFinished) linger();
    else {
      this.once('finish', linger);
      this.end();
    }
  }

  setTimeout(ms: number, cb?: () => void): this {
    this.transport.setTimeout?.(ms);
    if (cb) this.once('timeout', cb);
    return this;
  }

  setNoDelay(noDelay?: boolean): this {
    this.transport.setNoDelay?.(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.transport.setKeepAlive?.(enable, delay);
    return this;
  }

  get remoteAddress(): string | undefined {
    return this.transport.remoteAddress;
  }

  get remotePort(): number | undefined {
    return this.transport.remotePort;
  }

  get remoteFamily(): string | undefined {
    return this.transport.remoteFamily;
  }

  get localAddress(): string | undefined {
    return this.transport.localAddress;
  }

  get localPort(): number | undefined {
    return this.transport.localPort;
  }

  /** Koa reads it for `ctx.protocol`. */
  get encrypted(): boolean {
    return (this.transport as { encrypted?: boolean }).encrypted === true;
  }
}

/** The real socket under a connection (itself when it was not wrapped). */
export function transportOf(socket: Duplex): Duplex {
  return socket instanceof ListMethodSocket ? socket.transport : socket;
}

/** Whether the request arrived as `LIST` (rewritten to LINK on a wrapped connection). */
export function isListRequest(req: IncomingMessage): boolean {
  return req.method === 'LINK' && req.socket instanceof ListMethodSocket;
}

/**
 * Wraps every connection of `server` (HTTP, or HTTPS after the handshake) before Node's HTTP parser sees it. Call it
 * right after creating the server, before anything else listens for connections.
 */
export function acceptListMethod(server: HttpServer): void {
  const event = server instanceof TlsServer ? 'secureConnection' : 'connection';
  const parsers = server.listeners(event) as ((socket: Duplex) => void)[];
  server.removeAllListeners(event);
  server.on(event, (socket: Socket) => {
    const wrapped = new ListMethodSocket(socket);
    for (const listener of parsers) listener.call(server, wrapped);
  });
}
