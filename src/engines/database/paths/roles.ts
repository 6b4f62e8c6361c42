/** roles/:name (read, write, delete), LIST roles: what a `creds` request creates on which config. */
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import type { PathDef } from '../../../core/engine.ts';
import { namedRecordPaths } from '../../../core/kit/engine-records.ts';
import type { DbDeps } from '../deps.ts';
import { checkCredentialConfig, credentialConfigField, durationField, shortString, statementsField } from '../input.ts';
import { dbRoleSchema, loadConfig, roleWire, type DbRole } from '../model.ts';
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
  // Vault: "password" (default), "rsa_private_key", "client_certificate"; sealbox makes passwords only.
  credential_type: shortString(64).optional(),
  credential_config: credentialConfigField.optional(),
  credential_sharing: z.enum(['none', 'identity'], { error: 'must be "none" or "identity"' }).optional(),
});
type RoleInput = z.output<typeof roleInput>;

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
  if (input.credential_type !== undefined && !['', 'password'].includes(input.credential_type.trim())) {
    throw badRequest(`credential_type: "${input.credential_type.slice(0, 32)}" is not supported; only "password"`);
  }
  checkCredentialConfig(input.credential_config);
  const next: DbRole = { ...current };
  if (input.db_name !== undefined) next.dbName = input.db_name.trim();
  if (input.creation_statements !== undefined) next.creationStatements = input.creation_statements;
  if (input.revocation_statements !== undefined) next.revocationStatements = input.revocation_statements;
  if (input.renew_statements !== undefined) next.renewStatements = input.renew_statements;
  if (input.rollback_statements !== undefined) next.rollbackStatements = input.rollback_statements;
  if (input.default_group !== undefined) next.defaultGroup = input.default_group.trim();
  if (input.default_ttl !== undefined) next.defaultTtl = parseDuration(input.default_ttl, 'default_ttl');
  if (input.max_ttl !== undefined) next.maxTtl = parseDuration(input.max_ttl, 'max_ttl');
  if (input.credential_sharing !== undefined) next.credentialSharing = input.credential_sharing;

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

export function createRolePaths(deps: DbDeps): PathDef[] {
  return namedRecordPaths<DbRole, typeof roleInput>({
    storage: deps.storage,
    collection: 'roles',
    prefix: 'role/',
    name: (raw) => roleNameParam({ name: raw }),
    input: roleInput,
    record: dbRoleSchema,
    apply: async (current, input, name, s) => {
      const role = applyRole(current ?? newRole(name), input);
      if (!(await loadConfig(s, role.dbName))) throw badRequest(`db_name: no database config named "${role.dbName}"`);
      return role;
    },
    wire: roleWire,
  });
}
