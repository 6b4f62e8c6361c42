/** roles/:name (read, write, delete), LIST roles: what a `creds` request creates on which config. */
import { z } from 'zod';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { op, type EngineRequest, type EngineResponse, type PathDef } from '../../../core/engine.ts';
import type { DbDeps } from '../deps.ts';
import { durationField, shortString, statementsField } from '../input.ts';
import { encode, loadConfig, loadRole, roleKey, roleWire, type DbRole } from '../model.ts';
import { configNameField, roleNameParam } from '../names.ts';

const roleInput = z.object({
  db_name: shortString(256).optional(),
  creation_statements: statementsField.optional(),
  revocation_statements: statementsField.optional(),
  renew_statements: statementsField.optional(),
  rollback_statements: statementsField.optional(),
  default_group: shortString(256).optional(),
  default_ttl: durationField.optional(),
  max_ttl: durationField.optional(),
});
type RoleInput = z.output<typeof roleInput>;

const empty = z.object({});

function newRole(name: string): DbRole {
  return {
    name,
    dbName: '',
    creationStatements: [],
    revocationStatements: [],
    renewStatements: [],
    rollbackStatements: [],
    defaultGroup: '',
    defaultTtl: 0,
    maxTtl: 0,
  };
}

/** Applies the given fields over the stored role, then checks the role as a whole. */
function applyRole(current: DbRole, input: RoleInput): DbRole {
  const next: DbRole = { ...current };
  if (input.db_name !== undefined) next.dbName = input.db_name.trim();
  if (input.creation_statements !== undefined) next.creationStatements = input.creation_statements;
  if (input.revocation_statements !== undefined) next.revocationStatements = input.revocation_statements;
  if (input.renew_statements !== undefined) next.renewStatements = input.renew_statements;
  if (input.rollback_statements !== undefined) next.rollbackStatements = input.rollback_statements;
  if (input.default_group !== undefined) next.defaultGroup = input.default_group.trim();
  if (input.default_ttl !== undefined) next.defaultTtl = parseDuration(input.default_ttl, 'default_ttl');
  if (input.max_ttl !== undefined) next.maxTtl = parseDuration(input.max_ttl, 'max_ttl');

  if (next.dbName === '') throw badRequest('db_name: required');
  configNameField(next.dbName, 'db_name');
  if (Buffer.byteLength(next.defaultGroup) > 63 || next.defaultGroup.includes('\u0000')) {
    throw badRequest('default_group: must be a PostgreSQL role name (at most 63 bytes)');
  }
  if (next.creationStatements.length === 0 && next.defaultGroup === '') {
    throw badRequest('creation_statements or default_group: one is required (default_group makes each user a member of that group role)');
  }
  if (next.maxTtl > 0 && next.defaultTtl > next.maxTtl) throw badRequest('default_ttl: cannot be greater than max_ttl');
  return next;
}

async function writeRole(deps: DbDeps, req: EngineRequest<RoleInput>): Promise<EngineResponse> {
  const name = roleNameParam(req.params);
  const role = applyRole((await loadRole(deps.storage, name)) ?? newRole(name), req.input);
  if (!(await loadConfig(deps.storage, role.dbName))) throw badRequest(`db_name: no database config named "${role.dbName}"`);
  await deps.storage.locked(roleKey(name), (s) => s.put(roleKey(name), encode(role)));
  return {};
}

export function createRolePaths(deps: DbDeps): PathDef[] {
  const exists = async (req: EngineRequest): Promise<boolean> => {
    try {
      return (await loadRole(deps.storage, roleNameParam(req.params))) !== null;
    } catch {
      return false;
    }
  };
  return [
    {
      pattern: 'roles',
      operations: {
        list: op(empty, async () => {
          const keys = await deps.storage.list('role/');
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        }),
      },
    },
    {
      pattern: 'roles/:name',
      exists,
      operations: {
        read: op(empty, async ({ params }) => {
          const role = await loadRole(deps.storage, roleNameParam(params));
          if (!role) throw notFound();
          return { data: roleWire(role) };
        }),
        update: op(roleInput, (req) => writeRole(deps, req)),
        delete: op(empty, async ({ params }) => {
          await deps.storage.delete([roleKey(roleNameParam(params))]);
          return {};
        }),
      },
    },
  ];
}
