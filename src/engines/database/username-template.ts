/**
 * Vault's username templates: a subset of Go's text/template with Vault's functions.
 *
 *   {{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}
 *
 * Supported: text, actions with pipelines (`|`), parentheses, string and number literals, the fields .DisplayName and
 * .RoleName, and the functions random, unix_time, unix_time_millis, truncate, truncate_sha256, uppercase, lowercase,
 * replace, sha256, base64, uuid and printf (%s, %d, %v, %%). `{{-` and `-}}` trim whitespace as in Go.
 */
import { createHash } from 'node:crypto';
import { badRequest } from '../../lib/errors.ts';
import { randomBase62, type Random } from '../../lib/random.ts';

export const DEFAULT_USERNAME_TEMPLATE =
  '{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}';

export interface UsernameContext {
  displayName: string;
  roleName: string;
  now: Date;
  random: Random;
}

type Value = string | number;
type Arg =
  | { kind: 'lit'; value: Value }
  | { kind: 'field'; name: 'DisplayName' | 'RoleName' }
  | { kind: 'fn'; name: string }
  | { kind: 'pipe'; pipeline: Command[] };
type Command = Arg[];
type Node = { kind: 'text'; text: string } | { kind: 'action'; pipeline: Command[] };

export interface UsernameTemplate {
  render(ctx: UsernameContext): string;
}

const fail = (msg: string): never => {
  throw badRequest(`username_template: ${msg}`);
};

const str = (v: Value): string => String(v);
const int = (v: Value | undefined, fn: string): number => {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1024) fail(`${fn}: expected a whole number from 0 to 1024`);
  return n;
};

function printf(format: Value | undefined, args: Value[]): string {
  let i = 0;
  return str(format ?? '').replace(/%([sdv%])/g, (_m, verb: string) => {
    if (verb === '%') return '%';
    const v = args[i++];
    if (v === undefined) return `%!${verb}(MISSING)`;
    return str(v);
  });
}

const FUNCTIONS: Record<string, { arity: [number, number]; call: (args: Value[], ctx: UsernameContext) => Value }> = {
  random: { arity: [1, 1], call: ([n], ctx) => randomBase62(ctx.random, int(n, 'random')) },
  unix_time: { arity: [0, 0], call: (_a, ctx) => Math.floor(ctx.now.getTime() / 1000) },
  unix_time_millis: { arity: [0, 0], call: (_a, ctx) => ctx.now.getTime() },
  uuid: { arity: [0, 0], call: (_a, ctx) => ctx.random.uuid() },
  truncate: { arity: [2, 2], call: ([n, s]) => str(s ?? '').slice(0, int(n, 'truncate')) },
  truncate_sha256: {
    arity: [2, 2],
    call: ([n, s]) => {
      const max = int(n, 'truncate_sha256');
      const text = str(s ?? '');
      if (text.length <= max) return text;
      if (max < 8) fail('truncate_sha256: length must be at least 8');
      return text.slice(0, max - 8) + createHash('sha256').update(text.slice(max - 8)).digest('hex').slice(0, 8);
    },
  },
  uppercase: { arity: [1, 1], call: ([s]) => str(s ?? '').toUpperCase() },
  lowercase: { arity: [1, 1], call: ([s]) => str(s ?? '').toLowerCase() },
  replace: { arity: [3, 3], call: ([from, to, s]) => str(s ?? '').split(str(from ?? '')).join(str(to ?? '')) },
  sha256: { arity: [1, 1], call: ([s]) => createHash('sha256').update(str(s ?? '')).digest('hex') },
  base64: { arity: [1, 1], call: ([s]) => Buffer.from(str(s ?? '')).toString('base64') },
  printf: { arity: [1, 64], call: ([f, ...rest]) => printf(f, rest) },
};

