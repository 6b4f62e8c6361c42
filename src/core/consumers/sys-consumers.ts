/** sys/consumers/ack (update) and sys/consumers?path= (read): acknowledgements of rotated secrets (issue 20 item 1). */
import { z } from 'zod';
import { badRequest } from '../../lib/errors.ts';
import { op, type PathDef } from '../engine.ts';
import type { ConsumerView, Consumers } from './consumers.ts';

const versionField = z.union([z.number(), z.string().regex(/^\d{1,15}$/, { error: 'must be a whole number' }).transform(Number)], { error: 'must be a whole number' });
const ackInput = z.object({ path: z.string({ error: 'required' }).max(1024), version: versionField });
const listInput = z.object({ path: z.string().max(1024).optional() });

const wire = (c: ConsumerView) => ({
  accessor: c.accessor,
  identity: c.identity,
  display_name: c.displayName,
  version: c.version,
  acknowledged_at: c.ackedAt.toISOString(),
  last_seen_at: c.lastSeenAt.toISOString(),
  live: c.live,
});

export function sysConsumersPaths(deps: { consumers: Consumers }): PathDef[] {
  return [
    {
      pattern: 'consumers/ack',
      operations: {
        update: op(ackInput, async ({ caller, input }) => {
          const row = await deps.consumers.ack(caller, input.path, input.version);
          return { data: { path: row.path, version: row.version, accessor: row.accessor, identity: row.identity } };
        }),
      },
    },
    {
      pattern: 'consumers',
      // Lists token accessors: root-protected, like sys/rotations.
      sudo: true,
      operations: {
        read: op(listInput, async ({ input }) => {
          if (!input.path) throw badRequest('path: required, e.g. sys/consumers?path=database/static-creds/app');
          const rows = await deps.consumers.list(input.path);
          return { data: { path: input.path.replace(/^\/+|\/+$/g, ''), consumers: rows.map(wire) } };
        }),
      },
    },
  ];
}
