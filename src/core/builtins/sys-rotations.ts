/** sys/rotations (CONTRACT §3 rotation row): list, read, change schedule or pause, run now, history. */
import { z } from 'zod';
import { parseDuration } from '../../lib/durations.ts';
import { badRequest, notFound } from '../../lib/errors.ts';
import type { RotationRow, RotationRunRow } from '../../storage/rotations-store.ts';
import { op, type PathDef } from '../engine.ts';
import type { RotationManager } from '../rotations/rotations.ts';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
const wire = (r: RotationRow) => ({
  id: r.id,
  target: r.target,
  kind: r.kind,
  schedule: r.schedule ?? (r.periodSeconds ? `every ${r.periodSeconds}s` : null),
  rotation_period: r.periodSeconds,
  next_run_at: iso(r.nextRunAt),
  last_run_at: iso(r.lastRunAt),
  last_status: r.lastStatus,
  last_error: r.lastError,
  paused: r.paused,
  in_progress: r.runId ? { run_id: r.runId, step: r.step } : null,
  grace: r.graceSeconds,
  retire_at: iso(r.retireAt),
});
const runWire = (r: RotationRunRow) => ({
  run_id: r.runId,
  slot: iso(r.slot),
  kind: r.kind,
  replica: r.replica,
  started_at: r.startedAt.toISOString(),
  finished_at: iso(r.finishedAt),
  status: r.status,
  step: r.step,
  error: r.error,
  consumers: r.consumers,
  // Every step with the time it was entered (a failed attempt: status "failed" and its error); [] for runs from before 0015.
  steps: r.steps.map((x) => ({ step: x.step, at: x.at.toISOString(), ...(x.status ? { status: x.status, error: x.error ?? null } : {}) })),
});
/** The retire step's grace: a duration ("15m", seconds), or null for the broker default. */
const graceField = z.union([z.null(), z.number().int().min(0).max(30 * 86400), z.string().max(32)]).transform((v) => {
  if (v === null || typeof v === 'number') return v;
  const seconds = parseDuration(v, 'grace');
  if (seconds > 30 * 86400) throw badRequest('grace: at most 30 days');
  return seconds;
});
const boolish = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], { error: 'must be true or false' });

export function sysRotationsPaths(deps: { rotations: RotationManager }): PathDef[] {
  const { rotations } = deps;
  const must = async (id: string | undefined): Promise<RotationRow> => {
    const row = id ? await rotations.get(id) : null;
    if (!row) throw notFound();
    return row;
  };
  const all = op(z.object({ list: z.unknown().optional() }), async (req) => {
    const rows = await rotations.list();
    if (req.operation === 'list') {
      if (rows.length === 0) throw notFound();
      return { data: { keys: rows.map((r) => r.id) } };
    }
    return { data: { rotations: rows.map(wire) } };
  });
  return [
    { pattern: 'rotations', operations: { read: all, list: all } },
    {
      pattern: 'rotations/*id/run',
      overrides: ['rotations/*id'],
      sudo: true,
      operations: {
        update: op(z.object({}), async ({ params }) => {
          const row = await must(params.id);
          const status = await rotations.runNow(row.id);
          const after = await must(row.id);
          return { data: { status, ...wire(after) } };
        }),
      },
    },
    {
      pattern: 'rotations/*id/history',
      overrides: ['rotations/*id'],
      sudo: true,
      operations: {
        read: op(z.object({ limit: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]).optional() }), async ({ params, input }) => {
          const row = await must(params.id);
          return { data: { runs: (await rotations.history(row.id, Math.min(Math.max(input.limit ?? 100, 1), 1000))).map(runWire) } };
        }),
      },
    },
    {
      pattern: 'rotations/*id',
      // Pausing or rescheduling turns rotation off as surely as deleting it: root-protected, like running it.
      sudo: true,
      operations: {
        read: op(z.object({}), async ({ params }) => {
          const row = await must(params.id);
          const retire = await rotations.retireView(row);
          return { data: { ...wire(row), consumers: retire, pending: retire?.pending ?? [], effective_grace: row.graceSeconds ?? rotations.defaultGraceSeconds } };
        }),
        update: op(z.object({ schedule: z.string().max(256).nullable().optional(), paused: boolish.optional(), grace: graceField.optional() }), async ({ params, input }) => {
          const row = await must(params.id);
          if (input.schedule === undefined && input.paused === undefined && input.grace === undefined) throw badRequest('nothing to change: give schedule, paused or grace');
          if (input.grace !== undefined) await rotations.setGrace(row.id, input.grace);
          if (input.schedule !== undefined || input.paused !== undefined) await rotations.setControls(row.id, { schedule: input.schedule === '' ? null : input.schedule, paused: input.paused });
          return { data: wire(await must(row.id)) };
        }),
      },
    },
  ];
}
