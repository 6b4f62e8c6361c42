// The engine contract's build-time checks: overlapping path patterns are refused unless one overrides the other.
import test from 'ava';
import { z } from 'zod';
import { op, type PathDef } from '../src/core/engine.ts';
import { createPathMatcher } from '../src/core/mounts/path-match.ts';
import { overlapError, patternsOverlap } from '../src/core/mounts/path-overlap.ts';
import { sysMountsPaths } from '../src/core/builtins/sys-mounts.ts';

const read = { read: op(z.object({}), async () => ({})) };
const def = (pattern: string, overrides?: string[]): PathDef => ({ pattern, operations: read, ...(overrides ? { overrides } : {}) });

test('patterns overlap when some path matches both', (t) => {
  t.true(patternsOverlap('roles/:name', 'roles/admin'));
  t.true(patternsOverlap('mounts/*path', 'mounts/*path/tune'));
  t.true(patternsOverlap('data/*path', 'data/:name'));
  t.true(patternsOverlap('a/*x/b', 'a/c/*y'));
  t.true(patternsOverlap('', ''));
  t.false(patternsOverlap('roles', 'roles/:name'));
  t.false(patternsOverlap('roles/:name', 'role/:name'));
  t.false(patternsOverlap('issuer/:ref/pem', 'issuer/:ref/der'));
  t.false(patternsOverlap('a/*x/b', 'a/*x/c'));
  t.false(patternsOverlap('*path', ''));
});

test('an engine with overlapping patterns is refused when its matcher is built', (t) => {
  t.throws(() => createPathMatcher([def('roles/:name'), def('roles/admin')]), { message: /"roles\/:name" and "roles\/admin" overlap/ });
  t.throws(() => createPathMatcher([def('creds/*path'), def('creds/:role')]), { message: /overlap/ });
  // An override must be declared by the earlier path, which then takes the shared paths.
  t.throws(() => createPathMatcher([def('mounts/*path'), def('mounts/*path/tune', ['mounts/*path'])]), { message: /overrides "mounts\/\*path" but comes after it/ });
  const match = createPathMatcher([def('mounts/*path/tune', ['mounts/*path']), def('mounts/*path')]);
  t.is(match('mounts/a/b/tune')?.def.pattern, 'mounts/*path/tune');
  t.deepEqual(match('mounts/a/b/tune')?.params, { path: 'a/b' });
  t.is(match('mounts/a/b')?.def.pattern, 'mounts/*path');
  t.is(overlapError([def('cert/ca', ['cert/:serial']), def('cert/:serial'), def('certs')]), null);
});

test('sys/mounts: the auth tune alias and the tune paths override the catch-all mount paths, so the list builds', (t) => {
  const paths = sysMountsPaths({ mounts: {} as never });
  t.is(overlapError(paths), null);
  const match = createPathMatcher(paths);
  t.is(match('mounts/auth/approle/tune')?.def.pattern, 'mounts/auth/*path/tune');
  t.is(match('mounts/secret/tune')?.def.pattern, 'mounts/*path/tune');
  t.is(match('mounts/a/b')?.def.pattern, 'mounts/*path');
  // Without its overrides the alias is refused.
  const alias = paths.find((d) => d.pattern === 'mounts/auth/*path/tune');
  t.truthy(alias);
  t.regex(overlapError(paths.map((d) => (d === alias ? { pattern: d.pattern } : d))) ?? '', /"mounts\/auth\/\*path\/tune" and "mounts\/\*path\/tune" overlap/);
});
