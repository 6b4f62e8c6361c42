import { PassThrough } from 'node:stream';
import type Koa from 'koa';
import type { EventStream } from '../core/engine.ts';
import type { AppState } from './state.ts';

/** Comment lines keep proxies and clients from timing an idle stream out. */
const HEARTBEAT_MS = 15_000;
/** Bytes of undelivered events after which a subscriber is cut off. */
const MAX_BUFFERED = 256 * 1024;

/**
 * Sends an event subscription as server-sent events: `event: <type>`, `id: <uuid>`, `data: <json>`; a comment line
 * every 15 s; and a final `event: end` with the reason when the broker ends the stream (token revoked, shutdown).
 */
export function streamEvents(ctx: Koa.ParameterizedContext<AppState>, stream: EventStream): void {
  const out = new PassThrough();
  ctx.status = 200;
  ctx.type = 'text/event-stream';
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = out;
  ctx.req.socket.setNoDelay(true);
  ctx.req.socket.setTimeout(0);
  out.write(': subscribed\n\n');
  const heartbeat = setInterval(() => out.write(': ping\n\n'), HEARTBEAT_MS);
  let stop: (() => void) | null = null;
  const cleanup = () => {
    clearInterval(heartbeat);
    stop?.();
    stop = null;
  };
  stop = stream.open(
    (e) => {
      // A client that stops reading must not make the broker buffer without bound.
      if (out.writableLength > MAX_BUFFERED) {
        out.end(`event: end\ndata: ${JSON.stringify({ reason: 'slow consumer' })}\n\n`);
        cleanup();
        return;
      }
      out.write(`event: ${e.type}\nid: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`);
    },
    (reason) => {
      out.end(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      cleanup();
    },
  );
  ctx.req.on('close', cleanup);
  out.on('close', cleanup);
}
