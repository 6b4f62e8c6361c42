/**
 * Static roles (Vault's `static-roles/:name`): existing PostgreSQL users whose passwords the broker rotates.
 *
 *   static-role/<name> → StaticRole (JSON, sealed by the barrier): the settings and the credentials handed out.
 *
 * The credentials live in the same record as the settings so that one lock (the record's key) serialises a role
 * write against a rotation's finish step.
 */
import type { StorageView } from '../../core/engine.ts';

export type RotationStrategy = 'single' | 'alternating';

/** One user's password as the broker last set it. */
export interface StaticCredential {
  username: string;
  password: string;
  /** ISO time of the rotation that set it. */
  rotatedAt: string;
  /** 1, 2, …: the rotation's number, which consumers acknowledge (issue 20); absent on credentials set before. */
  version?: number;
}

export interface StaticRole {
  name: string;
  dbName: string;
  strategy: RotationStrategy;
  /** single: one user; alternating: exactly two. */
  usernames: string[];
  /** Seconds, or 0 with a schedule. */
  rotationPeriod: number;
  /** A cron expression (UTC), or '' with a period. */
  rotationSchedule: string;
  /** Empty: the default ALTER ROLE … WITH PASSWORD '<SCRAM verifier>'. */
  rotationStatements: string[];
  /** What static-creds hands out; null until the first rotation finishes. */
  current: StaticCredential | null;
  /** alternating: the user handed out before `current`; its password stays valid until that user is rotated again. */
  previous: StaticCredential | null;
}

export const staticRoleKey = (name: string): string => `static-role/${name}`;
export const STATIC_ROLE_PREFIX = 'static-role/';
/** The rotation kind under which static roles are registered with core (`<mount>static-roles/<name>`). */
export const STATIC_KIND = 'static-roles';
/** The rotation kind of a connection config's root credentials (`<mount>root/<config>`). */
export const ROOT_KIND = 'root';

export async function loadStaticRole(s: StorageView, name: string): Promise<StaticRole | null> {
  const raw = await s.get(staticRoleKey(name));
  return raw ? (JSON.parse(raw.toString('utf8')) as StaticRole) : null;
}

/**
 * The user the next rotation changes: the only one for `single`; for `alternating`, the one NOT handed out now
 * (the first user before any rotation), so that the credentials clients hold keep working.
 */
export function nextUser(role: Pick<StaticRole, 'strategy' | 'usernames' | 'current'>): string {
  const [first = '', second = ''] = role.usernames;
  if (role.strategy === 'single' || !role.current) return first;
  return role.current.username === first ? second : first;
}

/** Seconds from `now` to `next` (never negative), or 0 without a next run. */
export const secondsUntil = (next: Date | null, now: Date): number => (next ? Math.max(0, Math.ceil((next.getTime() - now.getTime()) / 1000)) : 0);

/** Vault's read shape for static-roles/:name (no password). */
export function staticRoleWire(r: StaticRole, ttl: number): Record<string, unknown> {
  return {
    db_name: r.dbName,
    username: r.current?.username ?? r.usernames[0] ?? '',
    ...(r.strategy === 'alternating' ? { usernames: r.usernames } : {}),
    rotation_strategy: r.strategy,
    rotation_statements: r.rotationStatements,
    ...(r.rotationSchedule !== '' ? { rotation_schedule: r.rotationSchedule } : { rotation_period: r.rotationPeriod }),
    last_vault_rotation: r.current?.rotatedAt ?? null,
    ttl,
    credential_type: 'password',
  };
}

/** Vault's read shape for static-creds/:name. */
export function staticCredsWire(r: StaticRole, current: StaticCredential, ttl: number): Record<string, unknown> {
  return {
    username: current.username,
    password: current.password,
    last_vault_rotation: current.rotatedAt,
    version: current.version ?? 1,
    ...(r.rotationSchedule !== '' ? { rotation_schedule: r.rotationSchedule } : { rotation_period: r.rotationPeriod }),
    ttl,
  };
}

