import { UsageError } from './errors.ts';

/**
 * Vault-style flag parsing: `-flag value`, `-flag=value`, `--flag value` and `--flag=value` are all accepted, anywhere on
 * the line; `--` ends the flags. Names are matched with `_` and `-` treated alike (`-path_prefix` = `-path-prefix`).
 * Boolean flags take no value (`-progress`), or an explicit `=true`/`=false`.
 */
export type FlagType = 'string' | 'boolean';

export interface FlagSpec {
  readonly type: FlagType;
  /** Other names for the same flag, e.g. `o` for `output`. */
  readonly aliases?: readonly string[];
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

export interface ParsedFlags {
  /** The last value given for each flag. */
  readonly values: ReadonlyMap<string, string | boolean>;
  /** Every value given for each string flag, in order (for repeatable flags such as `-policy a -policy b`). */
  readonly all: ReadonlyMap<string, readonly string[]>;
  readonly positional: readonly string[];
  readonly help: boolean;
}

const norm = (name: string): string => name.replaceAll('_', '-').toLowerCase();

export function parseFlags(argv: readonly string[], specs: FlagSpecs): ParsedFlags {
  const byName = new Map<string, [string, FlagSpec]>();
  for (const [name, spec] of Object.entries(specs)) {
    byName.set(norm(name), [name, spec]);
    for (const a of spec.aliases ?? []) byName.set(norm(a), [name, spec]);
  }
  const values = new Map<string, string | boolean>();
  const all = new Map<string, string[]>();
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positional.push(arg);
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const rawName = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    if (['h', 'help'].includes(norm(rawName)) && !byName.has(norm(rawName))) {
      help = true;
      continue;
    }
    const found = byName.get(norm(rawName));
    if (!found) throw new UsageError(`unknown flag "-${rawName}"`);
    const [name, spec] = found;
    if (spec.type === 'boolean') {
      if (inline === undefined) values.set(name, true);
      else if (/^(true|1|yes)$/i.test(inline)) values.set(name, true);
      else if (/^(false|0|no)$/i.test(inline)) values.set(name, false);
      else throw new UsageError(`flag -${name} takes true or false, not "${inline}"`);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw new UsageError(`flag -${name} needs a value`);
      i++;
    }
    values.set(name, value);
    all.set(name, [...(all.get(name) ?? []), value]);
  }
  return { values, all, positional, help };
}

export function stringFlag(f: ParsedFlags, name: string): string | undefined {
  const v = f.values.get(name);
  return typeof v === 'string' ? v : undefined;
}

/** Every value of a repeatable string flag; `-policy=a,b` counts as two when `commas` is set. */
export function listFlag(f: ParsedFlags, name: string, commas = false): string[] {
  const vs = f.all.get(name) ?? [];
  return commas ? vs.flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '') : [...vs];
}

export function boolFlag(f: ParsedFlags, name: string): boolean | undefined {
  const v = f.values.get(name);
  return typeof v === 'boolean' ? v : undefined;
}

/** A whole number in [min, max], or undefined when the flag is absent. */
export function intFlag(f: ParsedFlags, name: string, min: number, max: number): number | undefined {
  const v = stringFlag(f, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw new UsageError(`flag -${name} must be a whole number, not "${v}"`);
  const n = Number(v.trim());
  if (n < min || n > max) throw new UsageError(`flag -${name} must be between ${min} and ${max}`);
  return n;
}

/** `-format=table|json`. */
export function formatFlag(f: ParsedFlags): 'table' | 'json' {
  const v = (stringFlag(f, 'format') ?? 'table').toLowerCase();
  if (v !== 'table' && v !== 'json') throw new UsageError(`flag -format must be "table" or "json", not "${v}"`);
  return v;
}
