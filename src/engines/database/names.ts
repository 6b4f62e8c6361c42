/** Config and role names: the only user-chosen identifiers that reach storage keys and lease ids. */
import { badRequest } from '../../lib/errors.ts';
import { checkName } from '../../lib/names.ts';

/** The shared name rule (lib/names.ts), at most 64 characters: role names go into PostgreSQL usernames. */
function checked(value: string | undefined, what: string): string {
  const name = checkName(value, what);
  if (name.length > 64) throw badRequest(`${what}: must be at most 64 characters`);
  return name;
}

/** The `:name` segment as a config (connection) name. */
export const configNameParam = (params: Readonly<Record<string, string>>): string => checked(params.name, 'config name');
/** The `:name` segment as a role name. */
export const roleNameParam = (params: Readonly<Record<string, string>>): string => checked(params.name, 'role name');
/** A config name given in a body field (a role's `db_name`). */
export const configNameField = (value: string, field: string): string => checked(value, field);
