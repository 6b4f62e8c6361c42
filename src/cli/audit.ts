import { auditPublicKey, searchAuditLog, type AuditEntry, type SearchFilters } from './audit-api.ts';
import { EXPORT_USAGE, runExport } from './audit-export.ts';
import { CHECKPOINT_USAGE, PROVE_USAGE, runCheckpoint, runProve, runVerify, VERIFY_USAGE } from './audit-tree-commands.ts';
import { LINEAGE_USAGE, runLineage } from './audit-lineage.ts';
import { runWitness, WITNESS_USAGE } from './audit-witness.ts';
import { ApiError, EXIT_OK, UsageError } from './errors.ts';
import { boolFlag, formatFlag, intFlag, parseFlags, stringFlag, type FlagSpecs, type ParsedFlags } from './flags.ts';
import { Client, clientConfigFromEnv } from './http.ts';
import { cell, json, renderTable } from './output.ts';
import { ENV_HELP } from './usage.ts';
import { durationSeconds } from '../lib/durations.ts';
import { runGroup, type Command, type Group } from './command.ts';

type Env = Readonly<Record<string, string | undefined>>;

export const AUDIT_USAGE = `usage: sealbox audit <command> [options]

Search, follow, export, prove and verify the tamper-evident audit log (a Merkle tree log with signed checkpoints).

Commands:
  search       list the entries that match filters, oldest first (one page; continue with -after)
  tail         print entries as they are recorded, until Ctrl-C
  verify [-anchor FILE] [-witness-key FILE]...
               have the server walk the whole log; check the anchor and witnesses here
  verify -file FILE [-public-key KEY] [-anchor FILE]
               check an export offline, without the server
  checkpoint   print the latest signed checkpoint (save it as an anchor)
  prove SEQ    check that entry SEQ is included in the latest signed checkpoint
  lineage -username U|-serial S|-lease-id L|-accessor A [-at TIME]
               which application held a credential, through which token and login
  witness -config FILE [-once]
               run a witness that checks consistency and cosigns checkpoints
  export -o FILE
               write the log and its signed checkpoints as JSON Lines
  public-key   print the Ed25519 public key that signs the checkpoints

Run "sealbox audit <command> -help" for a command's options.
"sealbox audit verify" exits 3 when the audit log does not verify.

${ENV_HELP}
`;

const FILTER_HELP = `  -since TIME          entries at or after TIME: RFC 3339 (2024-05-01T12:00:00Z) or a duration ago (15m, 2h, 7d)
  -until TIME          entries before TIME (same forms)
  -path-prefix PREFIX  request paths that start with PREFIX, e.g. secret/data/app/
  -accessor ACCESSOR   requests made with the token that has this accessor
  -operation OP        read, list, update, delete or patch
  -outcome OUTCOME     success, denied, client_error or server_error`;

const SEARCH_USAGE = `usage: sealbox audit search [options]

Lists audit entries matching every given filter, oldest first. Prints one page (-limit); when more match, the
command to fetch the next page is printed on stderr.

${FILTER_HELP}
  -limit N             entries per page (default 100, at most 1000)
  -after SEQ           only entries after sequence number SEQ (paging)
  -format FORMAT       table (default: seq, time, operation, path, accessor, outcome) or json ({entries, next})

${ENV_HELP}
`;

const TAIL_USAGE = `usage: sealbox audit tail [options]

Prints audit entries as they are recorded, until interrupted (Ctrl-C, exit 0). Starts at the current end of the log,
or at -since. Reads of the audit log made with this command's own token (its polling, among others) are not shown
unless -show-self is given.

${FILTER_HELP}
  -interval DURATION   time between polls (default 1s; e.g. 500ms, 5s)
  -show-self           also show audit-log reads made with this token
  -format FORMAT       table (default) or json (one JSON object per line)

${ENV_HELP}
`;

const PUBLIC_KEY_USAGE = `usage: sealbox audit public-key [-format table|json]

Prints the base64 Ed25519 public key that signs audit checkpoints (GET sys/audit-log/public-key). Keep a copy
somewhere the broker's operators cannot write, and give it to "sealbox audit verify -file" with -public-key.

${ENV_HELP}
`;

const FILTER_FLAGS: FlagSpecs = {
  since: { type: 'string' },
  until: { type: 'string' },
  'path-prefix': { type: 'string' },
  accessor: { type: 'string' },
  operation: { type: 'string' },
  outcome: { type: 'string' },
  format: { type: 'string' },
};

const OPERATIONS = ['read', 'list', 'update', 'delete', 'patch'];
const OUTCOMES = ['success', 'denied', 'client_error', 'server_error'];

