/** roles/:name (read, write, delete) and LIST roles. A write replaces the whole role, as in Vault. */
import { op, type PathDef } from '../../../core/engine.ts';
import { byName } from '../params.ts';
import { notFound } from '../../../lib/errors.ts';
import { checkName, isName } from '../../../lib/names.ts';
import { empty } from '../input.ts';
import { decode, encode, roleKey, type PkiDeps } from '../model.ts';
import { buildRole, roleInput, roleWire, type Role } from '../role.ts';


export function roleName(raw: string): string {
  checkName(raw, 'role name');
  return raw;
}

export function createRolesPaths(deps: PkiDeps): PathDef[] {
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
      exists: async ({ params }) => isName(params.name ?? '') && (await deps.storage.get(roleKey(params.name ?? ''))) !== null,
      operations: {
        read: byName.op(empty, async ({ params }) => {
          const role = decode<Role>(await deps.storage.get(roleKey(params.name)));
          if (!role) throw notFound();
          return { data: roleWire(role) };
        }),
        update: byName.op(roleInput, async ({ params, input }) => {
          const name = params.name;
          const { role, warnings } = buildRole(input);
          await deps.storage.put(roleKey(name), encode(role));
          return { data: roleWire(role), ...(warnings.length > 0 ? { warnings } : {}) };
        }),
        delete: byName.op(empty, async ({ params }) => {
          await deps.storage.delete([roleKey(params.name)]);
          return {};
        }),
      },
    },
  ];
}
