import { groupUsage, helpAsked, positionals, withClient, type Command, type Env, type Group } from './command.ts';
import { EXIT_API, EXIT_OK, UsageError } from './errors.ts';
import { boolFlag, formatFlag, intFlag, parseFlags } from './flags.ts';
import type { Client } from './http.ts';
import { chompNewline, stdinReader } from './kv-args.ts';
import { json } from './output.ts';
import { readHidden } from './prompt.ts';
import { Progress } from './progress.ts';
import { formatValue, isObject, renderPairs, type Json } from './secret-output.ts';
import { ENV_HELP } from './usage.ts';

/** `sealbox status` and `sealbox operator init|unseal|seal|rotate|key-status`, like their `vault` namesakes. */

const FORMAT_HELP = `  -format FORMAT       table (default) or json (the server's answer)`;

const STATUS_USAGE = `usage: sealbox status [-format table|json]

Prints the broker's seal status. Exit status: 0 unsealed, 2 sealed (or uninitialised) or unreachable, 1 usage error.

${FORMAT_HELP}

${ENV_HELP}
`;

const INIT_USAGE = `usage: sealbox operator init [options]

Initialises a new broker: creates the root key, splits it into unseal key shares, and prints the shares and the
initial root token (on stdout, and nowhere else: store them safely, each share with a different person).
A broker with a static (auto-unseal) seal makes no shares and unseals itself.

  -key-shares N        number of unseal key shares (default 5)
  -key-threshold T     shares needed to unseal (default 3)
  -status              only tell whether the broker is initialised (exit 0 yes, 2 no)
${FORMAT_HELP}

${ENV_HELP}
`;

const UNSEAL_USAGE = `usage: sealbox operator unseal [options] [-]

Gives the broker one unseal key share. Repeat with other shares until the threshold is reached.
The share is read from stdin ("-" or no argument: piped, or typed at a hidden prompt on a terminal). A share given
as an argument is accepted for compatibility but is kept in shell history: prefer the prompt or stdin.

  -reset               forget the shares given so far
${FORMAT_HELP}

${ENV_HELP}
`;

const SEAL_USAGE = `usage: sealbox operator seal

Seals the broker: it forgets its keys and answers 503 until unsealed again with the threshold of shares. Needs sudo.

${ENV_HELP}
`;

const ROTATE_USAGE = `usage: sealbox operator rotate [-format table|json]

Adds a new term to the keyring: new data is encrypted with the new key, existing data stays readable. Needs sudo.
Prints the new key status.

${ENV_HELP}
`;

const KEY_STATUS_USAGE = `usage: sealbox operator key-status [-format table|json] [-wait [-progress]]

Prints the keyring's current term and when it was installed. With -wait, first waits until the background rewrap
has moved every value to the current term, with a progress line on stderr (-progress: even when not a terminal).

${ENV_HELP}
`;

/** The seal status fields as `vault status` names them. */
function statusPairs(s: Json): [string, string][] {
  const pairs: [string, string][] = [
    ['Seal Type', formatValue(s.type)],
    ['Initialized', formatValue(s.initialized)],
    ['Sealed', formatValue(s.sealed)],
    ['Total Shares', formatValue(s.n)],
    ['Threshold', formatValue(s.t)],
  ];
  if (s.sealed === true) {
    pairs.push(['Unseal Progress', `${formatValue(s.progress)}/${formatValue(s.t)}`]);
    pairs.push(['Unseal Nonce', typeof s.nonce === 'string' && s.nonce !== '' ? s.nonce : 'n/a']);
  }
  pairs.push(['Version', formatValue(s.version)], ['Storage Type', formatValue(s.storage_type)]);
  if (typeof s.cluster_name === 'string' && s.cluster_name !== '') pairs.push(['Cluster Name', s.cluster_name]);
  pairs.push(['HA Enabled', 'false']);
  return pairs;
}

const bodyOf = (b: unknown): Json => (isObject(b) ? b : {});

