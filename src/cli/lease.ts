import { groupUsage, helpAsked, positionals, withClient, type Command, type Env, type Group } from './command.ts';
import { UsageError } from './errors.ts';
import { boolFlag, formatFlag, parseFlags, stringFlag } from './flags.ts';
import { json } from './output.ts';
import { dataPairs, formatDuration, isObject, printAnswer, printWarnings, renderPairs } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox lease lookup|renew|revoke`: the leases of dynamic secrets (database credentials, leased certificates). */

const FORMAT_HELP = `  -format FORMAT       table (default) or json (the server's answer)`;

const LOOKUP_USAGE = `usage: sealbox lease lookup [-format table|json] LEASE_ID

Prints a lease: when it was issued, when it expires, its remaining ttl, whether it can be renewed, and its state.

${FORMAT_HELP}

${ENV_HELP}
`;

const RENEW_USAGE = `usage: sealbox lease renew [-increment DURATION] [-format table|json] LEASE_ID

Extends a lease (up to its maximum ttl). Prints the lease's new duration.

  -increment DURATION  the ttl asked for from now, such as 1h or 3600 (default: the secret's own ttl)
${FORMAT_HELP}

${ENV_HELP}
`;

const REVOKE_USAGE = `usage: sealbox lease revoke [options] LEASE_ID
       sealbox lease revoke -prefix [-force] PREFIX

Revokes a lease now: the secret behind it (a database user, a certificate) is revoked too.

  -prefix              revoke every lease whose id starts with PREFIX, such as database/creds/readonly (needs sudo)
  -force               with -prefix: forget the leases even when their secrets cannot be revoked (needs sudo; the
                       secrets may then outlive their leases)

${ENV_HELP}
`;

const lookupCommand: Command = {
  summary: 'show a lease',
  usage: LOOKUP_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, LOOKUP_USAGE)) return 0;
    const format = formatFlag(f);
    const [id = ''] = positionals(f, 1, 1, 'LEASE_ID');
    const res = await withClient(env, (c) => c.request('PUT', 'sys/leases/lookup', {}, { lease_id: id }));
    if (format === 'json') {
      process.stdout.write(json(res.body));
      return 0;
    }
    printWarnings(res.body);
    const data = isObject(res.body) && isObject(res.body.data) ? res.body.data : {};
    process.stdout.write(renderPairs(dataPairs(data).map(([k, v]) => (k === 'ttl' ? [k, formatDuration(data.ttl)] : [k, v]))));
    return 0;
  },
};

const renewCommand: Command = {
  summary: 'extend a lease',
  usage: RENEW_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { increment: { type: 'string', aliases: ['i'] }, format: { type: 'string' } });
    if (helpAsked(f, RENEW_USAGE)) return 0;
    const format = formatFlag(f);
    const [id = ''] = positionals(f, 1, 1, 'LEASE_ID');
    const increment = stringFlag(f, 'increment');
    const res = await withClient(env, (c) => c.request('PUT', 'sys/leases/renew', {}, { lease_id: id, ...(increment !== undefined ? { increment } : {}) }));
    printAnswer(res.body, { format, field: undefined });
    return 0;
  },
};

const revokeCommand: Command = {
  summary: 'revoke a lease, or every lease under a prefix',
  usage: REVOKE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { prefix: { type: 'boolean' }, force: { type: 'boolean', aliases: ['f'] } });
    if (helpAsked(f, REVOKE_USAGE)) return 0;
    const [id = ''] = positionals(f, 1, 1, 'LEASE_ID');
    const prefix = boolFlag(f, 'prefix') === true;
    const force = boolFlag(f, 'force') === true;
    if (force && !prefix) throw new UsageError('-force works with -prefix only');
    const res = await withClient(env, (c) => {
      if (!prefix) return c.request('PUT', 'sys/leases/revoke', {}, { lease_id: id });
      const p = id.replace(/^\/+/, '').split('/').map(encodeURIComponent).join('/');
      return c.request('PUT', `sys/leases/${force ? 'revoke-force' : 'revoke-prefix'}/${p}`);
    });
    printWarnings(res.body);
    process.stdout.write(prefix ? `Success! Revoked any leases with prefix: ${id}\n` : `Success! Revoked lease: ${id}\n`);
    return 0;
  },
};

const commands = { lookup: lookupCommand, renew: renewCommand, revoke: revokeCommand };

export const leaseGroup: Group = {
  summary: 'look up, renew and revoke leases',
  usage: groupUsage('lease', 'The leases of dynamic secrets: database credentials and leased certificates.', commands, `\n${ENV_HELP}\n`),
  commands,
};
