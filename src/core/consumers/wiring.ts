/** Builds the consumers service (issue 20) from the broker's parts; app.ts only passes them in. */
import type { Clock } from '../../lib/clock.ts';
import type { Db } from '../../storage/db.ts';
import { createConsumersStore } from '../../storage/consumers-store.ts';
import type { PathDef } from '../engine.ts';
import type { TokenEntry } from '../tokens/tokens.ts';
import { createConsumers, type Consumers } from './consumers.ts';
import { sysConsumersPaths } from './sys-consumers.ts';

export interface ConsumersWiringDeps {
  db: Db;
  clock: Clock;
  windowSeconds: number;
  lookupAccessor(accessor: string): Promise<TokenEntry | null>;
  capabilities(token: TokenEntry, path: string): Promise<string[]>;
  /** The engine serving a full API path and the path relative to its mount, or null. */
  route(path: string): { engine: { currentVersion?(path: string): Promise<number | null> }; rest: string } | null;
  /** Reached lazily: the rotation manager is built after this. */
  wake(path: string): Promise<void>;
}

export function wireConsumers(deps: ConsumersWiringDeps): { consumers: Consumers; paths: PathDef[] } {
  const consumers = createConsumers({
    db: deps.db,
    store: createConsumersStore(),
    clock: deps.clock,
    windowSeconds: deps.windowSeconds,
    async currentVersion(path) {
      const r = deps.route(path);
      return r?.engine.currentVersion ? r.engine.currentVersion(r.rest) : null;
    },
    async capabilities(accessor, path) {
      const entry = await deps.lookupAccessor(accessor);
      return entry ? (entry.policies.includes('root') ? ['root'] : deps.capabilities(entry, path)) : [];
    },
    tokenValid: async (accessor) => (await deps.lookupAccessor(accessor)) !== null,
    wake: (path) => deps.wake(path),
  });
  return { consumers, paths: sysConsumersPaths({ consumers }) };
}