function printStatus(body: unknown, format: 'table' | 'json'): number {
  const s = bodyOf(body);
  process.stdout.write(format === 'json' ? json(body) : renderPairs(statusPairs(s)));
  return s.sealed === false && s.initialized === true ? EXIT_OK : EXIT_API;
}

export const statusCommand: Command = {
  summary: 'print the seal status (exit 2 when sealed)',
  usage: STATUS_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, STATUS_USAGE)) return 0;
    const format = formatFlag(f);
    positionals(f, 0, 0, 'no arguments');
    const res = await withClient(env, (c) => c.request('GET', 'sys/seal-status'));
    return printStatus(res.body, format);
  },
};

const initCommand: Command = {
  summary: 'initialise a new broker',
  usage: INIT_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, {
      'key-shares': { type: 'string', aliases: ['n'] },
      'key-threshold': { type: 'string', aliases: ['t'] },
      status: { type: 'boolean' },
      format: { type: 'string' },
    });
    if (helpAsked(f, INIT_USAGE)) return 0;
    const format = formatFlag(f);
    positionals(f, 0, 0, 'no arguments');
    if (boolFlag(f, 'status') === true) {
      const res = await withClient(env, (c) => c.request('GET', 'sys/init'));
      const initialized = bodyOf(res.body).initialized === true;
      process.stdout.write(format === 'json' ? json(res.body) : initialized ? 'Sealbox is initialized\n' : 'Sealbox is not initialized\n');
      return initialized ? EXIT_OK : EXIT_API;
    }
    const shares = intFlag(f, 'key-shares', 1, 255) ?? 5;
    const threshold = intFlag(f, 'key-threshold', 1, 255) ?? 3;
    if (threshold > shares) throw new UsageError(`-key-threshold (${threshold}) cannot be more than -key-shares (${shares})`);
    if (threshold === 1 && shares > 1) throw new UsageError('-key-threshold 1 with several shares makes every share a full key: use -key-shares 1, or a threshold of 2 or more');
    const res = await withClient(env, (c) => c.request('PUT', 'sys/init', {}, { secret_shares: shares, secret_threshold: threshold }));
    const body = bodyOf(res.body);
    if (format === 'json') {
      process.stdout.write(json(res.body));
      return EXIT_OK;
    }
    const keys = Array.isArray(body.keys_base64) ? body.keys_base64.map(String) : [];
    let text = keys.map((k, i) => `Unseal Key ${i + 1}: ${k}\n`).join('');
    text += `\nInitial Root Token: ${formatValue(body.root_token)}\n\n`;
    text +=
      keys.length > 0
        ? `Sealbox initialized with ${keys.length} key shares and a key threshold of ${threshold}. Give each share to a
different person and keep them apart: the broker is sealed now, and ${threshold} of these shares unseal it
("sealbox operator unseal", which prompts for a share without echoing it).
The shares are not stored anywhere: lose more than ${keys.length - threshold} and the data cannot be recovered.
`
        : `Sealbox initialized with a static seal: it has unsealed itself, and there are no key shares.
`;
    text += 'Use the root token to set up policies and auth methods, then revoke it ("sealbox token revoke -self").\n';
    process.stdout.write(text);
    return EXIT_OK;
  },
};

async function readShare(arg: string | undefined): Promise<string> {
  if (arg !== undefined && arg !== '-') {
    process.stderr.write('Warning: an unseal key given as an argument stays in the shell history and is visible in ps. Prefer the prompt or stdin.\n');
    return arg.trim();
  }
  const key = process.stdin.isTTY ? await readHidden('Unseal Key (will be hidden): ') : chompNewline(await stdinReader().read('the unseal key')).trim();
  if (key === '') throw new UsageError('no unseal key given on stdin');
  return key;
}

const unsealCommand: Command = {
  summary: 'give the broker an unseal key share',
  usage: UNSEAL_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { reset: { type: 'boolean' }, format: { type: 'string' } });
    if (helpAsked(f, UNSEAL_USAGE)) return 0;
    const format = formatFlag(f);
    const [arg] = positionals(f, 0, 1, 'at most one key, or "-"');
    const reset = boolFlag(f, 'reset') === true;
    if (reset && arg !== undefined) throw new UsageError('-reset takes no key');
    const body = reset ? { reset: true } : { key: await readShare(arg) };
    const res = await withClient(env, (c: Client) => c.request('PUT', 'sys/unseal', {}, body));
    printStatus(res.body, format);
    return EXIT_OK;
  },
};

