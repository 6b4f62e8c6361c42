/**
 * The HCL (version 1) parser behind every document sealbox reads in Vault's syntax (ACL policies, password
 * policies). It builds a small tree from the tokenizer's tokens:
 *
 *   body  := item*                       (items may be separated by commas)
 *   item  := key label* ( "=" value | "{" body "}" )
 *   value := string | heredoc | number | bool | "[" (value ("," value)* ","?)? "]" | "{" body "}"
 *
 * A JSON document (Vault accepts both) becomes the same tree, so one interpreter reads either form.
 */
import { HclSyntaxError, tokenize, type Token } from './tokenize.ts';

export interface HclObject {
  kind: 'object';
  items: HclItem[];
}
export type HclValue = string | number | boolean | HclValue[] | HclObject;
export interface HclItem {
  /** The key, then any labels: `path "secret/*" { … }` has keys ["path", "secret/*"]. */
  keys: string[];
  value: HclValue;
  line: number;
}

export { HclSyntaxError };

const MAX_DEPTH = 64;

export const isObject = (v: HclValue | undefined): v is HclObject => typeof v === 'object' && v !== null && !Array.isArray(v);

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of input';
  if (t.kind === 'string') return `string "${String(t.value).slice(0, 30)}"`;
  return `"${String(t.value).slice(0, 30)}"`;
}

/** Parses HCL text into its top-level body. Throws HclSyntaxError (with line and column) on anything malformed. */
export function parseHcl(text: string): HclObject {
  const tokens = tokenize(text);
  let i = 0;
  const peek = (): Token => tokens[i] ?? (tokens[tokens.length - 1] as Token);
  const next = (): Token => {
    const t = peek();
    if (t.kind !== 'eof') i++;
    return t;
  };
  const fail = (t: Token, message: string): never => {
    throw new HclSyntaxError(message, t.line, t.column);
  };
  const deeper = (depth: number, t: Token): number => {
    if (depth >= MAX_DEPTH) fail(t, `nested deeper than ${MAX_DEPTH} levels`);
    return depth + 1;
  };

  function body(depth: number, closing: '}' | 'eof'): HclObject {
    const items: HclItem[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === closing) return { kind: 'object', items };
      if (t.kind === ',' && items.length > 0) {
        next();
        continue;
      }
      if (t.kind === 'eof') fail(t, 'unexpected end of input: a "{" is not closed');
      items.push(item(depth));
    }
  }

  function item(depth: number): HclItem {
    const first = next();
    if (first.kind !== 'ident' && first.kind !== 'string') fail(first, `expected a key, found ${describe(first)}`);
    const keys = [String(first.value)];
    for (;;) {
      const t = peek();
      if (t.kind === 'string') {
        keys.push(String(next().value));
        continue;
      }
      if (t.kind === '=') {
        if (keys.length > 1) fail(t, `"=" after a label: write ${keys[0]} "label" { … }`);
        next();
        return { keys, value: value(depth), line: first.line };
      }
      if (t.kind === '{') {
        next();
        const inner = body(deeper(depth, t), '}');
        next();
        return { keys, value: inner, line: first.line };
      }
      return fail(t, `expected a quoted label, "=" or "{" after ${keys[0]?.slice(0, 40)}, found ${describe(t)}`);
    }
  }

  function value(depth: number): HclValue {
    const t = next();
    switch (t.kind) {
      case 'string':
      case 'number':
      case 'bool':
        return t.value;
      case '[': {
        const d = deeper(depth, t);
        const out: HclValue[] = [];
        for (;;) {
          if (peek().kind === ']') break;
          out.push(value(d));
          const sep = peek();
          if (sep.kind === ',') {
            next();
            continue;
          }
          if (sep.kind !== ']') fail(sep, `expected "," or "]" in a list, found ${describe(sep)}`);
        }
        next();
        return out;
      }
      case '{': {
        const inner = body(deeper(depth, t), '}');
        next();
        return inner;
      }
      case 'eof':
        return fail(t, 'unexpected end of input: expected a value');
      default:
        return fail(t, `expected a value, found ${describe(t)}`);
    }
  }

  return body(0, 'eof');
}

/** JSON (already parsed) as the same tree; objects' keys become items, in order. */
export function fromJson(doc: unknown, depth = 0): HclValue {
  if (depth > MAX_DEPTH) throw new HclSyntaxError(`nested deeper than ${MAX_DEPTH} levels`, 1, 1);
  if (typeof doc === 'string' || typeof doc === 'number' || typeof doc === 'boolean') return doc;
  if (Array.isArray(doc)) return doc.map((d) => fromJson(d, depth + 1));
  if (typeof doc === 'object' && doc !== null) {
    return { kind: 'object', items: Object.entries(doc).map(([k, v]) => ({ keys: [k], value: fromJson(v, depth + 1), line: 1 })) };
  }
  throw new HclSyntaxError('null is not a value here', 1, 1);
}

/**
 * The blocks named `name` with `labels` labels, whichever way they were written: `rule "charset" { … }`,
 * `rule = { charset = { … } }`, JSON's `"rule": [{"charset": {…}}]`. Each comes with its labels and body.
 */
export function blocks(obj: HclObject, name: string, labels: number): { labels: string[]; body: HclObject; line: number }[] {
  const out: { labels: string[]; body: HclObject; line: number }[] = [];
  const walk = (got: string[], v: HclValue, line: number): void => {
    if (Array.isArray(v)) {
      for (const x of v) walk(got, x, line);
      return;
    }
    if (!isObject(v)) throw new HclSyntaxError(`${name}${got.map((l) => ` "${l.slice(0, 40)}"`).join('')}: expected a block`, line, 1);
    if (got.length > labels) throw new HclSyntaxError(`${name}: too many labels`, line, 1);
    if (got.length === labels) {
      out.push({ labels: got, body: v, line });
      return;
    }
    for (const it of v.items) walk([...got, ...it.keys], it.value, it.line);
  };
  for (const it of obj.items) {
    if (it.keys[0] !== name) continue;
    const got = it.keys.slice(1);
    if (got.length > labels) throw new HclSyntaxError(`${name}: too many labels`, it.line, 1);
    walk(got, it.value, it.line);
  }
  return out;
}

/** A document in either of Vault's forms: JSON when it starts with "{", HCL otherwise. */
export function parseDocument(text: string): HclObject {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{')) return parseHcl(text);
  let doc: unknown;
  try {
    doc = JSON.parse(trimmed);
  } catch {
    throw new HclSyntaxError('malformed JSON', 1, 1);
  }
  const tree = fromJson(doc);
  if (!isObject(tree)) throw new HclSyntaxError('malformed JSON: the document must be an object', 1, 1);
  return tree;
}
