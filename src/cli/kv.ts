import { groupUsage, helpAsked, orNoValue, positionals, withClient, type Command, type Env, type Group } from './command.ts';
import { UsageError } from './errors.ts';
import { boolFlag, formatFlag, intFlag, listFlag, parseFlags, stringFlag, type FlagSpecs, type ParsedFlags } from './flags.ts';
import type { Client } from './http.ts';
import { parseKeyValues, stdinReader } from './kv-args.ts';
import { kvApiPath, kvDisplay, requireV2, resolveKvPath, type KvPath } from './kv-paths.ts';
import { printKeys } from './generic.ts';
import { json } from './output.ts';
import {
  dataPairs,
  fieldOf,
  isObject,
  OUTPUT_FLAGS,
  OUTPUT_HELP,
  outputOptions,
  printField,
  printWarnings,
  renderPairs,
  type Json,
  type PrintOptions,
} from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox kv …`: KV v2 secrets by their plain path (`secret/app/db`), like `vault kv`. */

const MOUNT_HELP = `  -mount MOUNT         the KV mount (then PATH is the path inside it); by default it is looked up from PATH`;

const DATA_HELP = `Data: key=value (values may contain "="), key=@FILE (the file's contents), key=- (stdin, one trailing newline
removed) or - alone (a JSON object on stdin). Prefer @FILE or - for secret values: the command line is kept in shell history.`;

const usage = (synopsis: string, text: string, flags: string): string => `usage: sealbox kv ${synopsis}

${text}

${flags}

