/**
 * Protecting the target (issue 20 item 4): per database config, a cap on live users (`max_credentials`, and
 * `max_credentials_per_role`) and a creation rate (`creation_rate`, users per second), both shared by every replica:
 * the counts live in the mount's storage and change under its lock (a PostgreSQL advisory lock).
 *
 *   limits/<config> → { users: {username: role}, window: second (ms), created: n }
 *
 * A user is counted from the moment it is reserved (before CREATE ROLE) until it is dropped. Over a limit: 429 with
 * Retry-After and a message that names the limit. Configs without limits are not touched (no lock on the mint path).
 */
import { AppError } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { EngineStorage } from '../../core/engine.ts';
import { encode, type DbConfig } from './model.ts';

interface LimitsRecord {
  users: Record<string, string>;
  window: number;
  created: number;
}

export interface LimitStats {
  config: string;
  live: number;
  refused: number;
}

const keyOf = (config: string): string => `limits/${config}`;
const limited = (c: DbConfig): boolean => (c.maxCredentials ?? 0) > 0 || (c.maxCredentialsPerRole ?? 0) > 0 || (c.creationRate ?? 0) > 0;

export function createCreationGuard(deps: { storage: EngineStorage; clock: Clock }) {
  const refused = new Map<string, number>();
  const live = new Map<string, number>();
  const refuse = (config: string, message: string, retryAfterSeconds: number): never => {
    refused.set(config, (refused.get(config) ?? 0) + 1);
    throw new AppError('rate_limited', message, [], { retryAfterSeconds });
  };
  /** These users are gone: one read (and one locked write when any was counted), however many they are. */
  const releaseMany = async (config: DbConfig, usernames: readonly string[]): Promise<void> => {
    if (usernames.length === 0) return;
    if (!limited(config) && !(await deps.storage.get(keyOf(config.name)))) return;
    await deps.storage.locked(keyOf(config.name), async (s) => {
      const raw = await s.get(keyOf(config.name));
      if (!raw) return;
      const rec = JSON.parse(raw.toString('utf8')) as LimitsRecord;
      const counted = usernames.filter((u) => u in rec.users);
      if (counted.length === 0) return;
      for (const u of counted) delete rec.users[u];
      live.set(config.name, Object.keys(rec.users).length);
      await s.put(keyOf(config.name), encode(rec));
    });
  };
  return {
    /** Counts `username` against the config's limits before it is created; 429 when one is reached. */
    async reserve(config: DbConfig, role: string, username: string): Promise<void> {
      if (!limited(config)) return;
      await deps.storage.locked(keyOf(config.name), async (s) => {
        const raw = await s.get(keyOf(config.name));
        const rec: LimitsRecord = raw ? (JSON.parse(raw.toString('utf8')) as LimitsRecord) : { users: {}, window: 0, created: 0 };
        const now = deps.clock.now().getTime();
        const window = Math.floor(now / 1000) * 1000;
        if (rec.window !== window) {
          rec.window = window;
          rec.created = 0;
        }
        const rate = config.creationRate ?? 0;
        if (rate > 0 && rec.created >= rate) {
          refuse(config.name, `database config "${config.name}": creation_rate (${rate} per second) reached; try again shortly`, Math.max(1, Math.ceil((window + 1000 - now) / 1000)));
        }
        const names = Object.keys(rec.users);
        const max = config.maxCredentials ?? 0;
        if (max > 0 && names.length >= max) refuse(config.name, `database config "${config.name}": max_credentials (${max} live users) reached`, 30);
        const perRole = config.maxCredentialsPerRole ?? 0;
        if (perRole > 0 && names.filter((n) => rec.users[n] === role).length >= perRole) {
          refuse(config.name, `database config "${config.name}": max_credentials_per_role (${perRole} live users of role "${role}") reached`, 30);
        }
        rec.users[username] = role;
        rec.created += 1;
        live.set(config.name, names.length + 1);
        await s.put(keyOf(config.name), encode(rec));
      });
    },
    /** The user is gone (dropped, or its creation failed): it no longer counts. Idempotent. */
    release(config: DbConfig, username: string): Promise<void> {
      return releaseMany(config, [username]);
    },
    releaseMany,
    /** For sys/metrics: live users (as last seen by this replica) and creations refused here, per config. */
    stats(): LimitStats[] {
      const names = new Set([...live.keys(), ...refused.keys()]);
      return [...names].sort().map((config) => ({ config, live: live.get(config) ?? 0, refused: refused.get(config) ?? 0 }));
    },
  };
}

export type CreationGuard = ReturnType<typeof createCreationGuard>;
