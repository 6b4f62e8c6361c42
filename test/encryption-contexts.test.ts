/**
 * One typed map of encryption contexts (issue 16 item 6): the barrier's callers and the keyring rewrap job take their
 * contexts from core/barrier/contexts.ts only. The barrier's type accepts nothing else; this test also reads the
 * sources, so that a cast or a hand-written context cannot slip past the type.
 */
import test from 'ava';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CONTEXTS } from '../src/core/barrier/contexts.ts';
import { contextOf } from '../src/core/barrier/keyring-rewrap.ts';

const ROOT = new URL('..', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('the rewrap job finds each stored envelope under the context its writer used', (t) => {
  t.is(contextOf('entries', 'mount-1\u0000app/db'), CONTEXTS.entries('mount-1', 'app/db'));
  t.is(contextOf('core_entries', 'sys/audit/file'), CONTEXTS.core_entries('sys/audit/file'));
  t.is(contextOf('leases', 'database/creds/app/abc'), CONTEXTS.leases('database/creds/app/abc'));
  t.is(contextOf('rotations', 'database/static-role/app'), CONTEXTS.rotations('database/static-role/app'));
});

test('contexts of different kinds never coincide for the same row id', (t) => {
  const id = 'x/y';
  const made = [CONTEXTS.entries('x', 'y'), ...(['core_entries', 'leases', 'lease_intents', 'rotations', 'rotation_probe'] as const).map((k) => CONTEXTS[k](id))];
  t.is(new Set(made).size, made.length, made.join(' '));
});

test('every barrier encrypt/decrypt/rewrap in src/ and bench/ passes a context from the map', (t) => {
  const calls: string[] = [];
  for (const file of [...sources(join(ROOT, 'src')), ...sources(join(ROOT, 'bench'))]) {
    const text = readFileSync(file, 'utf8');
    const rel = relative(ROOT, file);
    if (rel !== 'src/core/barrier/contexts.ts') t.false(/as EncryptionContext/.test(text), `${rel} casts to EncryptionContext`);
    for (const m of text.matchAll(/\bbarrier\.(encrypt|decrypt|rewrap)\(\s*([^,]+),/g)) {
      const arg = m[2]?.trim() ?? '';
      calls.push(`${rel}: ${arg}`);
      t.false(/^[`'"]/.test(arg), `${rel}: a hand-written context ${arg}`);
    }
  }
  t.true(calls.length >= 8, calls.join('\n'));
  // The names a call may use: the map itself, or a file's alias for one of its entries.
  const aliases = /^(CONTEXTS\.[a-z_]+\(|ctxOf\(|entryContext\(|coreEntryContext\(|contextOf\(|e\.ctx$)/;
  for (const c of calls) t.regex(c.split(': ')[1] ?? '', aliases, c);
  for (const [file, alias] of [
    ['src/core/leases/leases.ts', 'const ctxOf = CONTEXTS.leases;'],
    ['src/core/leases/lease-intents.ts', 'const ctxOf = CONTEXTS.lease_intents;'],
    ['src/core/rotations/rotations.ts', 'const ctxOf = CONTEXTS.rotations;'],
    ['src/core/barrier/entry-storage.ts', 'export const entryContext = CONTEXTS.entries;'],
    ['src/core/barrier/core-storage.ts', 'export const coreEntryContext = CONTEXTS.core_entries;'],
  ] as const) {
    t.true(readFileSync(join(ROOT, file), 'utf8').includes(alias), `${file} takes its context from the map`);
  }
});
