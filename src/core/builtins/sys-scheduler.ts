/**
 * sys/scheduler/jobs: the broker's own scheduled jobs (lease expiry, token tidy, engine maintenance, history
 * pruning) with their schedule, next and last run, pause switch and per-slot history. All need sudo.
 */
import { z } from 'zod';
import { badRequest, notFound } from '../../lib/errors.ts';
import type { JobRow, JobRunRow } from '../../storage/scheduler-store.ts';
import { op, type PathDef } from '../engine.ts';
import type { Scheduler } from '../jobs/scheduler.ts';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const jobWire = (j: JobRow) => ({
  id: j.name,
  schedule: j.schedule,
  paused: j.paused,
  next_run_at: iso(j.nextRunAt),
  last_run_at: iso(j.lastRunAt),
  last_status: j.lastStatus,
  last_error: j.lastError,
});
const runWire = (r: JobRunRow) => ({
  slot: r.slot.toISOString(),
  kind: r.kind,
  replica: r.replica,
  started_at: r.startedAt.toISOString(),
  finished_at: iso(r.finishedAt),
  status: r.status,
  error: r.error,
});
const boolish = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' });

export function sysSchedulerPaths(deps: { scheduler: Scheduler }): PathDef[] {
  const { scheduler } = deps;
  const known = (name: string | undefined): string => {
    if (!name || !scheduler.has(name)) throw notFound();
    return name;
  };
  const find = async (name: string): Promise<JobRow> => {
    const row = (await scheduler.list()).find((j) => j.name === name);
    if (!row) throw notFound();
    return row;
  };
  return [
    {
      pattern: 'scheduler/jobs',
      sudo: true,
      operations: {
        read: op(z.object({}), async () => ({ data: { jobs: (await scheduler.list()).map(jobWire) } })),
        list: op(z.object({}), async () => ({ data: { keys: (await scheduler.list()).map((j) => j.name) } })),
      },
    },
    {
      pattern: 'scheduler/jobs/:name',
      sudo: true,
      operations: {
        read: op(z.object({}), async ({ params }) => ({ data: jobWire(await find(known(params.name))) })),
        update: op(z.object({ paused: boolish.optional() }), async ({ params, input }) => {
          const name = known(params.name);
          if (input.paused === undefined) throw badRequest('paused: nothing to change');
          await scheduler.setPaused(name, input.paused);
          return { data: jobWire(await find(name)) };
        }),
      },
    },
    {
      pattern: 'scheduler/jobs/:name/run',
      sudo: true,
      operations: {
        update: op(z.object({}), async ({ params }) => {
          const outcome = await scheduler.runNow(known(params.name));
          return { data: { status: outcome } };
        }),
      },
    },
    {
      pattern: 'scheduler/jobs/:name/history',
      sudo: true,
      operations: {
        read: op(z.object({ limit: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional() }), async ({ params, input }) => {
          const runs = await scheduler.history(known(params.name), Math.min(Math.max(input.limit ?? 100, 1), 1000));
          return { data: { runs: runs.map(runWire) } };
        }),
      },
    },
  ];
}
