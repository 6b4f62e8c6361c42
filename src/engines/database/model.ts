/**
 * Database engine stored model: types, storage keys, load helpers and the conversions to Vault's wire shape.
 *
 *   config/<name> → DbConfig (JSON): connection settings, including the broker's own password
 *   role/<name>   → DbRole (JSON)
 *
 * Every value is encrypted by the barrier. Reads never return the password (nor one embedded in connection_url).
 */
import { z } from 'zod';
import { getJson } from '../../lib/stored-json.ts';
import { formatDuration } from '../../lib/durations.ts';
import type { StorageView } from '../../core/engine.ts';
import { maskConnectionUrl } from './connection-url.ts';

export const PLUGIN_NAME = 'postgresql-database-plugin';

export interface DbConfig {
  name: string;
  pluginName: string;
  /** With `{{username}}` / `{{password}}` placeholders (or literal credentials). */
  connectionUrl: string;
  username: string;
  password: string;
  /**
   * rotate-root stores the new password here before it changes the target, so that a crash half-way never locks
   * the broker out: connecting falls back to it when the current one is refused.
   */
  pendingPassword?: string;
  allowedRoles: string[];
  verifyConnection: boolean;
  maxOpenConnections: number;
  maxIdleConnections: number;
  /** Seconds; 0: connections are not recycled by age. */
  maxConnectionLifetime: number;
  passwordPolicy: string;
  /** '' means the default template. */
  usernameTemplate: string;
  rootRotationStatements: string[];
  /** Vault's password_authentication as written ("password" when absent); sealbox always sends SCRAM verifiers. */
  passwordAuthentication?: 'password' | 'scram-sha-256';
  /** root_rotation_schedule (cron, UTC): rotates the broker's own password on a schedule; '' or absent: none. */
  rootRotationSchedule?: string;
  /** root_rotation_period in seconds; 0 or absent: none. */
  rootRotationPeriod?: number;
  /** Issue 20: live users at most (0 or absent: no cap), per config and per role, and users created per second at most. */
  maxCredentials?: number;
  maxCredentialsPerRole?: number;
  creationRate?: number;
  /** Changes on every write: pools (on every replica) are rebuilt when the stored version differs from theirs. */
  version: string;
}

export interface DbRole {
  name: string;
  dbName: string;
  creationStatements: string[];
  revocationStatements: string[];
  renewStatements: string[];
  rollbackStatements: string[];
  /** The group role that the default creation statement makes the user a member of. */
  defaultGroup: string;
  /** Seconds; 0: the mount's default. */
  defaultTtl: number;
  /** Seconds; 0: the mount's maximum. */
  maxTtl: number;
  /** Issue 20: "identity": callers of one identity share one user, each through its own lease; absent or "none": a user per call. */
  credentialSharing?: 'none' | 'identity';
}

const statements = z.array(z.string()).default([]);

/** A role as stored (`roles/<name>`): fields added later get defaults here. */
export const dbRoleSchema: z.ZodType<DbRole, unknown> = z.object({
  name: z.string(),
  dbName: z.string(),
  creationStatements: statements,
  revocationStatements: statements,
  renewStatements: statements,
  rollbackStatements: statements,
  defaultGroup: z.string().default(''),
  defaultTtl: z.number().default(0),
  maxTtl: z.number().default(0),
  credentialSharing: z.enum(['none', 'identity']).optional(),
});

/** What a `creds` lease carries in its (sealed) internal data. */
export interface CredsInternal {
  config: string;
  role: string;
  username: string;
  /** A shared user (issue 20): the record of its identity and this lease's ticket in it. */
  shared?: { key: string; ticket: string };
}

export const configKey = (name: string): string => `config/${name}`;
export const roleKey = (name: string): string => `role/${name}`;

export const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

export async function loadConfig(s: StorageView, name: string): Promise<DbConfig | null> {
  const raw = await s.get(configKey(name));
  return raw ? (JSON.parse(raw.toString('utf8')) as DbConfig) : null;
}

export async function loadRole(s: StorageView, name: string): Promise<DbRole | null> {
  return getJson(s, roleKey(name), dbRoleSchema);
}

/** Vault's max_idle_connections: 0 means "as many as max_open_connections", and never more. */
export const effectiveMaxIdle = (c: Pick<DbConfig, 'maxIdleConnections' | 'maxOpenConnections'>): number =>
  c.maxIdleConnections === 0 || c.maxIdleConnections > c.maxOpenConnections ? c.maxOpenConnections : c.maxIdleConnections;

// ---- wire conversion (Vault's snake_case) ----

export function configWire(c: DbConfig): Record<string, unknown> {
  return {
    plugin_name: c.pluginName,
    plugin_version: '',
    connection_details: {
      connection_url: maskConnectionUrl(c.connectionUrl),
      username: c.username,
      max_open_connections: c.maxOpenConnections,
      max_idle_connections: effectiveMaxIdle(c),
      max_connection_lifetime: formatDuration(c.maxConnectionLifetime),
      ...(c.usernameTemplate === '' ? {} : { username_template: c.usernameTemplate }),
      password_authentication: c.passwordAuthentication ?? 'password',
    },
    allowed_roles: c.allowedRoles,
    root_credentials_rotate_statements: c.rootRotationStatements,
    root_rotation_schedule: c.rootRotationSchedule ?? '',
    root_rotation_period: c.rootRotationPeriod ?? 0,
    // Vault 1.18's names for the same settings.
    rotation_schedule: c.rootRotationSchedule ?? '',
    rotation_period: c.rootRotationPeriod ?? 0,
    password_policy: c.passwordPolicy,
    verify_connection: c.verifyConnection,
    max_credentials: c.maxCredentials ?? 0,
    max_credentials_per_role: c.maxCredentialsPerRole ?? 0,
    creation_rate: c.creationRate ?? 0,
  };
}

export function roleWire(r: DbRole): Record<string, unknown> {
  return {
    db_name: r.dbName,
    creation_statements: r.creationStatements,
    revocation_statements: r.revocationStatements,
    renew_statements: r.renewStatements,
    rollback_statements: r.rollbackStatements,
    default_group: r.defaultGroup,
    default_ttl: r.defaultTtl,
    max_ttl: r.maxTtl,
    credential_type: 'password',
    credential_sharing: r.credentialSharing ?? 'none',
  };
}
