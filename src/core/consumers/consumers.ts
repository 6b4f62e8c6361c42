/**
 * Consumers of rotated secrets (issue 20 item 1). A client that applied a version of a secret it reads (a static
 * role's static-creds, …) acknowledges it with PUT sys/consumers/ack; its token identifies it (accessor, and the
 * login's identity). A consumer is live while its token is valid and it was seen within `windowSeconds`. The retire
 * step of a rotation (retire-step.ts) waits for the live consumers of its path to reach the new version.
 */
import { badRequest, permissionDenied } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Db } from '../../storage/db.ts';
import type { ConsumerRow, ConsumersStore } from '../../storage/consumers-store.ts';
import type { Caller } from '../engine.ts';

export interface ConsumersDeps {
  db: Db;
  store: ConsumersStore;
  clock: Clock;
  /** A consumer not seen for this long is not live (it does not hold back a retirement). */
  windowSeconds: number;
  /** The current version served at a full API path (e.g. "database/static-creds/app"); null: no such versioned path. */
  currentVersion(path: string): Promise<number | null>;
  /** What the token of `accessor` may do on `path` ([] when the token is gone). */
  capabilities(accessor: string, path: string): Promise<string[]>;
  tokenValid(accessor: string): Promise<boolean>;
  /** Wakes the rotations waiting in their retire step for consumers of `path`. */
  wake(path: string): Promise<void>;
}

export interface ConsumerView extends ConsumerRow {
  live: boolean;
}

const MAX_LIST = 1000;
export const normalizePath = (p: string): string => p.trim().replace(/^\/+/, '').replace(/\/+$/, '');

export function createConsumers(deps: ConsumersDeps) {
  const since = (): Date => new Date(deps.clock.now().getTime() - deps.windowSeconds * 1000);

  async function withLiveness(rows: ConsumerRow[]): Promise<ConsumerView[]> {
    const cutoff = since().getTime();
    const out: ConsumerView[] = [];
    for (const r of rows) out.push({ ...r, live: r.lastSeenAt.getTime() >= cutoff && (await deps.tokenValid(r.accessor)) });
    return out;
  }

  return {
    /** PUT sys/consumers/ack: 403 if the caller cannot read the path, 400 for an unknown path or version. */
    async ack(caller: Caller | null, rawPath: string, version: number): Promise<ConsumerRow> {
      if (!caller) throw permissionDenied();
      const path = normalizePath(rawPath);
      if (path === '') throw badRequest('path: required');
      const caps = await deps.capabilities(caller.accessor, path);
      if (!caps.includes('read') && !caps.includes('root')) throw permissionDenied();
      const current = await deps.currentVersion(path);
      if (current === null) throw badRequest(`path: "${path.slice(0, 200)}" is not a versioned secret that consumers acknowledge (e.g. <mount>/static-creds/<name>)`);
      if (!Number.isInteger(version) || version < 1 || version > current) {
        throw badRequest(`version: ${String(version).slice(0, 20)} does not exist at "${path.slice(0, 200)}" (the current version is ${current})`);
      }
      const now = deps.clock.now();
      const row = { path, accessor: caller.accessor, identity: caller.identity ?? null, displayName: caller.displayName, version, now };
      await deps.store.ack(deps.db, row);
      await deps.wake(path).catch(() => undefined);
      return { ...row, ackedAt: now, lastSeenAt: now };
    },

    /** GET sys/consumers?path=…: every consumer recorded for the path, with whether it is live. */
    async list(rawPath: string): Promise<ConsumerView[]> {
      const path = normalizePath(rawPath);
      if (path === '') throw badRequest('path: required');
      return withLiveness(await deps.store.list(deps.db, path, null, MAX_LIST));
    },

    /** For a retire step: the live consumers of `path` that have (and have not) reached `version`, and whether the path has any consumer at all. */
    async standing(path: string, version: number): Promise<{ any: boolean; acknowledged: ConsumerView[]; pending: ConsumerView[] }> {
      const live = (await withLiveness(await deps.store.list(deps.db, path, since(), MAX_LIST))).filter((c) => c.live);
      const any = live.length > 0 || (await deps.store.any(deps.db, path));
      return { any, acknowledged: live.filter((c) => c.version >= version), pending: live.filter((c) => c.version < version) };
    },
  };
}

export type Consumers = ReturnType<typeof createConsumers>;
