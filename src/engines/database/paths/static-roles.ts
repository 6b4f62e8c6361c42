/**
 * static-roles/:name (read, write, delete), LIST static-roles, static-creds/:name (read), rotate-role/:name (update):
 * existing PostgreSQL users whose passwords the broker rotates on a schedule (Vault's static roles), with the
 * strategies `single` (one user) and `alternating` (two users: the one not handed out is rotated, then they flip).
 * The rotations themselves run in core's state machine (static-rotation.ts is the target).
 */
import { z } from 'zod';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { op, type EngineRequest, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import type { DbDeps } from '../deps.ts';
import { checkCredentialConfig, credentialConfigField, durationField, shortString, statementsField, stringListField } from '../input.ts';
import { encode, loadConfig, type DbConfig } from '../model.ts';
import { configNameField, roleNameParam } from '../names.ts';
import { applyWhen, nextRun, registryWhen, type RotationWhen } from '../schedule.ts';
import { SAFE_USERNAME } from '../statements.ts';
import {
  loadStaticRole,
  secondsUntil,
  STATIC_KIND,
  STATIC_ROLE_PREFIX,
  staticCredsWire,
  staticRoleKey,
  staticRoleWire,
  type RotationStrategy,
  type StaticRole,
} from '../static-model.ts';
import { servedCredential } from '../static-consumers.ts';
import { roleExists } from '../target-sql.ts';

const staticRoleInput = z.object({
  db_name: shortString(256).optional(),
  username: shortString(256).optional(),
  usernames: stringListField.optional(),
  rotation_period: durationField.optional(),
  rotation_schedule: shortString(256).optional(),
  rotation_strategy: z.enum(['single', 'alternating'], { error: 'must be "single" or "alternating"' }).optional(),
  rotation_statements: statementsField.optional(),
  credential_type: shortString(64).optional(),
  credential_config: credentialConfigField.optional(),
});
type StaticRoleInput = z.output<typeof staticRoleInput>;

const empty = z.object({});

const newStaticRole = (name: string): StaticRole => ({
  name,
  dbName: '',
  strategy: 'single',
  usernames: [],
  rotationPeriod: 0,
  rotationSchedule: '',
  rotationStatements: [],
  current: null,
  previous: null,
});

const whenOf = (r: StaticRole): RotationWhen => ({ schedule: r.rotationSchedule, periodSeconds: r.rotationPeriod });

function checkUsername(u: string, field: string, custom: boolean): void {
  if (Buffer.byteLength(u) > 63 || u.includes('\u0000')) throw badRequest(`${field}: must be a PostgreSQL role name (at most 63 bytes)`);
  // Custom statements take the name as it is inside the quotes the operator wrote; the default escapes it.
  if (custom && !SAFE_USERNAME.test(u)) throw badRequest(`${field}: with rotation_statements, a username may only hold letters, digits and "_.@+-"`);
}

/** The users the input names, in order (single: [username]; alternating: usernames). */
function usersOf(strategy: RotationStrategy, input: StaticRoleInput): string[] | null {
  const username = input.username?.trim();
  if (strategy === 'single') {
    if (input.usernames !== undefined && input.usernames.length > 0) throw badRequest('usernames: only with rotation_strategy "alternating"; use username');
    return username === undefined ? null : [username];
  }
  if (input.usernames === undefined) {
    if (username !== undefined) throw badRequest('usernames: rotation_strategy "alternating" needs two users, e.g. usernames: ["app_a", "app_b"]');
    return null;
  }
  if (input.usernames.length !== 2) throw badRequest('usernames: rotation_strategy "alternating" needs exactly two different users');
  if (username !== undefined && username !== '' && !input.usernames.includes(username)) throw badRequest('username: must be one of usernames');
  return input.usernames;
}

/** Applies the input over the stored role (field by field, as Vault does) and checks the result. */
function applyStaticRole(current: StaticRole, input: StaticRoleInput, isNew: boolean): StaticRole {
  const next: StaticRole = { ...current };
  if (input.db_name !== undefined) next.dbName = input.db_name.trim();
  if (input.rotation_strategy !== undefined) {
    if (!isNew && input.rotation_strategy !== current.strategy) throw badRequest('rotation_strategy: cannot be changed; delete the static role and create it again');
    next.strategy = input.rotation_strategy;
  }
  const users = usersOf(next.strategy, input);
  if (users !== null) {
    if (!isNew && users.join('\n') !== current.usernames.join('\n')) throw badRequest('username: cannot be changed on an existing static role');
    next.usernames = users;
  }
  if (input.rotation_statements !== undefined) next.rotationStatements = input.rotation_statements;
  if (input.credential_type !== undefined && input.credential_type.trim() !== 'password') {
    throw badRequest(`credential_type: "${input.credential_type.slice(0, 32)}" is not supported; only "password"`);
  }
  checkCredentialConfig(input.credential_config);
  const when = applyWhen(whenOf(next), { schedule: input.rotation_schedule, period: input.rotation_period }, { schedule: 'rotation_schedule', period: 'rotation_period' });
  next.rotationSchedule = when.schedule;
  next.rotationPeriod = when.periodSeconds;

  if (next.dbName === '') throw badRequest('db_name: required');
  configNameField(next.dbName, 'db_name');
  if (next.usernames.length === 0 || next.usernames.some((u) => u === '')) {
    throw badRequest(next.strategy === 'single' ? 'username: required' : 'usernames: rotation_strategy "alternating" needs two users');
  }
  for (const u of next.usernames) checkUsername(u, next.strategy === 'single' ? 'username' : 'usernames', next.rotationStatements.length > 0);
  if (when.schedule === '' && when.periodSeconds === 0) throw badRequest('rotation_period or rotation_schedule: one is required');
  return next;
}

/** Every user must exist on the target (a 400 otherwise), and none may be the broker's own user. */
async function checkUsers(deps: DbDeps, config: DbConfig, users: readonly string[]): Promise<void> {
  for (const u of users) {
    if (u === config.username) throw badRequest(`username: "${u}" is database config "${config.name}"'s own user; rotate it with rotate-root`);
  }
  await deps.pools.withClient(
    config,
    async (client) => {
      for (const u of users) {
        if (!(await roleExists(client, u))) throw badRequest(`username: user "${u}" does not exist on database "${config.name}"`);
      }
    },
    () => loadConfig(deps.storage, config.name),
  );
}

async function writeStaticRole(deps: DbDeps, req: EngineRequest<StaticRoleInput>): Promise<EngineResponse> {
  const name = roleNameParam(req.params);
  const key = staticRoleKey(name);
  const existing = await loadStaticRole(deps.storage, name);
  const draft = applyStaticRole(existing ?? newStaticRole(name), req.input, existing === null);
  deps.rotations.check(registryWhen(whenOf(draft)));
  const config = await loadConfig(deps.storage, draft.dbName);
  if (!config) throw badRequest(`db_name: no database config named "${draft.dbName}"`);
  if (!existing || existing.dbName !== draft.dbName) await checkUsers(deps, config, draft.usernames);

  // Under the role's lock: the credentials a rotation finished meanwhile are kept.
  const saved = await deps.storage.locked(key, async (s) => {
    const current = await loadStaticRole(s, name);
    if ((current === null) !== (existing === null)) throw badRequest(`static role "${name}" was created or deleted concurrently; try again`);
    const next = applyStaticRole(current ?? newStaticRole(name), req.input, current === null);
    await s.put(key, encode(next));
    return next;
  });
  await deps.rotations.upsert(STATIC_KIND, name, registryWhen(whenOf(saved)));
  // As Vault does, a new static role is rotated at once, so that static-creds has a password nobody else knows.
  if (!saved.current) await deps.rotations.runNow(STATIC_KIND, name);
  return {};
}

async function mustRole(deps: DbDeps, name: string): Promise<StaticRole> {
  const role = await loadStaticRole(deps.storage, name);
  if (!role) throw badRequest(`unknown static role: ${name}`);
  return role;
}

export function createStaticRolePaths(deps: DbDeps): PathDef[] {
  const exists = async (req: EngineRequest): Promise<boolean> => {
    try {
      return (await loadStaticRole(deps.storage, roleNameParam(req.params))) !== null;
    } catch {
      return false;
    }
  };
  /** Seconds until the next rotation: the stored due time (an operator may have changed it in sys/rotations), else the role's own. */
  const ttlOf = async (name: string, role: StaticRole): Promise<number> => {
    const now = deps.clock.now();
    const stored = await deps.rotations.nextRun(STATIC_KIND, name);
    return secondsUntil(stored ?? nextRun(whenOf(role), role.current ? new Date(role.current.rotatedAt) : null, now), now);
  };
  return [
    {
      pattern: 'static-roles',
      operations: {
        list: op(empty, async () => {
          const keys = await deps.storage.list(STATIC_ROLE_PREFIX);
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        }),
      },
    },
    {
      pattern: 'static-roles/:name',
      exists,
      operations: {
        read: op(empty, async ({ params }) => {
          const name = roleNameParam(params);
          const role = await loadStaticRole(deps.storage, name);
          if (!role) throw notFound();
          return { data: staticRoleWire(role, await ttlOf(name, role)) };
        }),
        update: op(staticRoleInput, (req) => writeStaticRole(deps, req)),
        delete: op(empty, async ({ params }) => {
          const name = roleNameParam(params);
          await deps.rotations.remove(STATIC_KIND, name);
          await deps.storage.delete([staticRoleKey(name)]);
          return {};
        }),
      },
    },
    {
      pattern: 'static-creds/:name',
      operations: {
        read: op(empty, async ({ params }) => {
          const name = roleNameParam(params);
          const role = await mustRole(deps, name);
          const served = await servedCredential(deps, role);
          if (!served) throw badRequest(`static role "${name}" has no credentials yet: its first rotation has not finished (see sys/rotations)`);
          return { data: staticCredsWire(role, served, await ttlOf(name, role)) };
        }),
      },
    },
    {
      pattern: 'rotate-role/:name',
      operations: {
        update: op(empty, async ({ params }) => {
          const name = roleNameParam(params);
          const role = await mustRole(deps, name);
          await deps.rotations.upsert(STATIC_KIND, name, registryWhen(whenOf(role)));
          await deps.rotations.runNow(STATIC_KIND, name);
          return {};
        }),
      },
    },
  ];
}
