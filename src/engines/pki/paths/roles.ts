/** roles/:name (read, write, delete) and LIST roles. A write replaces the whole role, as in Vault. */
import { op, type PathDef } from '../../../core/engine.ts';
import { badRequest, notFound } from '../../../lib/errors.ts';
import { empty } from '../input.ts';
import { decode, encode, roleKey, type PkiDeps } from '../model.ts';
import { buildRole, roleInput, roleWire, type Role } from '../role.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function roleName(raw: string): string {
  if (!NAME.test(raw)) throw badRequest(`invalid role name "${raw.slice(0, 64)}": use letters, digits, "_", "-" and "."`);
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
      exists: async ({ params }) => NAME.test(params.name ?? '') && (await deps.storage.get(roleKey(params.name ?? ''))) !== null,
      operations: {
        read: op(empty, async ({ params }) => {
          const role = decode<Role>(await deps.storage.get(roleKey(roleName(params.name ?? ''))));
          if (!role) throw notFound();
          return { data: roleWire(role) };
        }),
        update: op(roleInput, async ({ params, input }) => {
          const name = roleName(params.name ?? '');
          const { role, warnings } = buildRole(input);
          await deps.storage.put(roleKey(name), encode(role));
          return { data: roleWire(role), ...(warnings.length > 0 ? { warnings } : {}) };
        }),
        delete: op(empty, async ({ params }) => {
          await deps.storage.delete([roleKey(roleName(params.name ?? ''))]);
          return {};
        }),
      },
    },
  ];
}
