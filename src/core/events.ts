/**
 * The event bus (issue 7 item 5, used by agents): a change published on any replica reaches the subscribers of every
 * replica through PostgreSQL NOTIFY, so an agent refetches a secret seconds (not a poll interval) after it changed.
 * Events carry paths and versions only, never secret data.
 */
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/log.ts';
import type { Random } from '../lib/random.ts';
import type { Db } from '../storage/db.ts';
import type { BrokerEvent } from './engine.ts';

const CHANNEL = 'sealbox_events';
/** NOTIFY payloads must stay under 8000 bytes; paths are far shorter, but never let one event break the channel. */
const MAX_PAYLOAD = 7000;

export type EventListener = (event: BrokerEvent) => void;

function parse(payload: string): BrokerEvent | null {
  try {
    const v = JSON.parse(payload) as Partial<BrokerEvent>;
    if (typeof v.id !== 'string' || typeof v.type !== 'string' || typeof v.path !== 'string' || typeof v.time !== 'string') return null;
    return { id: v.id, type: v.type, path: v.path, time: v.time, ...(typeof v.version === 'number' ? { version: v.version } : {}) };
  } catch {
    return null;
  }
}

export function createEventBus(deps: { db: Db; clock: Clock; random: Random; log: Logger }) {
  const listeners = new Set<EventListener>();
  let stopped = false;
  return {
    async start(): Promise<void> {
      stopped = false;
      await deps.db.listen(CHANNEL, (payload) => {
        if (payload === null || stopped) return;
        const event = parse(payload);
        if (!event) return;
        for (const l of listeners) {
          try {
            l(event);
          } catch (err) {
            deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'event listener failed');
          }
        }
      });
    },
    /** Stops delivering and publishing (broker shutdown): subscribers hear nothing more, and nothing is sent. */
    stop(): void {
      stopped = true;
      listeners.clear();
    },
    /** Publishes to every replica (this one included, through its own LISTEN). Failures are logged, never thrown. */
    async publish(e: { type: string; path: string; version?: number }): Promise<void> {
      if (stopped) return;
      const event: BrokerEvent = { id: deps.random.uuid(), type: e.type, path: e.path, time: deps.clock.now().toISOString(), ...(e.version !== undefined ? { version: e.version } : {}) };
      const payload = JSON.stringify(event);
      if (Buffer.byteLength(payload, 'utf8') > MAX_PAYLOAD) {
        deps.log.warn({ type: e.type }, 'event too large for NOTIFY; dropped');
        return;
      }
      await deps.db.notify(CHANNEL, payload).catch((err: Error) => deps.log.warn({ err: err.message, type: e.type }, 'publishing an event failed'));
    },
    subscribe(listener: EventListener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    subscriberCount(): number {
      return listeners.size;
    },
  };
}

export type EventBus = ReturnType<typeof createEventBus>;
