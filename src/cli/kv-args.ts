import { readFile } from 'node:fs/promises';
import { ApiError, errorMessage, UsageError } from './errors.ts';

/**
 * `key=value` arguments, as `vault write` and `vault kv put` read them:
 *   key=value   the text after the first "=" (so values may contain "=")
 *   key=@FILE   the contents of FILE, exactly (a certificate, a JSON document)
 *   key=-       the value read from stdin (one trailing newline removed, so `echo s3cret | sealbox kv put … pw=-` stores "s3cret")
 *   -           (alone) a JSON object read from stdin, merged in
 * A key given twice becomes a list (`policies=a policies=b`). Use `key=@FILE` or `key=-` for secrets: a value typed on the
 * command line lands in the shell's history and in `ps`.
 */
export type Data = Record<string, unknown>;

export interface Stdin {
  /** All of stdin, read once; a second call is a usage error (only one argument may read stdin). */
  read(what: string): Promise<string>;
}

export function stdinReader(stream: NodeJS.ReadableStream = process.stdin): Stdin {
  let used: string | undefined;
  return {
    async read(what: string): Promise<string> {
      if (used !== undefined) throw new UsageError(`${what} and ${used} both want to read stdin; only one argument may be "-"`);
      used = what;
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

/** One trailing newline (from `echo` or a here-string) is not part of a value read from stdin. */
export const chompNewline = (s: string): string => s.replace(/\r?\n$/, '');

function add(data: Data, key: string, value: unknown): void {
  if (!Object.hasOwn(data, key)) {
    data[key] = value;
    return;
  }
  const prev = data[key];
  data[key] = Array.isArray(prev) ? [...(prev as unknown[]), value] : [prev, value];
}

export async function parseKeyValues(args: readonly string[], stdin: Stdin): Promise<Data> {
  const data: Data = {};
  for (const [i, arg] of args.entries()) {
    if (arg === '-') {
      const text = await stdin.read('"-"');
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (e) {
        throw new UsageError(`"-" reads a JSON object from stdin, but stdin is not JSON: ${errorMessage(e)}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new UsageError('"-" reads a JSON object from stdin, not an array or a scalar');
      for (const [k, v] of Object.entries(parsed as Data)) add(data, k, v);
      continue;
    }
    const eq = arg.indexOf('=');
    // The argument itself is not repeated: it may be a secret typed without its key.
    if (eq < 0) throw new UsageError(`data argument ${i + 1} has no "=": write key=value, key=@FILE or key=-`);
    if (eq === 0) throw new UsageError(`data argument ${i + 1} starts with "=": the key is missing`);
    const key = arg.slice(0, eq);
    const raw = arg.slice(eq + 1);
    let value: string;
    if (raw === '-') {
      value = chompNewline(await stdin.read(`${key}=-`));
    } else if (raw.startsWith('@')) {
      const file = raw.slice(1);
      if (file === '') throw new UsageError(`${key}=@ needs a file name`);
      try {
        value = await readFile(file, 'utf8');
      } catch (e) {
        throw new ApiError(`${key}=@${file}: cannot read the file: ${errorMessage(e)}`);
      }
    } else {
      value = raw;
    }
    add(data, key, value);
  }
  return data;
}
