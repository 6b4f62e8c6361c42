import { chmod, writeFile } from 'node:fs/promises';
import { helpAsked, positionals, withClient, type Command, type Env } from './command.ts';
import { UsageError } from './errors.ts';
import { boolFlag, parseFlags, stringFlag } from './flags.ts';
import { tokenFilePath } from './http.ts';
import { chompNewline, parseKeyValues, stdinReader } from './kv-args.ts';
import { json } from './output.ts';
import { formatDuration, isObject, OUTPUT_FLAGS, OUTPUT_HELP, outputOptions, printAnswer, printField, fieldOf, renderPairs, type Json } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox login` and `sealbox unwrap`, like `vault login` and `vault unwrap`. Tokens are printed on stdout only. */

const LOGIN_USAGE = `usage: sealbox login [options] [TOKEN | -]
       sealbox login -method=METHOD [options] [K=V ...]

Authenticates and stores the token in the token file (SEALBOX_TOKEN_FILE, default ~/.sealbox-token, mode 0600), which
later commands use when SEALBOX_TOKEN is not set. With no -method, TOKEN (or "-": stdin, or a prompt-free empty stdin
error) is checked with auth/token/lookup-self.

  -method METHOD           token (default), approle, kubernetes, jwt, cert, or any auth method type
  -path PATH               where the method is mounted (default: the method's name)
  -no-store                do not store the token
  -token-only              print only the token (implies -no-store), as Vault does
${OUTPUT_HELP}

Method arguments (POST auth/PATH/login):
  approle       role_id=… secret_id=@FILE
  kubernetes    role=… jwt=@/var/run/secrets/kubernetes.io/serviceaccount/token
  jwt           role=… jwt=@FILE
  cert          name=… (the TLS client certificate is not sent by this CLI)
Prefer K=@FILE or K=- for secrets: the command line is kept in shell history.

${ENV_HELP}
`;

const UNWRAP_USAGE = `usage: sealbox unwrap [options] [TOKEN | -]

Unwraps a response-wrapping token once (PUT sys/wrapping/unwrap) and prints the wrapped response. With no TOKEN,
the client token itself (SEALBOX_TOKEN) is the wrapping token, as with "vault unwrap".

${OUTPUT_HELP}

${ENV_HELP}
`;

async function tokenArg(arg: string): Promise<string> {
  const token = arg === '-' ? chompNewline(await stdinReader().read('the token')).trim() : arg;
  if (token === '') throw new UsageError('the token is empty');
  return token;
}

/** Vault's login table: the token's fields prefixed "token_". */
function loginPairs(auth: Json): [string, string][] {
  const pairs: [string, string][] = [
    ['token', String(auth.client_token ?? '')],
    ['token_accessor', String(auth.accessor ?? '')],
    ['token_duration', formatDuration(auth.lease_duration)],
    ['token_renewable', String(auth.renewable ?? false)],
    ['token_policies', JSON.stringify(auth.token_policies ?? auth.policies ?? [])],
    ['identity_policies', JSON.stringify(auth.identity_policies ?? [])],
    ['policies', JSON.stringify(auth.policies ?? [])],
  ];
  if (isObject(auth.metadata)) for (const [k, v] of Object.entries(auth.metadata)) pairs.push([`token_meta_${k}`, String(v)]);
  return pairs;
}

export const loginCommand: Command = {
  summary: 'log in and store the token',
  usage: LOGIN_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { ...OUTPUT_FLAGS, method: { type: 'string' }, path: { type: 'string' }, 'no-store': { type: 'boolean' }, 'token-only': { type: 'boolean' } });
    if (helpAsked(f, LOGIN_USAGE)) return 0;
    const o = outputOptions(f);
    const method = (stringFlag(f, 'method') ?? 'token').toLowerCase();
    const tokenOnly = boolFlag(f, 'token-only') === true;
    let auth: Json;
    let body: unknown;
    if (method === 'token') {
      const [arg] = positionals(f, 1, 1, 'TOKEN (or "-" to read it from stdin)');
      const token = await tokenArg(arg ?? '');
      const res = await withClient({ ...env, SEALBOX_TOKEN: token, VAULT_TOKEN: undefined, SEALBOX_NO_TOKEN_FILE: '1' }, (c) => c.request('GET', 'auth/token/lookup-self'));
      const data = isObject(res.body) && isObject(res.body.data) ? res.body.data : {};
      auth = { client_token: token, accessor: data.accessor, lease_duration: data.ttl, renewable: data.renewable, policies: data.policies, token_policies: data.policies, metadata: data.meta };
      body = { auth };
    } else {
      const path = (stringFlag(f, 'path') ?? method).replace(/^\/+|\/+$/g, '');
      if (!/^[A-Za-z0-9][A-Za-z0-9_./-]*$/.test(path) || path.includes('..')) throw new UsageError(`invalid -path "${path}"`);
      const input = await parseKeyValues(f.positional, stdinReader());
      // Unauthenticated: a stale SEALBOX_TOKEN must not ride along.
      const res = await withClient({ ...env, SEALBOX_TOKEN: undefined, VAULT_TOKEN: undefined, SEALBOX_NO_TOKEN_FILE: '1' }, (c) => c.request('POST', `auth/${path}/login`, {}, input));
      body = res.body;
      auth = isObject(res.body) && isObject(res.body.auth) ? res.body.auth : {};
    }
    const token = typeof auth.client_token === 'string' ? auth.client_token : '';
    if (token === '') throw new UsageError('the server answered without a token');
    if (!tokenOnly && boolFlag(f, 'no-store') !== true) {
      const file = tokenFilePath(env);
      await writeFile(file, token, { mode: 0o600 });
      await chmod(file, 0o600);
    }
    if (tokenOnly) {
      printField(token, o.format);
      return 0;
    }
    if (o.field !== undefined) {
      printField(fieldOf(body, o.field, auth), o.format);
      return 0;
    }
    if (o.format === 'json') {
      process.stdout.write(json(body));
      return 0;
    }
    process.stdout.write(
      `Success! You are now authenticated. The token information displayed below is already stored in the token file.\n\n${renderPairs(loginPairs(auth))}`,
    );
    return 0;
  },
};

export const unwrapCommand: Command = {
  summary: 'unwrap a response-wrapping token',
  usage: UNWRAP_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, OUTPUT_FLAGS);
    if (helpAsked(f, UNWRAP_USAGE)) return 0;
    const o = outputOptions(f);
    const [arg] = positionals(f, 0, 1, 'at most one TOKEN');
    const res = await withClient(env, async (c) =>
      arg === undefined ? c.request('PUT', 'sys/wrapping/unwrap', {}, {}) : c.request('PUT', 'sys/wrapping/unwrap', {}, { token: await tokenArg(arg) }),
    );
    printAnswer(res.body, o, 'Success! Unwrapped (the wrapped response was empty)');
    return 0;
  },
};
