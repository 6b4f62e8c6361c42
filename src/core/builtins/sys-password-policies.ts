/** sys/policies/password/:name and its /generate, as Vault has them. */
import { z } from 'zod';
import type { Random } from '../../lib/random.ts';
import { notFound } from '../../lib/errors.ts';
import type { PasswordPolicies } from '../integrity/password-policies.ts';
import { checkName } from '../../lib/names.ts';
import { op, type PathDef } from '../engine.ts';
import { generatePassword, parsePasswordPolicy } from '../policy/passwords.ts';
import { decodeIfBase64 } from './sys-policies.ts';

const nameOf = (raw: string | undefined): string => {
  const name = raw ?? '';
  checkName(name, 'password policy name');
  return name;
};

export function sysPasswordPoliciesPaths(deps: { store: PasswordPolicies; random: Random }): PathDef[] {
  return [
    {
      pattern: 'policies/password',
      operations: {
        list: op(z.object({}), async () => {
          const keys = await deps.store.list();
          if (keys.length === 0) throw notFound();
          return { data: { keys } };
        }),
      },
    },
    {
      pattern: 'policies/password/:name',
      operations: {
        read: op(z.object({}), async ({ params }) => {
          const p = await deps.store.get(nameOf(params.name));
          if (!p) throw notFound();
          return { data: { policy: p.policy.document } };
        }),
        update: op(z.object({ policy: z.string({ error: 'must be a password policy document (HCL or JSON)' }).min(1).max(64 * 1024) }), async ({ params, input }) => {
          const name = nameOf(params.name);
          const document = decodeIfBase64(input.policy);
          const parsed = parsePasswordPolicy(document);
          await deps.store.put({ name, policy: { document, ...parsed } });
          return {};
        }),
        delete: op(z.object({}), async ({ params }) => {
          await deps.store.delete(nameOf(params.name));
          return {};
        }),
      },
    },
    {
      pattern: 'policies/password/:name/generate',
      operations: {
        read: op(z.object({}), async ({ params }) => {
          const p = await deps.store.get(nameOf(params.name));
          if (!p) throw notFound();
          return { data: { password: generatePassword(p.policy, deps.random) } };
        }),
      },
    },
  ];
}
