import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import { hmacScalar } from '../audit/entry.ts';
import { op, type PathDef } from '../engine.ts';

const TYPES = ['string', 'number', 'boolean'] as const;

/**
 * sys/audit-hash/:name {input, type?}: the HMAC the audit log stores for a value, so auditors can search for it.
 * A JSON number or boolean input is hashed as that type (`hmac-sha256:number:…`); `type` hashes a string input as
 * the number or boolean it spells ("918273" with type=number), for clients that send every field as a string.
 */
export function sysAuditHashPaths(deps: { hmac: () => (s: string) => string }): PathDef[] {
  const input = z.object({
    input: z.union([z.string().max(1024 * 1024), z.number().finite(), z.boolean()], { error: 'must be a string, number or boolean' }),
    type: z.enum(TYPES, { error: `must be one of ${TYPES.join(', ')}` }).optional(),
  });
  return [
    {
      pattern: 'audit-hash/:name',
      operations: {
        update: op(input, async ({ input: { input: value, type } }) => {
          let v: string | number | boolean = value;
          if (type === 'number' && typeof v === 'string') {
            const n = Number(v.trim());
            if (v.trim() === '' || !Number.isFinite(n)) throw badRequest('input: is not a number');
            v = n;
          } else if (type === 'boolean' && typeof v === 'string') {
            if (v !== 'true' && v !== 'false') throw badRequest('input: must be true or false');
            v = v === 'true';
          } else if (type === 'string') {
            v = String(v);
          }
          return { data: { hash: hmacScalar(v, deps.hmac()) } };
        }),
      },
    },
  ];
}
