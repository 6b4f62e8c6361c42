/** role/:name (read, write, delete) and LIST role: which service accounts may log in and what token they get. */
import { z } from 'zod';
import { badRequest } from '../../../lib/errors.ts';
import { applyTokenFields, stringListField, tokenFieldsShape } from '../../../lib/role-token-fields.ts';
import type { PathDef } from '../../../core/engine.ts';
import { namedRecordPaths } from '../../../core/kit/engine-records.ts';
import { k8sRoleSchema, newRole, ROLE_PREFIX, roleName, roleWire, type K8sDeps, type K8sRole } from '../model.ts';

const roleInput = z.object({
  bound_service_account_names: stringListField.optional(),
  bound_service_account_namespaces: stringListField.optional(),
  audience: z.string().max(1024).optional(),
  // Vault: "" means the default (serviceaccount_uid) on a role that has none; here it keeps the role's value.
  alias_name_source: z.enum(['serviceaccount_uid', 'serviceaccount_name', ''], { error: 'must be "serviceaccount_uid" or "serviceaccount_name"' }).optional(),
  // Namespaces chosen by label need the Kubernetes API's namespace list, which sealbox does not read.
  bound_service_account_namespace_selector: z
    .string()
    .max(4096)
    .refine((v) => v.trim() === '', { error: 'namespace label selectors are not supported; list the namespaces in bound_service_account_namespaces' })
    .optional(),
  ...tokenFieldsShape,
});
type RoleInput = z.output<typeof roleInput>;

const cleanList = (list: readonly string[]): string[] => [...new Set(list.map((s) => s.trim()).filter((s) => s.length > 0))];

/** Applies the given fields over the stored role (or a new one) and checks the result as Vault does. */
export function applyRole(current: K8sRole, input: RoleInput): K8sRole {
  const role: K8sRole = {
    boundServiceAccountNames: input.bound_service_account_names ? cleanList(input.bound_service_account_names) : current.boundServiceAccountNames,
    boundServiceAccountNamespaces: input.bound_service_account_namespaces
      ? cleanList(input.bound_service_account_namespaces)
      : current.boundServiceAccountNamespaces,
    audience: input.audience?.trim() ?? current.audience,
    aliasNameSource: input.alias_name_source || current.aliasNameSource,
    token: applyTokenFields(current.token, input),
  };
  if (role.boundServiceAccountNames.length === 0) throw badRequest('"bound_service_account_names" can not be empty');
  if (role.boundServiceAccountNamespaces.length === 0) throw badRequest('"bound_service_account_namespaces" can not be empty');
  for (const [field, list] of [['bound_service_account_names', role.boundServiceAccountNames], ['bound_service_account_namespaces', role.boundServiceAccountNamespaces]] as const) {
    if (list.length > 1 && list.includes('*')) throw badRequest(`${field}: can not mix "*" with values`);
  }
  if (role.boundServiceAccountNames.includes('*') && role.boundServiceAccountNamespaces.includes('*')) {
    throw badRequest('bound_service_account_names and bound_service_account_namespaces can not both be "*"');
  }
  return role;
}

export function createRolePaths(deps: K8sDeps): PathDef[] {
  return namedRecordPaths<K8sRole, typeof roleInput>({
    storage: deps.storage,
    collection: 'role',
    prefix: ROLE_PREFIX,
    name: (raw) => roleName({ name: raw }),
    input: roleInput,
    record: k8sRoleSchema,
    apply: (current, input) => applyRole(current ?? newRole(), input),
    wire: roleWire,
  });
}
