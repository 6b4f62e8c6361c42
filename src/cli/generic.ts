import { apiPath, helpAsked, orNoValue, positionals, withClient, type Command, type Env } from './command.ts';
import { EXIT_API, EXIT_OK, UsageError } from './errors.ts';
import { boolFlag, formatFlag, parseFlags } from './flags.ts';
import { parseKeyValues, stdinReader } from './kv-args.ts';
import { json } from './output.ts';
import { isObject, OUTPUT_FLAGS, OUTPUT_HELP, outputOptions, printAnswer, printWarnings, renderKeys } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox read|write|list|delete PATH`: the raw API, for any path, like `vault read` and friends. */

const DATA_HELP = `Data arguments:
  key=value            the text after the first "=" (values may contain "=")
  key=@FILE            the contents of FILE
  key=-                the value read from stdin (one trailing newline removed)
  -                    a JSON object read from stdin
  A key given twice becomes a list. Prefer @FILE or - for secret values: the command line is kept in shell history.`;

const READ_USAGE = `usage: sealbox read [options] PATH [key=value ...]

Reads PATH (GET /v1/PATH) and prints its data. key=value arguments are sent as query parameters.

${OUTPUT_HELP}

${ENV_HELP}
`;

const WRITE_USAGE = `usage: sealbox write [options] PATH [DATA ...]

Writes the data to PATH (PUT /v1/PATH) and prints the answer, if any.

  -force, -f           write even without data (for endpoints that take none, e.g. sys/rotate)
${OUTPUT_HELP}

${DATA_HELP}

${ENV_HELP}
`;

const LIST_USAGE = `usage: sealbox list [-format table|json] PATH

Lists the keys under PATH (GET /v1/PATH?list=true). Keys ending in "/" have keys under them.
With -format=json, prints the keys as a JSON array, like "vault list".

${ENV_HELP}
`;

const DELETE_USAGE = `usage: sealbox delete [options] PATH [key=value ...]

Deletes PATH (DELETE /v1/PATH). key=value arguments are sent as query parameters.

  -format FORMAT       table (default) or json

${ENV_HELP}
`;

const queryOf = (data: Record<string, unknown>): Record<string, string> =>
  Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Array.isArray(v) ? v.map(String).join(',') : String(v)]));

export const readCommand: Command = {
  summary: 'read any path',
  usage: READ_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, OUTPUT_FLAGS);
    if (helpAsked(f, READ_USAGE)) return 0;
    const o = outputOptions(f);
    const [raw = '', ...rest] = positionals(f, 1, Infinity, 'PATH');
    const path = apiPath(raw);
    const query = queryOf(await parseKeyValues(rest, stdinReader()));
    const res = await withClient(env, (c) => orNoValue(path, c.request('GET', path, query)));
    printAnswer(res.body, o);
    return 0;
  },
};

export const writeCommand: Command = {
  summary: 'write data to any path',
  usage: WRITE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { ...OUTPUT_FLAGS, force: { type: 'boolean', aliases: ['f'] } });
    if (helpAsked(f, WRITE_USAGE)) return 0;
    const o = outputOptions(f);
    const [raw = '', ...rest] = positionals(f, 1, Infinity, 'PATH');
    const path = apiPath(raw);
    if (rest.length === 0 && boolFlag(f, 'force') !== true) throw new UsageError('no data to write: give key=value arguments, or -force to write none');
    const data = await parseKeyValues(rest, stdinReader());
    const res = await withClient(env, (c) => c.request('PUT', path, {}, data));
    printAnswer(res.body, o, `Success! Data written to: ${path}`);
    return 0;
  },
};

export const listCommand: Command = {
  summary: 'list the keys under any path',
  usage: LIST_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, LIST_USAGE)) return 0;
    const format = formatFlag(f);
    const [raw = ''] = positionals(f, 1, 1, 'PATH');
    const path = apiPath(raw);
    const res = await withClient(env, (c) => orNoValue(path, c.request('GET', path, { list: 'true' })));
    return printKeys(res.body, format, path);
  },
};

/** A list answer: `Keys` and one key a line, or (JSON) the array of keys. No keys is "No value found", exit 2, like `vault list`. */
export function printKeys(body: unknown, format: 'table' | 'json', path: string): number {
  const data = isObject(body) && isObject(body.data) ? body.data : {};
  const keys = Array.isArray(data.keys) ? data.keys : [];
  if (format === 'json') {
    process.stdout.write(json(keys));
    return keys.length === 0 ? EXIT_API : EXIT_OK;
  }
  printWarnings(body);
  if (keys.length === 0) {
    process.stderr.write(`No value found at ${path}\n`);
    return EXIT_API;
  }
  process.stdout.write(renderKeys(keys));
  return EXIT_OK;
}

export const deleteCommand: Command = {
  summary: 'delete any path',
  usage: DELETE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, DELETE_USAGE)) return 0;
    const format = formatFlag(f);
    const [raw = '', ...rest] = positionals(f, 1, Infinity, 'PATH');
    const path = apiPath(raw);
    const query = queryOf(await parseKeyValues(rest, stdinReader()));
    const res = await withClient(env, (c) => c.request('DELETE', path, query));
    printAnswer(res.body, { format, field: undefined }, `Success! Data deleted (if it existed) at: ${path}`);
    return 0;
  },
};
