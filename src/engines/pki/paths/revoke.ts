/** revoke {serial_number}: adds the certificate to the CRL and answers with its revocation time. */
import { z } from 'zod';
import { op, type PathDef } from '../../../core/engine.ts';
import type { IssuerCache } from '../issuer.ts';
import type { PkiDeps } from '../model.ts';
import { revokeSerial } from '../revocation.ts';

const revokeInput = z.object({ serial_number: z.string({ error: 'serial_number: required' }).max(200) });

export function createRevokePaths(deps: PkiDeps, cache: IssuerCache): PathDef[] {
  return [
    {
      pattern: 'revoke',
      operations: {
        update: op(revokeInput, async ({ input }) => {
          const r = await revokeSerial(deps, cache, input.serial_number);
          const data: Record<string, unknown> = {
            revocation_time: r.revocationTime,
            ...(r.revocationTime > 0 ? { revocation_time_rfc3339: new Date(r.revocationTime * 1000).toISOString().replace('.000Z', 'Z'), state: 'revoked' } : {}),
          };
          return { data, ...(r.warnings.length > 0 ? { warnings: r.warnings } : {}) };
        }),
      },
    },
  ];
}
