/**
 * rotate-config/*path: the rotation policy of a generated KV secret (issue 7). sealbox's own path (Vault's KV has
 * none): `POST {key, generator, schedule | period}` registers the rotation `<mount>rotate/<path>` in sys/rotations;
 * each run writes a new version whose `key` field holds a fresh value; with `destroy_previous` its retire step destroys
 * the version it replaced once the consumers of data/<path> acknowledged the new one. GET reads the policy, DELETE removes it.
 */
import { z } from 'zod';
import { notFound, badRequest } from '../../../lib/errors.ts';
import { parseDuration } from '../../../lib/durations.ts';
import { op, type EngineDeps, type PathDef } from '../../../core/engine.ts';
import { generatorField, generatorWire, parseGenerator } from '../generator.ts';
import { durationField } from '../input.ts';
import { encode, secretPath } from '../model.ts';
import { loadPolicy, policyKey, ROTATION_KIND, type RotationPolicy } from '../rotation.ts';

const configInput = z.object({
  key: z.string().min(1, { error: 'key: must not be empty' }).max(256).default('password'),
  generator: generatorField,
  schedule: z.string().max(256).optional(),
  period: durationField.optional(),
  /** Issue 20: the retire step destroys the version a rotation replaced, once its consumers moved on (or the grace ended). */
  destroy_previous: z.boolean({ error: 'destroy_previous: must be a boolean' }).default(false),
});

const wire = (p: RotationPolicy) => ({
  key: p.key,
  generator: generatorWire(p.generator),
  schedule: p.schedule,
  period: p.periodSeconds,
  destroy_previous: p.destroyPrevious,
});

export function createRotateConfigPaths(deps: Pick<EngineDeps, 'storage' | 'rotations'>): PathDef[] {
  return [
    {
      pattern: 'rotate-config/*path',
      operations: {
        read: op(z.object({}), async ({ params }) => {
          const policy = await loadPolicy(deps.storage, secretPath(params));
          if (!policy) throw notFound();
          return { data: wire(policy) };
        }),
        update: op(configInput, async ({ params, input }) => {
          const path = secretPath(params);
          const generator = parseGenerator(input.generator);
          if (input.schedule !== undefined && input.period !== undefined) throw badRequest('give schedule (cron) or period, not both');
          const schedule = input.schedule?.trim() ? input.schedule.trim() : null;
          const periodSeconds = input.period !== undefined ? parseDuration(input.period, 'period') : null;
          if (periodSeconds !== null && periodSeconds < 1) throw badRequest('period: must be at least 1s');
          const policy: RotationPolicy = { key: input.key, generator, schedule, periodSeconds, destroyPrevious: input.destroy_previous };
          // A bad cron is refused by upsert (400) before anything is stored. The next run is at least one slot away,
          // so the policy is in place before the rotation first looks for it.
          await deps.rotations.upsert(ROTATION_KIND, path, { ...(schedule ? { schedule } : {}), ...(periodSeconds ? { periodSeconds } : {}) });
          await deps.storage.put(policyKey(path), encode(policy));
          return { data: wire(policy) };
        }),
        delete: op(z.object({}), async ({ params }) => {
          const path = secretPath(params);
          await deps.rotations.remove(ROTATION_KIND, path);
          await deps.storage.delete([policyKey(path)]);
          return {};
        }),
      },
    },
  ];
}