/** `-since 15m` means 15 minutes ago; anything else must be a date the server will understand, sent as RFC 3339. */
export function parseTime(value: string, flag: string, now = Date.now()): string {
  const v = value.trim();
  const rel = /^(?:\d+(?:ms|[smhd]))+$/.test(v) ? durationMs(v) : undefined;
  if (rel !== undefined) return new Date(now - rel).toISOString();
  const t = Date.parse(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(t)) {
    throw new UsageError(`flag -${flag}: "${value}" is neither a time like 2024-05-01T12:00:00Z nor a duration like 15m`);
  }
  return new Date(t).toISOString();
}

/** "1h30m", "500ms", "2s" → milliseconds (undefined if it is not such a duration): lib/durations.ts' grammar. */
export function durationMs(v: string): number | undefined {
  const seconds = durationSeconds(v);
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}

function filtersFrom(f: ParsedFlags): SearchFilters {
  const out: SearchFilters = {};
  const since = stringFlag(f, 'since');
  const until = stringFlag(f, 'until');
  if (since !== undefined) out.since = parseTime(since, 'since');
  if (until !== undefined) out.until = parseTime(until, 'until');
  const prefix = stringFlag(f, 'path-prefix');
  if (prefix !== undefined) out.path_prefix = prefix.replace(/^\/+/, '');
  const accessor = stringFlag(f, 'accessor');
  if (accessor !== undefined) out.accessor = accessor;
  const op = stringFlag(f, 'operation');
  if (op !== undefined) {
    if (!OPERATIONS.includes(op)) throw new UsageError(`flag -operation must be one of ${OPERATIONS.join(', ')}`);
    out.operation = op;
  }
  const outcome = stringFlag(f, 'outcome');
  if (outcome !== undefined) {
    if (!OUTCOMES.includes(outcome)) throw new UsageError(`flag -outcome must be one of ${OUTCOMES.join(', ')}`);
    out.outcome = outcome;
  }
  return out;
}

const TABLE_HEADER = ['SEQ', 'TIME', 'OPERATION', 'PATH', 'ACCESSOR', 'OUTCOME'] as const;
const tableRow = (e: AuditEntry): string[] => [String(e.seq), cell(e.time), cell(e.operation), cell(e.path), cell(e.accessor), cell(e.outcome)];

