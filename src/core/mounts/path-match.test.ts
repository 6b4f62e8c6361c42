import test from 'ava';
import type { PathDef } from '../engine.ts';
import { createPathMatcher } from './path-match.ts';

const def = (pattern: string): PathDef => ({ pattern, operations: {} });

test('literal segments match exactly and nothing more or less', (t) => {
  const match = createPathMatcher([def('config/lease')]);
  t.truthy(match('config/lease'));
  t.is(match('config'), null);
  t.is(match('config/lease/extra'), null);
  t.is(match('config/Lease'), null, 'case matters');
  t.is(match(''), null);
});

test(':name takes exactly one segment, and an empty segment is still one', (t) => {
  const match = createPathMatcher([def('roles/:name')]);
  t.deepEqual(match('roles/web')?.params, { name: 'web' });
  t.is(match('roles/web/extra'), null);
  t.is(match('roles'), null);
  // "roles/" splits into ["roles", ""]: the parameter is the empty string; validating it is the handler's job.
  t.deepEqual(match('roles/')?.params, { name: '' });
});

test('*name takes one or more segments, less the literal tail that follows it', (t) => {
  const match = createPathMatcher([def('mounts/*path/tune'), def('data/*path')]);
  t.deepEqual(match('mounts/a/b/c/tune')?.params, { path: 'a/b/c' });
  t.deepEqual(match('mounts/a/tune')?.params, { path: 'a' });
  t.is(match('mounts/tune'), null, 'the star needs at least one segment before the tail');
  t.is(match('mounts/a/b/other'), null, 'the literal tail must be there');
  t.deepEqual(match('data/x/y/z')?.params, { path: 'x/y/z' });
  t.is(match('data'), null);
});

test('overlapping patterns: the one that declares it overrides the other is tried first; an undeclared overlap is refused', (t) => {
  const specific: PathDef = { ...def('roles/admin'), overrides: ['roles/:name'] };
  const generic = def('roles/:name');
  t.is(createPathMatcher([specific, generic])('roles/admin')?.def, specific);
  t.is(createPathMatcher([specific, generic])('roles/other')?.def, generic);
  t.throws(() => createPathMatcher([def('roles/admin'), generic]), { message: /overlap/ });
  t.throws(() => createPathMatcher([generic, def('roles/admin')]), { message: /overlap/ });
});

test('the empty pattern matches only the mount root, and several parameters are all captured', (t) => {
  const root = def('');
  const match = createPathMatcher([root, def('issuer/:ref/sign/:role')]);
  t.is(match('')?.def, root);
  t.deepEqual(match('issuer/default/sign/web')?.params, { ref: 'default', role: 'web' });
  t.is(match('issuer/default/sign'), null);
});

test('a matcher over no paths matches nothing', (t) => {
  t.is(createPathMatcher([])('anything'), null);
  t.is(createPathMatcher([])(''), null);
});
