// Vault's input rules in one place (src/lib/vault-input.ts, applied by the pipeline before every schema) and Go
// durations (src/lib/durations.ts).
import test from 'ava';
import { z } from 'zod';
import { parseDuration } from '../src/lib/durations.ts';
import { AppError } from '../src/lib/errors.ts';
import { boolField, durationField, stringListField } from '../src/lib/vault-fields.ts';
import { normalizeVaultInput } from '../src/lib/vault-input.ts';

const schema = z.object({
  description: z.string().optional(),
  local: z.boolean().optional(),
  renewable: boolField.optional(),
  num_uses: z.number().int().optional(),
  ttl: durationField.optional(),
  policies: z.array(z.string()).optional(),
  alt_names: stringListField.optional(),
  ports: z.array(z.number()).optional(),
  common_name: z.string().optional(),
  schedule: z.string().nullable().optional(),
  config: z.object({ default_lease_ttl: durationField.optional(), force_no_cache: z.boolean().optional(), description: z.string().optional() }).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

test('null means unset for every field, unless the field itself takes null', (t) => {
  const input = normalizeVaultInput(schema, { description: null, local: null, config: null, policies: null, schedule: null, unknown: null });
  t.deepEqual(input, { schedule: null });
  t.true(schema.safeParse(input).success);
});

test('booleans and numbers also arrive as strings, as Go parses them', (t) => {
  const input = normalizeVaultInput(schema, { local: 'true', renewable: 'False', num_uses: '3', ttl: '3600' });
  t.deepEqual(input, { local: true, renewable: false, num_uses: 3, ttl: '3600' });
  t.deepEqual(normalizeVaultInput(schema, { local: '1', renewable: 't', num_uses: 4 }), { local: true, renewable: true, num_uses: 4 });
});

test('comma-separated strings where the field takes a list; numbers and booleans where it takes a string', (t) => {
  const input = normalizeVaultInput(schema, { policies: 'a, b,,c', ports: '80,443', alt_names: 'x.example, y.example', common_name: 42 });
  t.deepEqual(input, { policies: ['a', 'b', 'c'], ports: [80, 443], alt_names: 'x.example, y.example', common_name: '42' });
  const parsed = schema.parse(input);
  t.deepEqual(parsed.alt_names, ['x.example', 'y.example']);
});

test('nested objects with a shape follow the rules; free-form maps are never touched', (t) => {
  const input = normalizeVaultInput(schema, {
    config: { default_lease_ttl: null, force_no_cache: 'true', description: null },
    data: { a: null, b: 'true', c: '1,2' },
  });
  t.deepEqual(input, { config: { force_no_cache: true }, data: { a: null, b: 'true', c: '1,2' } });
});

test('a wrong type is left for the schema, which names the field; unknown fields pass on (the pipeline warns)', (t) => {
  const input = normalizeVaultInput(schema, { num_uses: 'lots', local: 'yes', extra: 1 });
  t.deepEqual(input, { num_uses: 'lots', local: 'yes', extra: 1 });
  const r = schema.safeParse(input);
  t.false(r.success);
  t.deepEqual(r.error?.issues.map((i) => i.path.join('.')).sort(), ['local', 'num_uses']);
});

test('durations: seconds, Go durations (as cert-manager sends them), days; the field is named on error', (t) => {
  t.is(parseDuration('2160h0m0s', 'ttl'), 2160 * 3600);
  t.is(parseDuration('1h30m', 'ttl'), 5400);
  t.is(parseDuration('1.5h', 'ttl'), 5400);
  t.is(parseDuration('0.1h', 'ttl'), 360);
  t.is(parseDuration('1500ms', 'ttl'), 1);
  t.is(parseDuration('3600', 'ttl'), 3600);
  t.is(parseDuration(3600, 'ttl'), 3600);
  t.is(parseDuration('7d', 'ttl'), 7 * 86400);
  t.is(parseDuration('', 'ttl'), 0);
  for (const bad of ['-1h', '1y', 'h', '1h 30m', -5]) {
    const e = t.throws(() => parseDuration(bad, 'ttl'));
    t.true(e instanceof AppError && e.message.startsWith('ttl: '), String(e?.message));
  }
});
