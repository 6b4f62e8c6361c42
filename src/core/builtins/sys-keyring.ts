import { z } from 'zod';
import type { Barrier } from '../barrier/barrier.ts';
import { op, type PathDef } from '../engine.ts';
import type { KeyringRewrap } from '../barrier/keyring-rewrap.ts';

const keyStatusWire = (s: { term: number; installTime: Date }) => ({
  term: s.term,
  install_time: s.installTime.toISOString(),
  encryptions: null,
});

const termField = z.union([z.number().int().min(1).max(2 ** 31 - 1), z.string().regex(/^\d{1,10}$/).transform(Number)], {
  error: 'term: must be a key term number (see sys/key-status)',
});

/**
 * sys/rotate adds a keyring term; sys/key-status reports the current one (Vault's fields) plus the progress of the
 * background rewrap; sys/keyring/retire deletes an old term once nothing uses it.
 */
export function sysKeyringPaths(deps: { barrier: Barrier; rewrap?: KeyringRewrap }): PathDef[] {
  const { rewrap } = deps;
  const rotate = op(z.object({}), async () => {
    await deps.barrier.rotate();
    return {};
  });
  const paths: PathDef[] = [
    { pattern: 'rotate', sudo: true, operations: { update: rotate } },
    {
      pattern: 'key-status',
      operations: {
        read: op(z.object({}), async () => {
          const base = keyStatusWire(deps.barrier.keyStatus());
          if (!rewrap) return { data: base };
          const s = await rewrap.status();
          return {
            data: {
              ...base,
              rewrap: { pending_values: s.pendingValues, done_values: s.doneValues, old_terms_in_use: s.oldTermsInUse, retirable_terms: s.retirableTerms },
            },
          };
        }),
      },
    },
  ];
  if (rewrap) {
    paths.push({
      pattern: 'keyring/retire',
      sudo: true,
      operations: {
        update: op(z.object({ term: termField }), async ({ input }) => {
          await rewrap.retire(input.term);
          return { data: { retired: input.term } };
        }),
      },
    });
  }
  return paths;
}