/** Rebuilds the command line for the next page, for the hint on stderr. */
function nextPageHint(argv: readonly string[], next: number): string {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (/^--?after(=|$)/.test(a)) {
      if (!a.includes('=')) i++;
      continue;
    }
    kept.push(/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`);
  }
  return `sealbox audit search ${[...kept, `-after=${next}`].join(' ')}`;
}

async function search(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, { ...FILTER_FLAGS, limit: { type: 'string' }, after: { type: 'string' } });
  if (f.help) return help(SEARCH_USAGE);
  noPositional(f);
  const format = formatFlag(f);
  const filters = filtersFrom(f);
  const limit = intFlag(f, 'limit', 1, 1_000_000);
  const after = intFlag(f, 'after', 0, Number.MAX_SAFE_INTEGER);
  const client = new Client(clientConfigFromEnv(env));
  try {
    const page = await searchAuditLog(client, filters, limit, after);
    if (format === 'json') {
      process.stdout.write(json(page));
    } else if (page.entries.length === 0) {
      process.stderr.write('No entries found.\n');
    } else {
      process.stdout.write(renderTable(TABLE_HEADER, page.entries.map(tableRow)));
    }
    if (page.next !== null && format === 'table') process.stderr.write(`More entries: ${nextPageHint(argv, page.next)}\n`);
    return EXIT_OK;
  } finally {
    client.close();
  }
}

/** Streams rows whose column widths only grow, so that consecutive polls stay roughly aligned. */
class StreamTable {
  private readonly widths: number[] = [6, 24, 9, 24, 24];
  private headerDone = false;
  write(rows: readonly (readonly string[])[]): string {
    let out = '';
    const line = (r: readonly string[]) =>
      r
        .map((c, i) => {
          if (i === r.length - 1) return c;
          this.widths[i] = Math.max(this.widths[i] ?? 0, c.length);
          return c.padEnd(this.widths[i] ?? 0);
        })
        .join('  ')
        .trimEnd() + '\n';
    if (!this.headerDone) {
      out += line(TABLE_HEADER);
      this.headerDone = true;
    }
    for (const r of rows) out += line(r);
    return out;
  }
}

/** The accessor of our own token, so that `tail` can hide its own polling (lookup-self is allowed to every token). */
async function ownAccessor(client: Client): Promise<{ accessor: string | null; serverTime: number | null }> {
  try {
    const res = await client.request('GET', 'auth/token/lookup-self');
    const body = res.body as { data?: { accessor?: unknown } } | undefined;
    const accessor = typeof body?.data?.accessor === 'string' ? body.data.accessor : null;
    const date = typeof res.headers.date === 'string' ? Date.parse(res.headers.date) : NaN;
    return { accessor, serverTime: Number.isNaN(date) ? null : date };
  } catch (e) {
    if (e instanceof ApiError && e.status === null) throw e; // unreachable server: no point polling
    return { accessor: null, serverTime: null };
  }
}

const SELF_PATHS = ['sys/audit-log', 'auth/token/lookup-self'];

async function tail(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, { ...FILTER_FLAGS, interval: { type: 'string' }, 'show-self': { type: 'boolean' } });
  if (f.help) return help(TAIL_USAGE);
  noPositional(f);
  const format = formatFlag(f);
  const filters = filtersFrom(f);
  const intervalRaw = stringFlag(f, 'interval') ?? '1s';
  const intervalMs = /^\d+$/.test(intervalRaw) ? Number(intervalRaw) * 1000 : durationMs(intervalRaw);
  if (intervalMs === undefined || intervalMs < 100 || intervalMs > 3_600_000) {
    throw new UsageError(`flag -interval must be a duration between 100ms and 1h, such as 1s or 500ms`);
  }
  const showSelf = boolFlag(f, 'show-self') ?? false;
  const client = new Client(clientConfigFromEnv(env));
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  process.once('SIGINT', onSigint);
  process.once('SIGTERM', onSigint);
  try {
    const self = await ownAccessor(client);
    // Start at the end of the log: the server's clock (its Date header, whole seconds) avoids skew with ours.
    if (filters.since === undefined) filters.since = new Date(self.serverTime ?? Date.now()).toISOString();
    const table = new StreamTable();
    let cursor: number | undefined;
    while (!stop.signal.aborted) {
      // Once we have a cursor, sequence numbers (not clocks) decide what is new.
      const q: SearchFilters = cursor === undefined ? filters : { ...filters, since: undefined };
      const page = await searchAuditLog(client, q, 1000, cursor);
      const last = page.entries.at(-1);
      if (last) cursor = Math.max(cursor ?? 0, last.seq);
      const shown = page.entries.filter(
        (e) => showSelf || self.accessor === null || e.accessor !== self.accessor || !SELF_PATHS.some((p) => (e.path ?? '').startsWith(p)),
      );
      if (shown.length > 0) {
        if (format === 'json') process.stdout.write(shown.map((e) => `${JSON.stringify(e)}\n`).join(''));
        else process.stdout.write(table.write(shown.map(tableRow)));
      }
      if (page.next !== null) continue; // more already waiting: no pause
      await sleep(intervalMs, stop.signal);
    }
    return EXIT_OK;
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigint);
    client.close();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

async function publicKey(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, { format: { type: 'string' } });
  if (f.help) return help(PUBLIC_KEY_USAGE);
  noPositional(f);
  const format = formatFlag(f);
  const client = new Client(clientConfigFromEnv(env));
  try {
    const k = await auditPublicKey(client);
    process.stdout.write(format === 'json' ? json(k) : `${k.public_key}\n`);
    return EXIT_OK;
  } finally {
    client.close();
  }
}

function noPositional(f: ParsedFlags): void {
  if (f.positional.length > 0) throw new UsageError(`unexpected argument "${f.positional[0] ?? ''}"`);
}

function help(text: string): number {
  process.stdout.write(text);
  return EXIT_OK;
}

const command = (run: Command['run'], usage: string): Command => ({ summary: '', usage, run });

/** `sealbox audit <command>`: dispatched like every other command group (command.ts), own properties only. */
const AUDIT_GROUP: Group = {
  summary: 'search, tail, export and verify the audit log',
  usage: AUDIT_USAGE,
  commands: {
    search: command(search, SEARCH_USAGE),
    tail: command(tail, TAIL_USAGE),
    verify: command(runVerify, VERIFY_USAGE),
    checkpoint: command(runCheckpoint, CHECKPOINT_USAGE),
    prove: command(runProve, PROVE_USAGE),
    lineage: command(runLineage, LINEAGE_USAGE),
    witness: command((argv) => runWitness(argv), WITNESS_USAGE),
    export: command(runExport, EXPORT_USAGE),
    'public-key': command(publicKey, PUBLIC_KEY_USAGE),
  },
};

/** `sealbox audit …`: returns the exit code. */
export const runAudit = (argv: readonly string[], env: Env): Promise<number> => runGroup('audit', AUDIT_GROUP, argv, env);
