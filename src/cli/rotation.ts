import { groupUsage, helpAsked, positionals, withClient, type Command, type Env, type Group } from './command.ts';
import { ApiError } from './errors.ts';
import { formatFlag, intFlag, parseFlags } from './flags.ts';
import { cell, json, renderTable } from './output.ts';
import { isObject, printWarnings } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox rotation list|run|pause|resume|history`: scheduled rotations (sys/rotations, issue 7). */

const FORMAT_HELP = `  -format FORMAT       table (default) or json (the server's answer)`;
const ID_HELP = `ID is a rotation id as "sealbox rotation list" shows it, such as sys/keyring or database/static-roles/app.`;

const LIST_USAGE = `usage: sealbox rotation list [-format table|json]

Lists every rotation: its schedule, next and last run, last status, and whether it is paused.

${FORMAT_HELP}

${ENV_HELP}
`;

const RUN_USAGE = `usage: sealbox rotation run [-format table|json] ID

Runs a rotation now and waits for it (needs sudo on sys/rotations/ID/run). Exits 2 if the rotation fails; it is then
retried in the background, and "sealbox rotation list" shows the error.
${ID_HELP}

${FORMAT_HELP}

${ENV_HELP}
`;

const PAUSE_USAGE = `usage: sealbox rotation pause ID

Stops a rotation's scheduled runs (a run in progress finishes; "sealbox rotation run" still works).
${ID_HELP}

${ENV_HELP}
`;

const RESUME_USAGE = `usage: sealbox rotation resume ID

Resumes a paused rotation's schedule.
${ID_HELP}

${ENV_HELP}
`;

const HISTORY_USAGE = `usage: sealbox rotation history [-limit N] [-format table|json] ID

Prints a rotation's runs, newest first: when, on which replica, each step with its time (UTC; "!" marks a failed
attempt), how it ended, and the error of a failed run.
${ID_HELP}

  -limit N             at most N runs (1..1000, default 100)
${FORMAT_HELP}

${ENV_HELP}
`;

/** "database/static-roles/app" → the URL path below sys/rotations/, each segment escaped. */
const idPath = (id: string): string =>
  id
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .map(encodeURIComponent)
    .join('/');

const dataOf = (body: unknown): Record<string, unknown> => (isObject(body) && isObject(body.data) ? body.data : {});

/** "2025-01-02T03:04:05.000Z" → "2025-01-02 03:04:05Z" (UTC, as the schedules are). */
const when = (v: unknown): string => (typeof v === 'string' && v !== '' ? v.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-');

/** A run's steps: "create 12:00:01 -> set 12:00:02 -> set! 12:00:03" (times UTC, "!" a failed attempt); "-" for none. */
const stepsCell = (v: unknown): string => {
  const steps = Array.isArray(v) ? (v as unknown[]).filter(isObject) : [];
  if (steps.length === 0) return '-';
  const time = (at: unknown): string => (typeof at === 'string' ? (/T(\d\d:\d\d:\d\d)/.exec(at)?.[1] ?? '?') : '?');
  return steps.map((s) => `${cell(s.step)}${s.status === 'failed' ? '!' : ''} ${time(s.at)}`).join(' -> ');
};

const listCommand: Command = {
  summary: 'list rotations and their schedules',
  usage: LIST_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, LIST_USAGE)) return 0;
    const format = formatFlag(f);
    positionals(f, 0, 0, 'no arguments');
    const res = await withClient(env, (c) => c.request('GET', 'sys/rotations'));
    if (format === 'json') {
      process.stdout.write(json(res.body));
      return 0;
    }
    printWarnings(res.body);
    const rows = Array.isArray(dataOf(res.body).rotations) ? (dataOf(res.body).rotations as unknown[]).filter(isObject) : [];
    if (rows.length === 0) {
      process.stdout.write('No rotations.\n');
      return 0;
    }
    const table = rows.map((r) => [
      cell(r.id),
      cell(r.kind),
      cell(r.schedule ?? 'on demand'),
      when(r.next_run_at),
      when(r.last_run_at),
      cell(r.last_status ?? (isObject(r.in_progress) ? `running (${String(r.in_progress.step)})` : null)),
      r.paused === true ? 'yes' : 'no',
    ]);
    process.stdout.write(renderTable(['ID', 'KIND', 'SCHEDULE', 'NEXT RUN (UTC)', 'LAST RUN (UTC)', 'LAST STATUS', 'PAUSED'], table));
    return 0;
  },
};

