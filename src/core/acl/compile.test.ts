import test from 'ava';
import { compileAcl, couldMatchUnder } from './compile.ts';
import { parsePolicy, type PolicyRule } from './parse.ts';

const caps = (rules: readonly PolicyRule[], path: string): string[] => [...compileAcl(rules).capabilities(path)].sort();
const hcl = (text: string): PolicyRule[] => parsePolicy(text);

test('an exact path grants only itself; a trailing * grants every suffix, "/" included', (t) => {
  const rules = hcl(`
    path "secret/data/app" { capabilities = ["read"] }
    path "secret/data/team/*" { capabilities = ["list"] }
  `);
  t.deepEqual(caps(rules, 'secret/data/app'), ['read']);
  t.deepEqual(caps(rules, 'secret/data/app2'), []);
  t.deepEqual(caps(rules, 'secret/data/team/a/b/c'), ['list']);
  t.deepEqual(caps(rules, 'secret/data/team/'), ['list']);
  t.deepEqual(caps(rules, 'secret/data/team'), [], 'the glob needs its "/"');
});

test('"+" is exactly one segment', (t) => {
  const rules = hcl('path "secret/+/config" { capabilities = ["read"] }');
  t.deepEqual(caps(rules, 'secret/a/config'), ['read']);
  t.deepEqual(caps(rules, 'secret/a/b/config'), []);
  t.deepEqual(caps(rules, 'secret/config'), []);
});

test("the most specific path wins, as Vault orders them (not a union of every match)", (t) => {
  const rules = hcl(`
    path "secret/*" { capabilities = ["read", "list"] }
    path "secret/data/*" { capabilities = ["update"] }
    path "secret/data/exact" { capabilities = ["delete"] }
    path "secret/+/plus" { capabilities = ["create"] }
  `);
  t.deepEqual(caps(rules, 'secret/other'), ['list', 'read']);
  t.deepEqual(caps(rules, 'secret/data/x'), ['update'], 'a longer glob beats a shorter one');
  t.deepEqual(caps(rules, 'secret/data/exact'), ['delete'], 'an exact path beats every glob');
  // First wildcard later wins: "secret/data/*" has its first wildcard at 12, "secret/+/plus" at 7.
  t.deepEqual(caps(rules, 'secret/data/plus'), ['update']);
  t.deepEqual(caps(rules, 'secret/meta/plus'), ['create']);
});

test('rules for the same path from several policies merge; a deny among them denies everything', (t) => {
  const a = hcl('path "kv/x" { capabilities = ["read"] }');
  const b = hcl('path "kv/x" { capabilities = ["update", "list"] }');
  const d = hcl('path "kv/x" { capabilities = ["deny"] }');
  t.deepEqual(caps([...a, ...b], 'kv/x'), ['list', 'read', 'update']);
  t.deepEqual(caps([...a, ...d, ...b], 'kv/x'), ['deny'], 'deny wins whatever the order');
  t.deepEqual(caps([...d, ...a], 'kv/x'), ['deny']);
});

test('parameter lists append across merged rules; an empty list (any value) overrides; deny drops them', (t) => {
  const one = hcl('path "p" { capabilities = ["update"]\n allowed_parameters = { "ttl" = ["1h"] } }');
  const two = hcl('path "p" { capabilities = ["update"]\n allowed_parameters = { "ttl" = ["2h"], "name" = [] } }');
  const anyTtl = hcl('path "p" { capabilities = ["update"]\n allowed_parameters = { "ttl" = [] } }');
  const merged = compileAcl([...one, ...two]).permissions('p');
  t.deepEqual(merged.allowedParameters?.ttl?.slice().sort(), ['1h', '2h']);
  t.deepEqual(merged.allowedParameters?.name, []);
  t.deepEqual(compileAcl([...one, ...anyTtl]).permissions('p').allowedParameters?.ttl, []);
  const denied = compileAcl([...one, ...hcl('path "p" { capabilities = ["deny"] }')]).permissions('p');
  t.is(denied.allowedParameters, undefined);
});

test('the shorter wrapping TTL bound wins when rules merge', (t) => {
  const rules = hcl(`
    path "w" { capabilities = ["read"]
      min_wrapping_ttl = "1m"
      max_wrapping_ttl = "1h" }
    path "w" { capabilities = ["read"]
      min_wrapping_ttl = "30s"
      max_wrapping_ttl = "10m" }
  `);
  const p = compileAcl(rules).permissions('w');
  t.is(p.minWrappingTtl, 30);
  t.is(p.maxWrappingTtl, 600);
});

test('anyUnder sees grants below a mount, ignores deny-only rules and paths elsewhere', (t) => {
  const acl = compileAcl(hcl(`
    path "secret/data/app" { capabilities = ["read"] }
    path "other/*" { capabilities = ["deny"] }
  `));
  t.true(acl.anyUnder('secret/'));
  t.false(acl.anyUnder('other/'), 'only a deny there');
  t.false(acl.anyUnder('unrelated/'));
  t.true(compileAcl(hcl('path "+/shared" { capabilities = ["read"] }')).anyUnder('anything/'), 'a "+" first segment can be under any mount');
  t.false(compileAcl([]).anyUnder('secret/'));
});

test('couldMatchUnder compares segment by segment, with a trailing glob as a prefix', (t) => {
  t.true(couldMatchUnder('secret/data/x', 'secret/'));
  t.true(couldMatchUnder('sec*', 'secret/'));
  t.false(couldMatchUnder('secret', 'secret/data/'), 'a shorter rule cannot reach below');
  t.false(couldMatchUnder('kv/*', 'secret/'));
  t.true(couldMatchUnder('+/x', 'pki/'));
});

test('no rule, or a path nobody wrote, grants nothing (and repeated lookups answer the same)', (t) => {
  const acl = compileAcl(hcl('path "a/*" { capabilities = ["read"] }'));
  for (let i = 0; i < 3; i++) t.deepEqual([...acl.capabilities('b/c')], []);
  t.deepEqual([...compileAcl([]).capabilities('')], []);
});
