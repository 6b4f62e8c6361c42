/**
 * Vault's input rules, applied in one place (the request pipeline) before an operation's zod schema sees the input:
 *
 * - `null` means unset: a field that is null is dropped, unless its schema accepts null itself;
 * - booleans and numbers also arrive as strings (`"true"`, `"3600"`), as Vault's field types parse them;
 * - a comma-separated string where the field takes a list (`"a,b"` → `["a", "b"]`);
 * - numbers and booleans where the field takes a string (`3600` → `"3600"`), as Vault's weak decoding does.
 *
 * It reads what each field accepts from the schema itself (zod 4's definitions), so engines declare plain types and
 * still get Vault's behaviour. Nested objects with a declared shape (mount `config`, KV `options`) follow the same
 * rules; free-form maps (KV data, metadata) are never touched. Anything that does not fit is left as it is, for the
 * schema to refuse with a message that names the field. Durations stay strings and numbers: parseDuration reads them.
 */
import type { z } from 'zod';

type Kind = 'string' | 'number' | 'boolean' | 'array' | 'object' | 'map' | 'null' | 'any';

interface Accepts {
  kinds: Set<Kind>;
  /** The declared shape when the field is an object with one. */
  shape?: Record<string, z.ZodType>;
  /** What a list's items accept. */
  element?: z.ZodType;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: readonly z.ZodType[];
  values?: readonly unknown[];
  element?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  getter?: () => z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

function collect(schema: z.ZodType, into: Accepts, depth: number): void {
  if (depth > 16) {
    into.kinds.add('any');
    return;
  }
  const def = defOf(schema);
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
    case 'success':
      if (def.innerType) collect(def.innerType, into, depth + 1);
      return;
    case 'nullable':
      into.kinds.add('null');
      if (def.innerType) collect(def.innerType, into, depth + 1);
      return;
    case 'pipe':
      if (def.in) collect(def.in, into, depth + 1);
      return;
    case 'lazy':
      if (def.getter) collect(def.getter(), into, depth + 1);
      return;
    case 'union':
      for (const o of def.options ?? []) collect(o, into, depth + 1);
      return;
    case 'string':
    case 'enum':
    case 'template_literal':
      into.kinds.add('string');
      return;
    case 'number':
    case 'int':
    case 'bigint':
      into.kinds.add('number');
      return;
    case 'boolean':
      into.kinds.add('boolean');
      return;
    case 'null':
      into.kinds.add('null');
      return;
    case 'literal':
      for (const v of def.values ?? []) {
        if (v === null) into.kinds.add('null');
        else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') into.kinds.add(typeof v as Kind);
      }
      return;
    case 'array':
      into.kinds.add('array');
      into.element ??= def.element;
      return;
    case 'object':
      into.kinds.add('object');
      into.shape ??= def.shape;
      return;
    case 'record':
    case 'map':
      // Free-form user data: passed through untouched (but a null field is still unset).
      into.kinds.add('map');
      return;
    default:
      into.kinds.add('any');
  }
}

const cache = new WeakMap<z.ZodType, Accepts>();

function accepts(schema: z.ZodType): Accepts {
  let a = cache.get(schema);
  if (!a) {
    a = { kinds: new Set() };
    collect(schema, a, 0);
    cache.set(schema, a);
  }
  return a;
}

/** Go's strconv.ParseBool, which Vault's boolean fields use. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** Whether a value of a field must be dropped (null meaning unset), and otherwise the value to use. */
function coerce(value: unknown, a: Accepts, depth: number): { drop: true } | { drop: false; value: unknown } {
  const k = a.kinds;
  if (value === null) return k.has('null') || k.has('any') ? { drop: false, value } : { drop: true };
  if (k.has('any')) return { drop: false, value };
  if (typeof value === 'object' && !Array.isArray(value) && k.has('map') && !a.shape) return { drop: false, value };
  if (typeof value === 'string') {
    const s = value.trim();
    if (k.has('boolean') && (TRUE.has(s) || FALSE.has(s))) return { drop: false, value: TRUE.has(s) };
    if (k.has('string')) return { drop: false, value };
    if (k.has('number') && NUMBER.test(s)) return { drop: false, value: Number(s) };
    if (k.has('array')) {
      const items = s === '' ? [] : s.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
      return { drop: false, value: list(items, a, depth) };
    }
    return { drop: false, value };
  }
  if (typeof value === 'number') {
    if (k.has('number')) return { drop: false, value };
    if (k.has('string')) return { drop: false, value: String(value) };
    if (k.has('boolean') && (value === 0 || value === 1)) return { drop: false, value: value === 1 };
    if (k.has('array')) return { drop: false, value: list([value], a, depth) };
    return { drop: false, value };
  }
  if (typeof value === 'boolean') {
    if (!k.has('boolean') && k.has('string')) return { drop: false, value: String(value) };
    return { drop: false, value };
  }
  if (Array.isArray(value)) return { drop: false, value: k.has('array') ? list(value, a, depth) : value };
  if (typeof value === 'object' && a.shape) return { drop: false, value: normalizeObject(a.shape, value as Record<string, unknown>, depth + 1) };
  return { drop: false, value };
}

function list(items: readonly unknown[], a: Accepts, depth: number): unknown[] {
  if (!a.element) return [...items];
  const el = accepts(a.element);
  // A null item is kept (for the schema to refuse): only fields are unset by null.
  return items.map((item) => {
    if (item === null) return item;
    const r = coerce(item, el, depth + 1);
    return r.drop ? item : r.value;
  });
}

function normalizeObject(shape: Record<string, z.ZodType>, raw: Record<string, unknown>, depth: number): Record<string, unknown> {
  if (depth > 16) return raw;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const field = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!field) {
      // An unknown field is passed on (the pipeline warns about it), unless it is null: unset, nothing to warn about.
      if (value !== null) out[key] = value;
      continue;
    }
    const r = coerce(value, accepts(field), depth);
    if (!r.drop) out[key] = r.value;
  }
  return out;
}

/** The declared top-level shape of an operation's input schema, if it has one. */
export function inputShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  return accepts(schema).shape;
}

/** Applies Vault's input rules to a request's raw input (see the top of this file). */
export function normalizeVaultInput(schema: z.ZodType, raw: Record<string, unknown>): Record<string, unknown> {
  const shape = inputShape(schema);
  return shape ? normalizeObject(shape, raw, 0) : raw;
}