${ENV_HELP}
`;

const GET_USAGE = usage('get [options] PATH', 'Prints the latest version of a secret (or -version=N), its metadata and its data.', `  -version N           read version N
${MOUNT_HELP}
${OUTPUT_HELP}`);
const PUT_USAGE = usage('put [options] PATH DATA...', `Writes a new version of a secret holding exactly DATA.\n\n${DATA_HELP}`, `  -cas N               write only if the current version is N (0: only if the secret does not exist)
${MOUNT_HELP}
${OUTPUT_HELP}`);
const PATCH_USAGE = usage('patch [options] PATH DATA...', `Writes a new version of a secret: its current data with DATA's keys changed (a JSON merge patch).\n\n${DATA_HELP}`, `  -cas N               patch only if the current version is N
${MOUNT_HELP}
${OUTPUT_HELP}`);
const DELETE_USAGE = usage('delete [options] PATH', 'Soft-deletes the latest version of a secret, or the -versions given (undelete brings them back).', `  -versions N,M        the versions to delete
${MOUNT_HELP}`);
const UNDELETE_USAGE = usage('undelete -versions=N,M [options] PATH', 'Restores soft-deleted versions of a secret.', `  -versions N,M        the versions to restore (required)
${MOUNT_HELP}`);
const DESTROY_USAGE = usage('destroy -versions=N,M [options] PATH', 'Permanently removes versions of a secret (they cannot be undeleted).', `  -versions N,M        the versions to destroy (required)
${MOUNT_HELP}`);
const LIST_USAGE = usage('list [options] PATH', 'Lists the secrets under PATH; names ending in "/" have secrets under them.', `${MOUNT_HELP}
  -format FORMAT       table (default) or json (an array of keys)`);
const META_GET_USAGE = usage('metadata get [options] PATH', "Prints a secret's metadata and the state of each version.", `${MOUNT_HELP}
  -format FORMAT       table (default) or json`);
const META_PUT_USAGE = usage('metadata put [options] PATH', "Changes a secret's settings (creating its metadata when it has none).", `  -max-versions N          versions to keep (0: the mount's setting)
  -cas-required            writes must give -cas
  -delete-version-after D  versions are soft-deleted after D (such as 720h; 0 turns it off)
  -custom-metadata K=V     a custom metadata entry (repeatable); replaces all custom metadata
${MOUNT_HELP}`);
const META_DELETE_USAGE = usage('metadata delete [options] PATH', 'Deletes a secret: every version and its metadata, for good.', MOUNT_HELP);

const MOUNT_FLAG: FlagSpecs = { mount: { type: 'string' } };

interface Ctx {
  readonly f: ParsedFlags;
  readonly client: Client;
  readonly path: KvPath;
  readonly rest: readonly string[];
}

/** Parses flags, resolves PATH's mount, and runs `fn` with a client. */
function kvCommand(
  summary: string,
  usageText: string,
  flags: FlagSpecs,
  dataArgs: boolean,
  fn: (ctx: Ctx) => Promise<number>,
): Command {
  return {
    summary,
    usage: usageText,
    async run(argv: readonly string[], env: Env): Promise<number> {
      const f = parseFlags(argv, { ...MOUNT_FLAG, ...flags });
      if (helpAsked(f, usageText)) return 0;
      if (f.values.has('format')) formatFlag(f);
      const [raw = '', ...rest] = positionals(f, 1, dataArgs ? Infinity : 1, dataArgs ? 'PATH and DATA' : 'PATH');
      return withClient(env, async (client) => fn({ f, client, path: await resolveKvPath(client, raw, stringFlag(f, 'mount')), rest }));
    },
  };
}

function versionsFlag(f: ParsedFlags, required: boolean): number[] | undefined {
  const raw = listFlag(f, 'versions', true);
  if (raw.length === 0) {
    if (required) throw new UsageError('missing -versions (such as -versions=1,2)');
    return undefined;
  }
  return raw.map((v) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`flag -versions takes version numbers such as 1,2, not "${v}"`);
    return Number(v);
  });
}

const section = (title: string): string => `${'='.repeat(6)} ${title} ${'='.repeat(6)}\n`;

/** kv get / put output: the path, the version's metadata, and (for get) the data. */
function printVersion(body: unknown, path: string, o: PrintOptions, withData: boolean): void {
  const outer = isObject(body) && isObject(body.data) ? body.data : {};
  // KV v2 wraps {data, metadata}; a write answers with the metadata alone; KV v1 answers with the data itself.
  const v2 = isObject(outer.metadata) || 'data' in outer;
  const data = v2 ? (isObject(outer.data) ? outer.data : {}) : outer;
  const metadata = v2 ? (isObject(outer.metadata) ? outer.metadata : undefined) : undefined;
  if (o.field !== undefined) {
    printField(fieldOf(body, o.field, withData ? data : outer), o.format);
    return;
  }
  if (o.format === 'json') {
    process.stdout.write(json(body));
    return;
  }
  printWarnings(body);
  let text = `${section('Secret Path')}${path}\n\n`;
  if (withData) {
    if (metadata) text += `${section('Metadata')}${renderPairs(dataPairs(metadata))}\n`;
    text += `${section('Data')}${renderPairs(dataPairs(data))}`;
  } else {
    text += `${section('Metadata')}${renderPairs(dataPairs(outer))}`;
  }
  process.stdout.write(text);
}

const getCmd = kvCommand('read a secret', GET_USAGE, { ...OUTPUT_FLAGS, version: { type: 'string' } }, false, async ({ f, client, path }) => {
  const o = outputOptions(f);
  const version = intFlag(f, 'version', 0, Number.MAX_SAFE_INTEGER);
  const api = kvApiPath(path, 'data');
  const res = await orNoValue(kvDisplay(path), client.request('GET', api, version === undefined ? {} : { version }));
  printVersion(res.body, api, o, true);
  return 0;
});

async function writeData(ctx: Ctx, method: 'PUT' | 'PATCH'): Promise<number> {
  const { f, client, path, rest } = ctx;
  const o = outputOptions(f);
  if (method === 'PATCH') requireV2(path, 'kv patch');
  if (rest.length === 0) throw new UsageError('missing DATA: give key=value, key=@FILE or key=- arguments');
  const data = await parseKeyValues(rest, stdinReader());
  const cas = intFlag(f, 'cas', 0, Number.MAX_SAFE_INTEGER);
  const api = kvApiPath(path, 'data');
  const body = path.v2 ? { data, ...(cas !== undefined ? { options: { cas } } : {}) } : data;
  const res = await client.request(method, api, {}, body, method === 'PATCH' ? 'application/merge-patch+json' : 'application/json');
  if (res.body === undefined) {
    if (o.format === 'table' && o.field === undefined) process.stdout.write(`Success! Data written to: ${api}\n`);
    return 0;
  }
  printVersion(res.body, api, o, false);
  return 0;
}

const putCmd = kvCommand('write a new version of a secret', PUT_USAGE, { ...OUTPUT_FLAGS, cas: { type: 'string' } }, true, (ctx) => writeData(ctx, 'PUT'));
const patchCmd = kvCommand('change some keys of a secret', PATCH_USAGE, { ...OUTPUT_FLAGS, cas: { type: 'string' } }, true, (ctx) =>
  writeData(ctx, 'PATCH'),
);

const deleteCmd = kvCommand('soft-delete versions of a secret', DELETE_USAGE, { versions: { type: 'string' } }, false, async ({ f, client, path }) => {
  const versions = versionsFlag(f, false);
  if (versions === undefined || !path.v2) {
    const api = kvApiPath(path, 'data');
    await client.request('DELETE', api);
    process.stdout.write(`Success! Data deleted (if it existed) at: ${api}\n`);
  } else {
    const api = kvApiPath(path, 'delete');
    await client.request('PUT', api, {}, { versions });
    process.stdout.write(`Success! Data deleted (if it existed) at: ${kvApiPath(path, 'data')}\n`);
  }
  return 0;
});

const versionsCmd = (part: 'undelete' | 'destroy', summary: string, usageText: string): Command =>
  kvCommand(summary, usageText, { versions: { type: 'string' } }, false, async ({ f, client, path }) => {
    requireV2(path, `kv ${part}`);
    const versions = versionsFlag(f, true);
    const api = kvApiPath(path, part);
    await client.request('PUT', api, {}, { versions });
    process.stdout.write(`Success! Data written to: ${api}\n`);
    return 0;
  });

const listCmd = kvCommand('list secrets', LIST_USAGE, { format: { type: 'string' } }, false, async ({ f, client, path }) => {
  const format = formatFlag(f);
  const api = kvApiPath(path, 'metadata');
  const res = await orNoValue(kvDisplay(path), client.request('GET', api, { list: 'true' }));
  return printKeys(res.body, format, kvDisplay(path));
});

const metaGetCmd = kvCommand('show a secret’s metadata and versions', META_GET_USAGE, { format: { type: 'string' } }, false, async ({ f, client, path }) => {
  requireV2(path, 'kv metadata');
  const format = formatFlag(f);
  const api = kvApiPath(path, 'metadata');
  const res = await orNoValue(kvDisplay(path), client.request('GET', api));
  if (format === 'json') {
    process.stdout.write(json(res.body));
    return 0;
  }
  printWarnings(res.body);
  const meta: Json = isObject(res.body) && isObject(res.body.data) ? res.body.data : {};
  const { versions, ...rest } = meta;
  let text = `${section('Metadata Path')}${api}\n\n${section('Metadata')}${renderPairs(dataPairs(rest))}`;
  if (isObject(versions)) {
    for (const n of Object.keys(versions).sort((a, b) => Number(a) - Number(b))) {
      const v = versions[n];
      if (isObject(v)) text += `\n${section(`Version ${n}`)}${renderPairs(dataPairs(v))}`;
    }
  }
  process.stdout.write(text);
  return 0;
});

const metaPutCmd = kvCommand(
  'change a secret’s settings',
  META_PUT_USAGE,
  {
    'max-versions': { type: 'string' },
    'cas-required': { type: 'boolean' },
    'delete-version-after': { type: 'string' },
    'custom-metadata': { type: 'string' },
  },
  false,
  async ({ f, client, path }) => {
    requireV2(path, 'kv metadata');
    const body: Json = {};
    const max = intFlag(f, 'max-versions', 0, 4_294_967_295);
    if (max !== undefined) body.max_versions = max;
    const casRequired = boolFlag(f, 'cas-required');
    if (casRequired !== undefined) body.cas_required = casRequired;
    const after = stringFlag(f, 'delete-version-after');
    if (after !== undefined) body.delete_version_after = after;
    const custom = listFlag(f, 'custom-metadata');
    if (custom.length > 0) {
      const entries = custom.map((kv) => {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`flag -custom-metadata takes key=value, not "${kv}"`);
        return [kv.slice(0, eq), kv.slice(eq + 1)] as const;
      });
      body.custom_metadata = Object.fromEntries(entries);
    }
    const api = kvApiPath(path, 'metadata');
    await client.request('PUT', api, {}, body);
    process.stdout.write(`Success! Data written to: ${api}\n`);
    return 0;
  },
);

const metaDeleteCmd = kvCommand('delete a secret and all its versions', META_DELETE_USAGE, {}, false, async ({ client, path }) => {
  requireV2(path, 'kv metadata');
  const api = kvApiPath(path, 'metadata');
  await client.request('DELETE', api);
  process.stdout.write(`Success! Data deleted (if it existed) at: ${api}\n`);
  return 0;
});

const metadataCommands = { get: metaGetCmd, put: metaPutCmd, delete: metaDeleteCmd };
const metadataGroup: Group = {
  summary: 'read, change or delete a secret’s metadata (get, put, delete)',
  usage: groupUsage('kv metadata', 'A KV v2 secret’s metadata: its settings and the state of each version.', metadataCommands, `\n${ENV_HELP}\n`),
  commands: metadataCommands,
};

const commands = {
  get: getCmd,
  put: putCmd,
  patch: patchCmd,
  delete: deleteCmd,
  undelete: versionsCmd('undelete', 'restore soft-deleted versions', UNDELETE_USAGE),
  destroy: versionsCmd('destroy', 'permanently remove versions', DESTROY_USAGE),
  list: listCmd,
  metadata: metadataGroup,
};

export const kvGroup: Group = {
  summary: 'read and write versioned secrets (KV v2)',
  usage: groupUsage(
    'kv',
    'Versioned key/value secrets. PATH is the mount and the secret, such as secret/app/db: the API path\n(secret/data/app/db) is worked out like "vault kv" does.',
    commands,
    `\n${ENV_HELP}\n`,
  ),
  commands,
};