/** Tokenises and parses one action's text into a pipeline. */
function parseAction(src: string): Command[] {
  let i = 0;
  const skipSpace = (): void => {
    while (i < src.length && /\s/.test(src[i] ?? '')) i++;
  };
  const parsePipeline = (closing: string | null): Command[] => {
    const commands: Command[] = [];
    let current: Command = [];
    for (;;) {
      skipSpace();
      const ch = src[i];
      if (ch === undefined || ch === ')') {
        if ((ch === ')') !== (closing === ')')) fail(ch === ')' ? 'unexpected ")"' : 'missing ")"');
        if (ch === ')') i++;
        break;
      }
      if (ch === '|') {
        if (current.length === 0) fail('empty command before "|"');
        commands.push(current);
        current = [];
        i++;
        continue;
      }
      if (ch === '(') {
        i++;
        current.push({ kind: 'pipe', pipeline: parsePipeline(')') });
        continue;
      }
      if (ch === '"') {
        let out = '';
        i++;
        for (;;) {
          const c = src[i++];
          if (c === undefined) fail('unterminated string');
          if (c === '"') break;
          if (c === '\\') {
            const e = src[i++];
            out += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '');
          } else out += c;
        }
        current.push({ kind: 'lit', value: out });
        continue;
      }
      const word = /^[^\s|()"]+/.exec(src.slice(i))?.[0] ?? '';
      i += word.length;
      if (/^-?\d+$/.test(word)) current.push({ kind: 'lit', value: Number(word) });
      else if (word === '.DisplayName' || word === '.RoleName') current.push({ kind: 'field', name: word.slice(1) as 'DisplayName' | 'RoleName' });
      else if (word.startsWith('.')) fail(`unknown field "${word.slice(0, 32)}" (known: .DisplayName, .RoleName)`);
      else if (Object.hasOwn(FUNCTIONS, word)) current.push({ kind: 'fn', name: word });
      else fail(`unknown function "${word.slice(0, 32)}"`);
    }
    if (current.length === 0) fail('empty action or pipeline');
    commands.push(current);
    return commands;
  };
  return parsePipeline(null);
}

function evalArg(arg: Arg, ctx: UsernameContext): Value {
  switch (arg.kind) {
    case 'lit':
      return arg.value;
    case 'field':
      return arg.name === 'DisplayName' ? ctx.displayName : ctx.roleName;
    case 'fn':
      return evalCommand([arg], undefined, ctx);
    case 'pipe':
      return evalPipeline(arg.pipeline, ctx);
  }
}

function evalCommand(cmd: Command, piped: Value | undefined, ctx: UsernameContext): Value {
  const [head, ...rest] = cmd;
  if (head === undefined) return fail('empty command');
  if (head.kind !== 'fn') {
    if (rest.length > 0 || piped !== undefined) fail('only a function can take arguments');
    return evalArg(head, ctx);
  }
  const fn = FUNCTIONS[head.name];
  if (!fn) return fail(`unknown function "${head.name}"`);
  const args = rest.map((a) => evalArg(a, ctx));
  if (piped !== undefined) args.push(piped);
  if (args.length < fn.arity[0] || args.length > fn.arity[1]) fail(`${head.name}: wrong number of arguments`);
  return fn.call(args, ctx);
}

function evalPipeline(pipeline: Command[], ctx: UsernameContext): Value {
  let value: Value | undefined;
  for (const cmd of pipeline) value = evalCommand(cmd, value, ctx);
  return value ?? '';
}

/** Parses a template; throws a 400 naming username_template when it is not valid. */
export function compileUsernameTemplate(source: string): UsernameTemplate {
  const nodes: Node[] = [];
  let rest = source;
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      nodes.push({ kind: 'text', text: rest });
      break;
    }
    let text = rest.slice(0, open);
    let body = rest.slice(open + 2);
    const close = body.indexOf('}}');
    if (close < 0) fail('unclosed action "{{"');
    let after = body.slice(close + 2);
    body = body.slice(0, close);
    if (body.startsWith('-') && /^-\s/.test(body)) {
      text = text.replace(/\s+$/, '');
      body = body.slice(1);
    }
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      after = after.replace(/^\s+/, '');
    }
    if (text !== '') nodes.push({ kind: 'text', text });
    if (!/^\s*\/\*[\s\S]*\*\/\s*$/.test(body)) nodes.push({ kind: 'action', pipeline: parseAction(body) });
    rest = after;
  }
  return {
    render: (ctx) => nodes.map((n) => (n.kind === 'text' ? n.text : str(evalPipeline(n.pipeline, ctx)))).join(''),
  };
}
