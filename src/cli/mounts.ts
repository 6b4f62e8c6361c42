import { groupUsage, helpAsked, positionals, withClient, type Command, type Env, type Group } from './command.ts';
import { UsageError } from './errors.ts';
import { boolFlag, formatFlag, listFlag, parseFlags, stringFlag, type FlagSpecs, type ParsedFlags } from './flags.ts';
import { cell, json, renderTable } from './output.ts';
import { isObject } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox secrets enable|disable|list|tune` and `sealbox auth enable|disable|list`, like `vault secrets …` and `vault auth …`. */

type Kind = 'secrets' | 'auth';
const NOUN: Record<Kind, string> = { secrets: 'secrets engine', auth: 'auth method' };
const API: Record<Kind, string> = { secrets: 'sys/mounts', auth: 'sys/auth' };

const TUNE_FLAGS: FlagSpecs = {
  description: { type: 'string' },
  'default-lease-ttl': { type: 'string' },
  'max-lease-ttl': { type: 'string' },
  'audit-non-hmac-request-keys': { type: 'string' },
  'audit-non-hmac-response-keys': { type: 'string' },
  'listing-visibility': { type: 'string' },
  'passthrough-request-headers': { type: 'string' },
  options: { type: 'string' },
};

const TUNE_HELP = `  -description TEXT            a human-friendly description
  -default-lease-ttl DURATION  the default lease ttl of the mount, such as 1h
  -max-lease-ttl DURATION      the maximum lease ttl of the mount
  -options KEY=VALUE           an engine option (repeatable), e.g. -options version=2`;

const enableUsage = (k: Kind): string => `usage: sealbox ${k} enable [options] TYPE

