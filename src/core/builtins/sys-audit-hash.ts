import { z } from 'zod';
import { op, type PathDef } from '../engine.ts';

/** sys/audit-hash/:name {input}: the HMAC the audit log stores for a string, so auditors can search for a value. */
export function sysAuditHashPaths(deps: { hmac: () => (s: string) => string }): PathDef[] {
  return [
    {
      pattern: 'audit-hash/:name',
      operations: {
        update: op(z.object({ input: z.string().max(1024 * 1024) }), async ({ input }) => ({ data: { hash: deps.hmac()(input.input) } })),
      },
    },
  ];
}