const sealCommand: Command = {
  summary: 'seal the broker',
  usage: SEAL_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, {});
    if (helpAsked(f, SEAL_USAGE)) return 0;
    positionals(f, 0, 0, 'no arguments');
    await withClient(env, (c) => c.request('PUT', 'sys/seal'));
    process.stdout.write('Success! Sealbox is sealed.\n');
    return EXIT_OK;
  },
};

function printKeyStatus(body: unknown, format: 'table' | 'json', prefix = ''): void {
  if (format === 'json') {
    process.stdout.write(json(body));
    return;
  }
  const d = isObject(body) && isObject(body.data) ? body.data : bodyOf(body);
  process.stdout.write(
    prefix +
      renderPairs([
        ['Key Term', formatValue(d.term)],
        ['Install Time', formatValue(d.install_time)],
        ...(d.encryptions !== null && d.encryptions !== undefined ? ([['Encryption Count', formatValue(d.encryptions)]] as [string, string][]) : []),
      ]),
  );
}

/** Polls sys/key-status until no value uses an old keyring term; a progress line counts the values rewrapped. */
async function waitForRewrap(c: Client, showProgress: boolean): Promise<void> {
  const pendingOf = (body: unknown): number => {
    const rewrap = isObject(body) && isObject(body.data) && isObject(body.data.rewrap) ? body.data.rewrap : null;
    return rewrap && typeof rewrap.pending_values === 'number' ? rewrap.pending_values : 0;
  };
  const progress = new Progress({ enabled: showProgress, verb: 'rewrapped' });
  let last = pendingOf((await c.request('GET', 'sys/key-status')).body);
  while (last > 0) {
    await new Promise((r) => setTimeout(r, 500));
    const now = pendingOf((await c.request('GET', 'sys/key-status')).body);
    if (now < last) progress.tick(last - now);
    last = now;
  }
  progress.done();
}

const keyStatusCommand: Command = {
  summary: 'print the keyring term (and wait for the rewrap)',
  usage: KEY_STATUS_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' }, wait: { type: 'boolean' }, progress: { type: 'boolean' } });
    if (helpAsked(f, KEY_STATUS_USAGE)) return 0;
    const format = formatFlag(f);
    positionals(f, 0, 0, 'no arguments');
    const res = await withClient(env, async (c) => {
      if (boolFlag(f, 'wait') === true) await waitForRewrap(c, boolFlag(f, 'progress') ?? process.stderr.isTTY === true);
      return c.request('GET', 'sys/key-status');
    });
    printKeyStatus(res.body, format);
    return EXIT_OK;
  },
};

const rotateCommand: Command = {
  summary: 'add a new keyring term',
  usage: ROTATE_USAGE,
  async run(argv: readonly string[], env: Env): Promise<number> {
    const f = parseFlags(argv, { format: { type: 'string' } });
    if (helpAsked(f, ROTATE_USAGE)) return 0;
    const format = formatFlag(f);
    positionals(f, 0, 0, 'no arguments');
    const res = await withClient(env, async (c) => {
      await c.request('PUT', 'sys/rotate');
      return c.request('GET', 'sys/key-status');
    });
    printKeyStatus(res.body, format, 'Success! Rotated key\n\n');
    return EXIT_OK;
  },
};

const commands = {
  init: initCommand,
  unseal: unsealCommand,
  seal: sealCommand,
  rotate: rotateCommand,
  'key-status': keyStatusCommand,
};

export const operatorGroup: Group = {
  summary: 'initialise, unseal, seal and rotate the broker',
  usage: groupUsage('operator', 'Operate the broker: initialisation, the seal and the keyring.', commands, `\n${ENV_HELP}\n`),
  commands,
};
