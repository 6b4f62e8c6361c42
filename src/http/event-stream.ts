import { Readable } from 'node:stream';
import type Koa from 'koa';
import type { BrokerEvent, EventStream } from '../core/engine.ts';
import type { AppState } from './state.ts';

/** Comment lines keep proxies and clients from timing an idle stream out. */
const HEARTBEAT_MS = 15_000;
/** Bytes of undelivered events after which a subscriber is cut off. */
const MAX_BUFFERED = 256 * 1024;

/**
 * Each event's frame, serialised and encoded once however many subscribers it goes to (the bus hands them all one
 * object); every stream then writes the same bytes.
 */
const frames = new WeakMap<BrokerEvent, Buffer>();
function frameOf(e: BrokerEvent): Buffer {
  let frame = frames.get(e);
  if (frame === undefined) {
    frame = Buffer.from(`event: ${e.type}\nid: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`, 'utf8');
    frames.set(e, frame);
  }
  return frame;
}

/**
 * Sends an event subscription as server-sent events: `event: <type>`, `id: <uuid>`, `data: <json>`; a comment line
 * every 15 s; and a final `event: end` with the reason when the broker ends the stream (token revoked, shutdown).
 */
export function streamEvents(ctx: Koa.ParameterizedContext<AppState>, stream: EventStream): void {
  // A bare Readable the response is piped from: a frame is pushed straight into it (no transform stage per write).
  const out = new Readable({ read() {} });
  let ended = false;
  const write = (frame: string | Buffer): void => {
    if (!ended) out.push(frame);
  };
  const endWith = (frame: string): void => {
    if (ended) return;
    out.push(frame);
    ended = true;
    out.push(null);
  };
  ctx.status = 200;
  ctx.type = 'text/event-stream';
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = out;
  ctx.req.socket.setNoDelay(true);
  ctx.req.socket.setTimeout(0);
  write(': subscribed\n\n');
  const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
  let stop: (() => void) | null = null;
  const cleanup = () => {
    clearInterval(heartbeat);
    stop?.();
    stop = null;
  };
  stop = stream.open(
    (e) => {
      // A client that stops reading must not make the broker buffer without bound.
      if (out.readableLength > MAX_BUFFERED) {
        endWith(`event: end\ndata: ${JSON.stringify({ reason: 'slow consumer' })}\n\n`);
        cleanup();
        return;
      }
      write(frameOf(e));
    },
    (reason) => {
      endWith(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
      cleanup();
    },
  );
  ctx.req.on('close', cleanup);
  out.on('close', cleanup);
}
