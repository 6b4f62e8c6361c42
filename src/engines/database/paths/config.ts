/** config/:name (read, write, delete), LIST config: connections to target PostgreSQL servers. */
import { z } from 'zod';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { op, type EngineRequest, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import type { DbDeps } from '../deps.ts';
import { validateConnectionUrl } from '../connection-url.ts';
import { boolField, durationField, nonNegativeInt, shortString, statementsField, stringListField } from '../input.ts';
import { configKey, configWire, encode, loadConfig, PLUGIN_NAME, type DbConfig } from '../model.ts';
import { configNameParam } from '../names.ts';
import { checkConnection } from '../pools.ts';
import { applyWhen, registryWhen } from '../schedule.ts';
import { ROOT_KIND } from '../static-model.ts';
import { checkUsernameTemplate } from '../usernames.ts';

const configInput = z.object({
  plugin_name: shortString(128).optional(),
  connection_url: shortString(4096).optional(),
  username: shortString(256).optional(),
  password: shortString(1024).optional(),
  allowed_roles: stringListField.optional(),
  verify_connection: boolField.optional(),
  max_open_connections: nonNegativeInt.optional(),
  max_credentials: nonNegativeInt.optional(),
  max_credentials_per_role: nonNegativeInt.optional(),
  creation_rate: nonNegativeInt.optional(),
  max_idle_connections: nonNegativeInt.optional(),
  max_connection_lifetime: durationField.optional(),
  password_policy: shortString(128).optional(),
  username_template: shortString(1024).optional(),
  root_rotation_statements: statementsField.optional(),
  root_rotation_schedule: shortString(256).optional(),
  root_rotation_period: durationField.optional(),
  // Vault 1.18's names for the two above.
  rotation_schedule: shortString(256).optional(),
  rotation_period: durationField.optional(),
  // The PostgreSQL plugin's and Vault's connection fields (see applyConfig).
  password_authentication: shortString(32).optional(),
  plugin_version: shortString(128).optional(),
  disable_escaping: boolField.optional(),
});
type ConfigInput = z.output<typeof configInput>;

const empty = z.object({});

/** Vault's default max_open_connections. */
const DEFAULT_MAX_OPEN = 4;

function newConfig(name: string): DbConfig {
  return {
    name,
    pluginName: '',
    connectionUrl: '',
    username: '',
    password: '',
    allowedRoles: [],
    verifyConnection: true,
    maxOpenConnections: DEFAULT_MAX_OPEN,
    maxIdleConnections: 0,
    maxConnectionLifetime: 0,
    passwordPolicy: '',
    usernameTemplate: '',
    rootRotationStatements: [],
    version: '',
  };
}

/** Applies the given fields over the stored config (Vault updates a config field by field). */
function applyConfig(current: DbConfig, input: ConfigInput): DbConfig {
  const next: DbConfig = { ...current };
  if (input.plugin_name !== undefined) next.pluginName = input.plugin_name.trim();
  if (input.connection_url !== undefined) next.connectionUrl = input.connection_url.trim();
  if (input.username !== undefined) next.username = input.username;
  if (input.password !== undefined) {
    next.password = input.password;
    delete next.pendingPassword;
  }
  if (input.allowed_roles !== undefined) next.allowedRoles = input.allowed_roles;
  if (input.verify_connection !== undefined) next.verifyConnection = input.verify_connection;
  if (input.max_credentials !== undefined) next.maxCredentials = input.max_credentials;
  if (input.max_credentials_per_role !== undefined) next.maxCredentialsPerRole = input.max_credentials_per_role;
  if (input.creation_rate !== undefined) next.creationRate = input.creation_rate;
  if (input.max_open_connections !== undefined) next.maxOpenConnections = input.max_open_connections === 0 ? DEFAULT_MAX_OPEN : input.max_open_connections;
  if (input.max_idle_connections !== undefined) next.maxIdleConnections = input.max_idle_connections;
  if (input.max_connection_lifetime !== undefined) next.maxConnectionLifetime = parseDuration(input.max_connection_lifetime, 'max_connection_lifetime');
  if (input.password_policy !== undefined) next.passwordPolicy = input.password_policy.trim();
  if (input.username_template !== undefined) next.usernameTemplate = input.username_template.trim();
  if (input.root_rotation_statements !== undefined) next.rootRotationStatements = input.root_rotation_statements;

  if (input.password_authentication !== undefined) {
    // Vault's PostgreSQL plugin: "password" (the default: the password goes to the server, which hashes it) or
    // "scram-sha-256" (Vault hashes it first). sealbox always sends a SCRAM-SHA-256 verifier, never the password, so
    // both give a user that logs in with SCRAM; the value is kept and read back.
    const v = input.password_authentication.trim();
    if (v !== '' && v !== 'password' && v !== 'scram-sha-256') throw badRequest(`password_authentication: '${v.slice(0, 32)}' is not a valid password authentication type (use "password" or "scram-sha-256")`);
    next.passwordAuthentication = v === '' ? 'password' : v;
  }
  if ((input.plugin_version ?? '').trim() !== '') {
    throw badRequest(`plugin_version: "${(input.plugin_version ?? '').trim().slice(0, 64)}" is not supported; sealbox has one built-in PostgreSQL plugin (send "" or leave it out)`);
  }
  if (input.disable_escaping === true) throw badRequest('disable_escaping: not supported (sealbox always URL-escapes the username and password it puts in connection_url): send false');
  if (next.pluginName === '') throw badRequest('plugin_name: required');
  if (next.pluginName !== PLUGIN_NAME) throw badRequest(`plugin_name: "${next.pluginName.slice(0, 64)}" is not supported; use "${PLUGIN_NAME}"`);
  if (next.connectionUrl === '') throw badRequest('connection_url: required');
  validateConnectionUrl(next.connectionUrl);
  if (/\{\{\s*username\s*\}\}/.test(next.connectionUrl) && next.username === '') throw badRequest('username: required when connection_url has {{username}}');
  if (/\{\{\s*password\s*\}\}/.test(next.connectionUrl) && next.password === '') throw badRequest('password: required when connection_url has {{password}}');
  checkUsernameTemplate(next.usernameTemplate);
  const when = applyWhen(
    { schedule: next.rootRotationSchedule ?? '', periodSeconds: next.rootRotationPeriod ?? 0 },
    { schedule: input.root_rotation_schedule ?? input.rotation_schedule, period: input.root_rotation_period ?? input.rotation_period },
    { schedule: 'root_rotation_schedule', period: 'root_rotation_period' },
  );
  next.rootRotationSchedule = when.schedule;
  next.rootRotationPeriod = when.periodSeconds;
  if ((when.schedule !== '' || when.periodSeconds > 0) && (next.username === '' || next.password === '')) {
    throw badRequest('root_rotation_schedule: rotating root credentials needs username and password (with {{username}} and {{password}} in connection_url)');
  }
  return next;
}

/** Whether two configs log in the same way (a connection check of one holds for the other). */
const sameLogin = (a: DbConfig, b: DbConfig): boolean => a.connectionUrl === b.connectionUrl && a.username === b.username && a.password === b.password;

/**
 * Field-by-field update under the config's lock: a rotate-root (which holds the same lock while it changes the
 * password) can never be overwritten by a write that read the config before it. The connection is checked before
 * the lock and, if that check failed or a concurrent change altered how it logs in, again inside it.
 */
async function writeConfig(deps: DbDeps, req: EngineRequest<ConfigInput>): Promise<EngineResponse> {
  const name = configNameParam(req.params);
  const key = configKey(name);
  const existing = await loadConfig(deps.storage, name);
  const draft = applyConfig(existing ?? newConfig(name), req.input);
  deps.rotations.check(registryWhen({ schedule: draft.rootRotationSchedule ?? '', periodSeconds: draft.rootRotationPeriod ?? 0 }));
  // Fails with a 400 when the policy does not exist (outside the lock: it reads other storage).
  if (draft.passwordPolicy !== '' && draft.passwordPolicy !== existing?.passwordPolicy) await deps.passwords.generate(draft.passwordPolicy);
  const verify = async (c: DbConfig): Promise<void> => {
    const problem = await checkConnection(c);
    if (problem !== null) throw badRequest(`verify_connection: ${problem}; the config was not saved`);
  };
  // Checked before the lock so that a bad login fails without holding it. A failure there is not final: a rotate-root
  // may have changed the password between the read above and the check, so it is checked again under the lock.
  const unverified = draft.verifyConnection && (await checkConnection(draft)) !== null;
  const saved = await deps.storage.locked(key, async (s) => {
    const current = await loadConfig(s, name);
    const next = applyConfig(current ?? newConfig(name), req.input);
    if (next.verifyConnection && (unverified || !sameLogin(next, draft))) await verify(next);
    next.version = deps.random.uuid();
    await s.put(key, encode(next));
    return next;
  });
  deps.pools.evict(name);
  // The root rotation is registered with core (the rotation `<mount>root/<name>`), or removed when unscheduled.
  const when = { schedule: saved.rootRotationSchedule ?? '', periodSeconds: saved.rootRotationPeriod ?? 0 };
  if (when.schedule !== '' || when.periodSeconds > 0) await deps.rotations.upsert(ROOT_KIND, name, registryWhen(when));
  else await deps.rotations.remove(ROOT_KIND, name);
  return {};
}

export function createConfigPaths(deps: DbDeps): PathDef[] {
  const exists = async (req: EngineRequest): Promise<boolean> => {
    try {
      return (await loadConfig(deps.storage, configNameParam(req.params))) !== null;
    } catch {
      return false;
    }
  };
  return [
    {
      pattern: 'config',
      operations: {
        list: op(empty, async () => {
          const keys = await deps.storage.list('config/');
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        }),
      },
    },
    {
      pattern: 'config/:name',
      exists,
      operations: {
        read: op(empty, async ({ params }) => {
          const config = await loadConfig(deps.storage, configNameParam(params));
          if (!config) throw notFound();
          return { data: configWire(config) };
        }),
        update: op(configInput, (req) => writeConfig(deps, req)),
        delete: op(empty, async ({ params }) => {
          const name = configNameParam(params);
          await deps.rotations.remove(ROOT_KIND, name);
          await deps.storage.delete([configKey(name)]);
          deps.pools.evict(name);
          return {};
        }),
      },
    },
  ];
}