const runCommand: Command = {
  summary: 'run a rotation now',
  usage: RUN_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, RUN_USAGE)) return 0;
    const format = formatFlag(f);
    const [id = ''] = positionals(f, 1, 1, 'ID');
    const res = await withClient(env, (c) => c.request('POST', `sys/rotations/${idPath(id)}/run`, {}, {}));
    const data = dataOf(res.body);
    if (format === 'json') process.stdout.write(json(res.body));
    if (data.status !== 'ok') {
      throw new ApiError(`rotation ${id} failed: ${typeof data.last_error === 'string' ? data.last_error : 'unknown error'}; it will be retried`, res.status);
    }
    if (format === 'table') process.stdout.write(`Success! Rotated ${cell(id)}\n`);
    return 0;
  },
};

function pauseCommand(paused: boolean): Command {
  const usage = paused ? PAUSE_USAGE : RESUME_USAGE;
  return {
    summary: paused ? "stop a rotation's scheduled runs" : 'resume a paused rotation',
    usage,
    async run(argv: readonly string[], env: Env): Promise<number> {
      const f = parseFlags(argv, {});
      if (helpAsked(f, usage)) return 0;
      const [id = ''] = positionals(f, 1, 1, 'ID');
      const res = await withClient(env, (c) => c.request('PUT', `sys/rotations/${idPath(id)}`, {}, { paused }));
      printWarnings(res.body);
      process.stdout.write(`Success! ${paused ? 'Paused' : 'Resumed'} rotation: ${cell(id)}\n`);
      return 0;
    },
  };
}

const historyCommand: Command = {
  summary: "show a rotation's runs",
  usage: HISTORY_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' }, limit: { type: 'string' } });
    if (helpAsked(f, HISTORY_USAGE)) return 0;
    const format = formatFlag(f);
    const limit = intFlag(f, 'limit', 1, 1000);
    const [id = ''] = positionals(f, 1, 1, 'ID');
    const res = await withClient(env, (c) => c.request('GET', `sys/rotations/${idPath(id)}/history`, { limit }));
    if (format === 'json') {
      process.stdout.write(json(res.body));
      return 0;
    }
    const runs = Array.isArray(dataOf(res.body).runs) ? (dataOf(res.body).runs as unknown[]).filter(isObject) : [];
    if (runs.length === 0) {
      process.stdout.write(`No runs of ${cell(id)} yet.\n`);
      return 0;
    }
    const table = runs.map((r) => [when(r.started_at), when(r.finished_at), cell(r.kind), cell(r.status), cell(r.status === 'running' ? r.step : null), cell(r.replica), stepsCell(r.steps), cell(r.error)]);
    process.stdout.write(renderTable(['STARTED (UTC)', 'FINISHED (UTC)', 'KIND', 'STATUS', 'STEP', 'REPLICA', 'STEPS', 'ERROR'], table));
    return 0;
  },
};

const commands = { list: listCommand, run: runCommand, pause: pauseCommand(true), resume: pauseCommand(false), history: historyCommand };

export const rotationGroup: Group = {
  summary: 'list, run, pause and resume rotations, and read their history',
  usage: groupUsage(
    'rotation',
    'Scheduled rotations: database static roles and root credentials, generated KV secrets, the barrier keyring (sys/keyring).',
    commands,
    `\n${ENV_HELP}\n`,
  ),
  commands,
};
