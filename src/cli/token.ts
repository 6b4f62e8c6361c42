import { groupUsage, helpAsked, positionals, withClient, type Command, type Env, type Group } from './command.ts';
import { UsageError } from './errors.ts';
import { boolFlag, formatFlag, intFlag, listFlag, parseFlags, stringFlag } from './flags.ts';
import { chompNewline, stdinReader } from './kv-args.ts';
import { json } from './output.ts';
import { dataPairs, formatDuration, isObject, OUTPUT_FLAGS, OUTPUT_HELP, outputOptions, printAnswer, printField, fieldOf, printWarnings, renderPairs } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox token create|lookup|renew|revoke`, like `vault token …`. A token is printed on stdout only, never on stderr. */

const TOKEN_ARG_HELP = `TOKEN "-" reads the token from stdin. A token given as an argument stays in shell history: prefer "-".`;

const CREATE_USAGE = `usage: sealbox token create [options]

Creates a token, a child of the caller's token (revoking the parent revokes it), and prints it.
"-field=token" prints the token alone, for scripts.

  -policy NAME             a policy for the token (repeatable, or comma-separated); default: the caller's policies
  -ttl DURATION            initial ttl, such as 1h (default: the token store's default)
  -explicit-max-ttl D      a ttl the token can never be renewed past
  -period DURATION         a periodic token: every renewal gives it this ttl again, with no maximum
  -renewable=false         the token cannot be renewed
  -orphan                  no parent: it outlives the caller's token (needs sudo)
  -no-default-policy       do not add the "default" policy
  -display-name NAME       a name shown in lookups and the audit log
  -use-limit N             the token stops working after N uses (0: no limit)
  -metadata KEY=VALUE      metadata for the audit log (repeatable)
${OUTPUT_HELP}

${ENV_HELP}
`;

const LOOKUP_USAGE = `usage: sealbox token lookup [options] [TOKEN | -]
       sealbox token lookup -self
       sealbox token lookup -accessor ACCESSOR

Prints a token's properties: the caller's own token when no TOKEN is given.
${TOKEN_ARG_HELP}

  -self                    the caller's own token (the default without TOKEN)
  -accessor                the argument is the token's accessor, not the token
${OUTPUT_HELP}

${ENV_HELP}
`;

const RENEW_USAGE = `usage: sealbox token renew [options] [TOKEN | -]
       sealbox token renew -self

Renews a token (the caller's own when no TOKEN is given), up to its maximum ttl.
${TOKEN_ARG_HELP}

  -self                    the caller's own token (the default without TOKEN)
  -increment DURATION      the ttl asked for from now, such as 1h (default: the token's own ttl)
${OUTPUT_HELP}

${ENV_HELP}
`;

const REVOKE_USAGE = `usage: sealbox token revoke [options] [TOKEN | -]
       sealbox token revoke -accessor ACCESSOR
       sealbox token revoke -self

Revokes a token and its children, and the leases they created.
${TOKEN_ARG_HELP}

  -self                    revoke the caller's own token
  -accessor                the argument is the token's accessor, not the token

${ENV_HELP}
`;

/** A token from the argument, or from stdin for "-". */
async function tokenArg(arg: string): Promise<string> {
  const token = arg === '-' ? chompNewline(await stdinReader().read('the token')).trim() : arg;
  if (token === '') throw new UsageError('the token is empty');
  return token;
}

const DURATIONS = new Set(['ttl', 'creation_ttl', 'explicit_max_ttl', 'period']);

const createCommand: Command = {
  summary: 'create a token',
  usage: CREATE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, {
      ...OUTPUT_FLAGS,
      policy: { type: 'string' },
      ttl: { type: 'string' },
      'explicit-max-ttl': { type: 'string' },
      period: { type: 'string' },
      renewable: { type: 'boolean' },
      orphan: { type: 'boolean' },
      'no-default-policy': { type: 'boolean' },
      'display-name': { type: 'string' },
      'use-limit': { type: 'string' },
      metadata: { type: 'string' },
      id: { type: 'string' },
    });
    if (helpAsked(f, CREATE_USAGE)) return 0;
    const o = outputOptions(f);
    positionals(f, 0, 0, 'no arguments (policies are given with -policy)');
    const body: Record<string, unknown> = {};
    const policies = listFlag(f, 'policy', true);
    if (policies.length > 0) body.policies = policies;
    for (const [flag, field] of [
      ['ttl', 'ttl'],
      ['explicit-max-ttl', 'explicit_max_ttl'],
      ['period', 'period'],
      ['display-name', 'display_name'],
      ['id', 'id'],
    ] as const) {
      const v = stringFlag(f, flag);
      if (v !== undefined) body[field] = v;
    }
    const renewable = boolFlag(f, 'renewable');
    if (renewable !== undefined) body.renewable = renewable;
    if (boolFlag(f, 'no-default-policy') === true) body.no_default_policy = true;
    const uses = intFlag(f, 'use-limit', 0, 1_000_000);
    if (uses !== undefined) body.num_uses = uses;
    const meta = listFlag(f, 'metadata');
    if (meta.length > 0) {
      body.meta = Object.fromEntries(
        meta.map((kv) => {
          const eq = kv.indexOf('=');
          if (eq <= 0) throw new UsageError('flag -metadata takes key=value');
          return [kv.slice(0, eq), kv.slice(eq + 1)];
        }),
      );
    }
    const path = boolFlag(f, 'orphan') === true ? 'auth/token/create-orphan' : 'auth/token/create';
    const res = await withClient(env, (c) => c.request('POST', path, {}, body));
    printAnswer(res.body, o);
    return 0;
  },
};

const lookupCommand: Command = {
  summary: 'show a token’s properties',
  usage: LOOKUP_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { ...OUTPUT_FLAGS, accessor: { type: 'boolean', aliases: ['a'] }, self: { type: 'boolean' } });
    if (helpAsked(f, LOOKUP_USAGE)) return 0;
    const o = outputOptions(f);
    const byAccessor = boolFlag(f, 'accessor') === true;
    if (boolFlag(f, 'self') === true) {
      if (byAccessor) throw new UsageError('-self and -accessor cannot be used together');
      positionals(f, 0, 0, 'no argument with -self');
    }
    const [arg] = positionals(f, byAccessor ? 1 : 0, 1, byAccessor ? 'ACCESSOR' : 'at most one TOKEN');
    const res = await withClient(env, async (c) => {
      if (byAccessor) return c.request('POST', 'auth/token/lookup-accessor', {}, { accessor: arg });
      if (arg === undefined) return c.request('GET', 'auth/token/lookup-self');
      return c.request('POST', 'auth/token/lookup', {}, { token: await tokenArg(arg) });
    });
    if (o.field !== undefined) {
      printField(fieldOf(res.body, o.field), o.format);
      return 0;
    }
    if (o.format === 'json') {
      process.stdout.write(json(res.body));
      return 0;
    }
    printWarnings(res.body);
    const data = isObject(res.body) && isObject(res.body.data) ? res.body.data : {};
    process.stdout.write(renderPairs(dataPairs(data).map(([k, v]) => (DURATIONS.has(k) && typeof data[k] === 'number' ? [k, formatDuration(data[k])] : [k, v]))));
    return 0;
  },
};

const renewCommand: Command = {
  summary: 'renew a token',
  usage: RENEW_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { ...OUTPUT_FLAGS, increment: { type: 'string', aliases: ['i'] }, self: { type: 'boolean' } });
    if (helpAsked(f, RENEW_USAGE)) return 0;
    const o = outputOptions(f);
    if (boolFlag(f, 'self') === true) positionals(f, 0, 0, 'no argument with -self');
    const [arg] = positionals(f, 0, 1, 'at most one TOKEN');
    const increment = stringFlag(f, 'increment');
    const inc = increment !== undefined ? { increment } : {};
    const res = await withClient(env, async (c) =>
      arg === undefined ? c.request('POST', 'auth/token/renew-self', {}, inc) : c.request('POST', 'auth/token/renew', {}, { token: await tokenArg(arg), ...inc }),
    );
    printAnswer(res.body, o);
    return 0;
  },
};

const revokeCommand: Command = {
  summary: 'revoke a token and its children',
  usage: REVOKE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { self: { type: 'boolean' }, accessor: { type: 'boolean', aliases: ['a'] }, format: { type: 'string' } });
    if (helpAsked(f, REVOKE_USAGE)) return 0;
    formatFlag(f);
    const self = boolFlag(f, 'self') === true;
    const byAccessor = boolFlag(f, 'accessor') === true;
    if (self && byAccessor) throw new UsageError('-self and -accessor cannot be used together');
    const [arg] = positionals(f, self ? 0 : 1, self ? 0 : 1, self ? 'no argument with -self' : byAccessor ? 'ACCESSOR' : 'TOKEN (or -self)');
    await withClient(env, async (c) => {
      if (self) return c.request('POST', 'auth/token/revoke-self');
      if (byAccessor) return c.request('POST', 'auth/token/revoke-accessor', {}, { accessor: arg });
      return c.request('POST', 'auth/token/revoke', {}, { token: await tokenArg(arg ?? '') });
    });
    process.stdout.write('Success! Revoked token (if it existed)\n');
    return 0;
  },
};

const commands = { create: createCommand, lookup: lookupCommand, renew: renewCommand, revoke: revokeCommand };

export const tokenGroup: Group = {
  summary: 'create, look up, renew and revoke tokens',
  usage: groupUsage('token', 'Tokens: what every request is authorised by.', commands, `\n${ENV_HELP}\n`),
  commands,
};
