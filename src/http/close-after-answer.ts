/**
 * An answer given before the request body was read (refused, or too large) ends the connection: the body is not read
 * for nothing. The connection lingers briefly so that the client receives the answer rather than a reset.
 */
import type { IncomingMessage } from 'node:http';
import { ListMethodSocket } from './list-method.ts';

/** How long a closing connection keeps discarding what the client still sends (Go's net/http waits 500 ms too). */
export const LINGER_MS = 500;

export function closeAfterAnswer(ctx: { set(field: string, value: string): void; req: IncomingMessage }): void {
  ctx.set('Connection', 'close');
  const socket: unknown = ctx.req.socket;
  if (socket instanceof ListMethodSocket) socket.lingerOnClose(LINGER_MS);
}
