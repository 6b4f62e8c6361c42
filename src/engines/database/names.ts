/** Config and role names: the only user-chosen identifiers that reach storage keys and lease ids. */
import { badRequest } from '../../lib/errors.ts';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

function checked(value: string | undefined, what: string): string {
  const name = value ?? '';
  if (!NAME.test(name)) throw badRequest(`${what}: must be 1 to 64 characters of letters, digits, "_" and "-"`);
  return name;
}

/** The `:name` segment as a config (connection) name. */
export const configNameParam = (params: Readonly<Record<string, string>>): string => checked(params.name, 'config name');
/** The `:name` segment as a role name. */
export const roleNameParam = (params: Readonly<Record<string, string>>): string => checked(params.name, 'role name');
/** A config name given in a body field (a role's `db_name`). */
export const configNameField = (value: string, field: string): string => checked(value, field);
