import { readFile } from 'node:fs/promises';
import { groupUsage, helpAsked, positionals, withClient, type Command, type Env, type Group } from './command.ts';
import { ApiError, errorMessage, UsageError } from './errors.ts';
import { formatFlag, parseFlags } from './flags.ts';
import { stdinReader } from './kv-args.ts';
import { json } from './output.ts';
import { isObject, tableSafe } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox policy read|write|list|delete`: ACL policies (sys/policies/acl), like `vault policy`. */

const FORMAT_HELP = `  -format FORMAT       table (default) or json`;

const READ_USAGE = `usage: sealbox policy read [-format table|json] NAME

Prints a policy's document as it was written (HCL or JSON).

${FORMAT_HELP}

${ENV_HELP}
`;

const WRITE_USAGE = `usage: sealbox policy write NAME FILE
       sealbox policy write NAME - < FILE

Creates or replaces a policy from FILE ("-": stdin). The document is Vault's HCL subset
(path "secret/data/app/*" { capabilities = ["read"] }) or the same in JSON.

${ENV_HELP}
`;

const LIST_USAGE = `usage: sealbox policy list [-format table|json]

Lists the policies' names, one a line (JSON: an array).

${FORMAT_HELP}

${ENV_HELP}
`;

const DELETE_USAGE = `usage: sealbox policy delete NAME

Deletes a policy. Tokens that name it keep their other policies.

${ENV_HELP}
`;

const policyPath = (name: string): string => {
  if (name === '' || name.includes('/')) throw new UsageError(`"${name}" is not a policy name`);
  return `sys/policies/acl/${encodeURIComponent(name)}`;
};

const readCommand: Command = {
  summary: 'print a policy',
  usage: READ_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, READ_USAGE)) return 0;
    const format = formatFlag(f);
    const [name = ''] = positionals(f, 1, 1, 'NAME');
    const res = await withClient(env, async (c) => {
      try {
        return await c.request('GET', policyPath(name));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) throw new ApiError(`No policy named: ${name}`, 404);
        throw e;
      }
    });
    if (format === 'json') {
      process.stdout.write(json(res.body));
      return 0;
    }
    const data = isObject(res.body) && isObject(res.body.data) ? res.body.data : {};
    const doc = typeof data.policy === 'string' ? data.policy : JSON.stringify(data.policy ?? data.rules ?? '', null, 2);
    process.stdout.write(doc.endsWith('\n') ? tableSafe(doc) : `${tableSafe(doc)}\n`);
    return 0;
  },
};

const writeCommand: Command = {
  summary: 'create or replace a policy from a file',
  usage: WRITE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, {});
    if (helpAsked(f, WRITE_USAGE)) return 0;
    const [name = '', file = ''] = positionals(f, 2, 2, 'NAME and FILE');
    const path = policyPath(name);
    let text: string;
    if (file === '-') {
      text = await stdinReader().read('the policy');
    } else {
      try {
        text = await readFile(file, 'utf8');
      } catch (e) {
        throw new ApiError(`cannot read ${file}: ${errorMessage(e)}`);
      }
    }
    if (text.trim() === '') throw new UsageError(`the policy in ${file === '-' ? 'stdin' : file} is empty`);
    await withClient(env, (c) => c.request('PUT', path, {}, { policy: text }));
    process.stdout.write(`Success! Uploaded policy: ${name}\n`);
    return 0;
  },
};

const listCommand: Command = {
  summary: 'list the policies',
  usage: LIST_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, LIST_USAGE)) return 0;
    const format = formatFlag(f);
    positionals(f, 0, 0, 'no arguments');
    const res = await withClient(env, (c) => c.request('GET', 'sys/policies/acl', { list: 'true' }));
    const data = isObject(res.body) && isObject(res.body.data) ? res.body.data : {};
    const keys = Array.isArray(data.keys) ? data.keys.map(String) : [];
    process.stdout.write(format === 'json' ? json(keys) : keys.map((k) => `${tableSafe(k)}\n`).join(''));
    return 0;
  },
};

const deleteCommand: Command = {
  summary: 'delete a policy',
  usage: DELETE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, {});
    if (helpAsked(f, DELETE_USAGE)) return 0;
    const [name = ''] = positionals(f, 1, 1, 'NAME');
    await withClient(env, (c) => c.request('DELETE', policyPath(name)));
    process.stdout.write(`Success! Deleted policy: ${name}\n`);
    return 0;
  },
};

const commands = { read: readCommand, write: writeCommand, list: listCommand, delete: deleteCommand };

export const policyGroup: Group = {
  summary: 'read, write, list and delete ACL policies',
  usage: groupUsage('policy', 'ACL policies: which paths a token may use, and how.', commands, `\n${ENV_HELP}\n`),
  commands,
};
