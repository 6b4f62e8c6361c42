import { ApiError, errorMessage, EXIT_API, EXIT_OK, EXIT_USAGE, UsageError } from './errors.ts';
import type { ParsedFlags } from './flags.ts';
import { Client, clientConfigFromEnv } from './http.ts';
import { FieldMissing } from './secret-output.ts';

/**
 * The shape shared by the Vault-like client commands (`sealbox kv get`, `sealbox token create`, …): a command is its
 * usage text and a run function; a group dispatches its first argument to a command or a nested group. Errors become
 * exit codes here, in one place: a UsageError prints the message and the command's usage (exit 1), an ApiError prints
 * `Error: <the server's message> (HTTP <status>)` (exit 2).
 */
export type Env = Readonly<Record<string, string | undefined>>;

export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(argv: readonly string[], env: Env): Promise<number>;
}

export interface Group {
  readonly summary: string;
  readonly usage: string;
  readonly commands: Readonly<Record<string, Command | Group>>;
}

const isGroup = (c: Command | Group): c is Group => 'commands' in c;

/** `sealbox <prefix> <sub> …`: returns the exit code. */
export async function runGroup(prefix: string, group: Group, argv: readonly string[], env: Env): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || ['help', '-h', '-help', '--help'].includes(sub)) {
    (sub === undefined ? process.stderr : process.stdout).write(group.usage);
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const cmd = Object.hasOwn(group.commands, sub) ? group.commands[sub] : undefined;
  if (!cmd) {
    process.stderr.write(`sealbox ${prefix}: unknown command "${sub}"\n\n${group.usage}`);
    return EXIT_USAGE;
  }
  if (isGroup(cmd)) return runGroup(`${prefix} ${sub}`, cmd, rest, env);
  return runCommand(`${prefix} ${sub}`, cmd, rest, env);
}

export async function runCommand(name: string, cmd: Command, argv: readonly string[], env: Env): Promise<number> {
  try {
    return await cmd.run(argv, env);
  } catch (e) {
    if (e instanceof FieldMissing) {
      process.stderr.write(`Error: ${e.message}\n`);
      return EXIT_USAGE;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`sealbox ${name}: ${e.message}\n\n${cmd.usage}`);
      return EXIT_USAGE;
    }
    if (e instanceof ApiError) {
      process.stderr.write(`Error: ${e.message}\n`);
      return EXIT_API;
    }
    process.stderr.write(`sealbox ${name}: ${errorMessage(e)}\n`);
    return EXIT_API;
  }
}

/** Group usage: the summary, then one line per command. */
export function groupUsage(name: string, summary: string, commands: Readonly<Record<string, { summary: string }>>, footer = ''): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length)) + 2;
  const lines = Object.entries(commands).map(([k, c]) => `  ${k.padEnd(width)} ${c.summary}`);
  return `usage: sealbox ${name} <command> [options] [args]\n\n${summary}\n\nCommands:\n${lines.join('\n')}\n\nRun "sealbox ${name} <command> -help" for a command's options.\n${footer}`;
}

/** Runs `fn` with a client configured from the environment, and closes it afterwards. */
export async function withClient<T>(env: Env, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client(clientConfigFromEnv(env));
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** Writes a command's usage on stdout when `-help` was given; true when it did. */
export function helpAsked(f: ParsedFlags, usage: string): boolean {
  if (f.help) process.stdout.write(usage);
  return f.help;
}

/** Exactly `min`..`max` positional arguments, or a usage error naming what is missing. */
export function positionals(f: ParsedFlags, min: number, max: number, what: string): readonly string[] {
  const p = f.positional;
  if (p.length < min) throw new UsageError(`missing ${what}`);
  if (p.length > max) throw new UsageError(`too many arguments (expected ${what}), starting at "${p[max] ?? ''}"`);
  return p;
}

export const out = (s: string): void => {
  process.stdout.write(s);
};

/** A 404 on a read or list means "nothing there": say so the way `vault read` does (still exit 2). */
export async function orNoValue<T>(path: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) throw new ApiError(`No value found at ${path}`, 404);
    throw e;
  }
}

/** "secret/foo" from "/secret/foo" or "secret/foo" (the API paths never start with a slash). */
export const apiPath = (p: string): string => p.replace(/^\/+/, '');