Enables a ${NOUN[k]} of TYPE at -path (default: the type's name), as "vault ${k} enable" does.

  -path PATH                   where to mount it (default: TYPE)
${TUNE_HELP}${k === 'secrets' ? '\n  -version N                   the KV version (kv only): -version=2 is kv-v2' : ''}

${ENV_HELP}
`;
const disableUsage = (k: Kind): string => `usage: sealbox ${k} disable PATH

Disables the ${NOUN[k]} at PATH.${k === 'secrets' ? ' Its leases are revoked first and its data is deleted.' : ''}

${ENV_HELP}
`;
const listUsage = (k: Kind): string => `usage: sealbox ${k} list [-detailed] [-format table|json]

Lists the enabled ${NOUN[k]}s.

  -detailed                    also show the accessor's options and ttls
  -format FORMAT               table (default) or json

${ENV_HELP}
`;
const TUNE_USAGE = `usage: sealbox secrets tune [options] PATH

Tunes the secrets engine at PATH (POST sys/mounts/PATH/tune).

${TUNE_HELP}

${ENV_HELP}
`;

const mountPath = (p: string): string => p.replace(/^\/+|\/+$/g, '');

/** The config fields of tune flags, as Vault's client sends them. */
function tuneConfig(f: ParsedFlags): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const [flag, field] of [
    ['default-lease-ttl', 'default_lease_ttl'],
    ['max-lease-ttl', 'max_lease_ttl'],
    ['listing-visibility', 'listing_visibility'],
  ] as const) {
    const v = stringFlag(f, flag);
    if (v !== undefined) config[field] = v;
  }
  for (const [flag, field] of [
    ['audit-non-hmac-request-keys', 'audit_non_hmac_request_keys'],
    ['audit-non-hmac-response-keys', 'audit_non_hmac_response_keys'],
    ['passthrough-request-headers', 'passthrough_request_headers'],
  ] as const) {
    const v = listFlag(f, flag, true);
    if (v.length > 0) config[field] = v;
  }
  return config;
}

function optionsOf(f: ParsedFlags): Record<string, string> {
  return Object.fromEntries(
    listFlag(f, 'options').map((kv) => {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UsageError('flag -options takes key=value');
      return [kv.slice(0, eq), kv.slice(eq + 1)];
    }),
  );
}

const enableCommand = (k: Kind): Command => ({
  summary: `enable a ${NOUN[k]}`,
  usage: enableUsage(k),
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { ...TUNE_FLAGS, path: { type: 'string' }, ...(k === 'secrets' ? { version: { type: 'string' } } : {}), local: { type: 'boolean' }, 'seal-wrap': { type: 'boolean' } });
    if (helpAsked(f, enableUsage(k))) return 0;
    const [type = ''] = positionals(f, 1, 1, 'TYPE');
    const path = mountPath(stringFlag(f, 'path') ?? type);
    if (path === '') throw new UsageError('the path is empty');
    const options = optionsOf(f);
    const version = stringFlag(f, 'version');
    if (version !== undefined) options.version = version;
    const description = stringFlag(f, 'description');
    const body = { type, ...(description !== undefined ? { description } : {}), config: tuneConfig(f), options };
    await withClient(env, (c) => c.request('POST', `${API[k]}/${path}`, {}, body));
    process.stdout.write(k === 'secrets' ? `Success! Enabled the ${type} secrets engine at: ${path}/\n` : `Success! Enabled ${type} auth method at: ${path}/\n`);
    return 0;
  },
});

const disableCommand = (k: Kind): Command => ({
  summary: `disable a ${NOUN[k]}`,
  usage: disableUsage(k),
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, {});
    if (helpAsked(f, disableUsage(k))) return 0;
    const [raw = ''] = positionals(f, 1, 1, 'PATH');
    const path = mountPath(raw);
    if (path === '') throw new UsageError('the path is empty');
    await withClient(env, (c) => c.request('DELETE', `${API[k]}/${path}`));
    process.stdout.write(`Success! Disabled the ${NOUN[k]} (if it existed) at: ${path}/\n`);
    return 0;
  },
});

const listCommand = (k: Kind): Command => ({
  summary: `list the enabled ${NOUN[k]}s`,
  usage: listUsage(k),
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' }, detailed: { type: 'boolean' } });
    if (helpAsked(f, listUsage(k))) return 0;
    const format = formatFlag(f);
    positionals(f, 0, 0, 'no arguments');
    const res = await withClient(env, (c) => c.request('GET', API[k]));
    const body = isObject(res.body) ? res.body : {};
    const data = isObject(body.data) ? body.data : {};
    if (format === 'json') {
      process.stdout.write(json(data));
      return 0;
    }
    const detailed = boolFlag(f, 'detailed') === true;
    const rows = Object.entries(data)
      .filter((e): e is [string, Record<string, unknown>] => isObject(e[1]))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([path, m]) => {
        const config = isObject(m.config) ? m.config : {};
        const base = [cell(path), cell(m.type), cell(m.accessor), cell(m.description)];
        return detailed ? [...base, cell(config.default_lease_ttl), cell(config.max_lease_ttl), cell(isObject(m.options) ? JSON.stringify(m.options) : '')] : base;
      });
    const header = ['Path', 'Type', 'Accessor', 'Description', ...(detailed ? ['Default TTL', 'Max TTL', 'Options'] : [])];
    process.stdout.write(renderTable(header, rows));
    return 0;
  },
});

const tuneCommand: Command = {
  summary: 'tune a secrets engine',
  usage: TUNE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, TUNE_FLAGS);
    if (helpAsked(f, TUNE_USAGE)) return 0;
    const [raw = ''] = positionals(f, 1, 1, 'PATH');
    const path = mountPath(raw);
    const description = stringFlag(f, 'description');
    const options = optionsOf(f);
    const body = { ...tuneConfig(f), ...(description !== undefined ? { description } : {}), ...(Object.keys(options).length > 0 ? { options } : {}) };
    await withClient(env, (c) => c.request('POST', `sys/mounts/${path}/tune`, {}, body));
    process.stdout.write(`Success! Tuned the secrets engine at: ${path}/\n`);
    return 0;
  },
};

const secretsCommands = { enable: enableCommand('secrets'), disable: disableCommand('secrets'), list: listCommand('secrets'), tune: tuneCommand };
const authCommands = { enable: enableCommand('auth'), disable: disableCommand('auth'), list: listCommand('auth') };

export const secretsGroup: Group = {
  summary: 'enable, disable, list and tune secrets engines',
  usage: groupUsage('secrets', 'Secrets engines: what is mounted where (sys/mounts).', secretsCommands, `\n${ENV_HELP}\n`),
  commands: secretsCommands,
};

export const authGroup: Group = {
  summary: 'enable, disable and list auth methods',
  usage: groupUsage('auth', 'Auth methods: how clients log in (sys/auth).', authCommands, `\n${ENV_HELP}\n`),
  commands: authCommands,
};
