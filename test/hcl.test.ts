import test, { type ExecutionContext } from 'ava';
import { blocks, HclSyntaxError, parseDocument, parseHcl } from '../src/lib/hcl/parse.ts';
import { tokenize } from '../src/lib/hcl/tokenize.ts';
import { parsePolicy } from '../src/core/policy/acl/parse.ts';
import { compileAcl } from '../src/core/policy/acl/compile.ts';
import { globbedStringsMatch, parametersAllowed } from '../src/core/policy/acl/parameters.ts';
import { parsePasswordPolicy } from '../src/core/policy/passwords.ts';
import { AppError } from '../src/lib/errors.ts';

const badRequest = (t: ExecutionContext, fn: () => unknown, re: RegExp): void => {
  const err = t.throws(fn);
  t.true(err instanceof AppError && err.code === 'bad_request', String(err));
  t.regex(err?.message ?? '', re);
};

test('tokenizer: strings with escapes, heredocs, numbers, bools, three comment styles', (t) => {
  const toks = tokenize('a = "x\\"y\\n\\u00e9\\U0001F600" # c\n// c2\n/* multi\nline */ b = -12.5e1 c = true d = 0x1F');
  t.deepEqual(
    toks.map((x) => [x.kind, x.value]),
    [
      ['ident', 'a'], ['=', '='], ['string', 'x"y\né😀'],
      ['ident', 'b'], ['=', '='], ['number', -125],
      ['ident', 'c'], ['=', '='], ['bool', true],
      ['ident', 'd'], ['=', '='], ['number', 31],
      ['eof', ''],
    ],
  );
  t.is(toks.find((x) => x.value === 'b')?.line, 4, 'lines count through block comments');
  const doc = parseHcl('text = <<EOT\nline one\n  "two" # not a comment\nEOT\nindented = <<-EOF\n    a\n      b\n    EOF\n');
  t.deepEqual(doc.items.map((i) => i.value), ['line one\n  "two" # not a comment\n', 'a\n  b\n']);
});

test('parser: nested blocks, labels, lists of objects, commas, JSON gives the same tree', (t) => {
  const hcl = parseHcl('path "a/*" { capabilities = ["read", "list",] }\nouter { inner "x" { k = [1, [2, 3], { z = false }] }, other = "o" }');
  t.deepEqual(hcl.items[0]?.keys, ['path', 'a/*']);
  const inner = blocks(hcl, 'outer', 0)[0]?.body;
  t.deepEqual(inner?.items[0]?.keys, ['inner', 'x']);
  const fromHcl = blocks(parseDocument('path "s/*" { capabilities = ["read"] }'), 'path', 1);
  const fromJson = blocks(parseDocument('{"path": {"s/*": {"capabilities": ["read"]}}}'), 'path', 1);
  t.deepEqual(fromHcl.map((b) => [b.labels, b.body.items.map((i) => [i.keys, i.value])]), fromJson.map((b) => [b.labels, b.body.items.map((i) => [i.keys, i.value])]));
});

test('parser: ugly input fails with a line and column, never a crash or a hang', (t) => {
  const cases: [string, RegExp][] = [
    ['a = "open', /line 1, column 5: unterminated string/],
    ['a = "two\nlines"', /newline in a string/],
    ['a = "\\q"', /unknown escape/],
    ['a = "\\u12"', /4 hex digits/],
    ['a = <<EOT\nnever closed\n', /unterminated heredoc/],
    ['/* open', /unterminated \/\* comment/],
    ['a = [1, 2', /expected "," or "\]"|end of input/],
    ['a {', /not closed/],
    ['a = }', /expected a value/],
    ['= 1', /expected a key/],
    ['a "l" = 1', /"=" after a label/],
    ['a = 12abc', /bad number/],
    ['a = @', /unexpected "@"/],
    ['a = "x"\n\u0001', /line 2, column 1: unexpected control character/],
    ['a = ' + '['.repeat(10_000), /nested deeper than 64/],
    ['a ' + '{ b '.repeat(10_000), /nested deeper than 64/],
  ];
  for (const [text, re] of cases) {
    const err = t.throws(() => parseHcl(text), undefined, text.slice(0, 30));
    t.true(err instanceof HclSyntaxError, text.slice(0, 30));
    t.regex(err?.message ?? '', re, text.slice(0, 30));
  }
  // Huge input: a 250 KiB document parses quickly; past the policy limit it is a 400 before any parsing.
  const many = Array.from({ length: 900 }, (_, i) => `path "p/${i}/${'x'.repeat(200)}" { capabilities = ["read"] }`).join('\n');
  t.is(parsePolicy(many).length, 900);
  badRequest(t, () => parsePolicy(`# ${'x'.repeat(300 * 1024)}`), /larger than 256 KiB/);
  badRequest(t, () => parsePolicy('a = "'.repeat(50_001)), /cannot parse HCL: line 1, column \d+: unterminated string/);
});

test('policies: every rule key Vault has for them, parsed; bad keys and values are 400s', (t) => {
  const rules = parsePolicy(`
    path "secret/data/app" {
      capabilities = ["create", "update"]
      allowed_parameters = {
        "Data" = []
        "mode" = ["fast", "slow-*"]
      }
      denied_parameters {
        "owner" = ["root"]
      }
      required_parameters = ["data"]
      min_wrapping_ttl = "1m"
      max_wrapping_ttl = 3600
    }
    path "old/*" { policy = "write" }
    path "gone" { capabilities = ["read", "deny"] allowed_parameters = { "a" = [] } }
  `);
  t.deepEqual(rules[0], {
    path: 'secret/data/app',
    capabilities: ['create', 'update'],
    allowedParameters: { data: [], mode: ['fast', 'slow-*'] },
    deniedParameters: { owner: ['root'] },
    requiredParameters: ['data'],
    minWrappingTtl: 60,
    maxWrappingTtl: 3600,
  });
  t.deepEqual(rules[1]?.capabilities, ['create', 'read', 'update', 'delete', 'list']);
  t.deepEqual(rules[2], { path: 'gone', capabilities: ['deny'] });
  const json = parsePolicy(JSON.stringify({ path: { 'a/*': { capabilities: ['read'], allowed_parameters: { k: ['v'] }, max_wrapping_ttl: '5m' } } }));
  t.deepEqual(json, [{ path: 'a/*', capabilities: ['read'], allowedParameters: { k: ['v'] }, maxWrappingTtl: 300 }]);
  badRequest(t, () => parsePolicy('path "a" { capabilities = ["read"] control_group = {} }'), /invalid key "control_group"/);
  badRequest(t, () => parsePolicy('path "a" { min_wrapping_ttl = "2h" max_wrapping_ttl = "1h" }'), /max_wrapping_ttl cannot be less than min_wrapping_ttl/);
  badRequest(t, () => parsePolicy('path "a" { max_wrapping_ttl = "soon" }'), /max_wrapping_ttl.*not a duration/);
  badRequest(t, () => parsePolicy('path "a" { allowed_parameters = ["x"] }'), /allowed_parameters must be a map/);
  badRequest(t, () => parsePolicy('path "a" { required_parameters = [1] }'), /required_parameters must be a list of names/);
  badRequest(t, () => parsePolicy('pat "a" { }'), /invalid key "pat"/);
  badRequest(t, () => parsePolicy('path x { }'), /cannot parse HCL/);
  badRequest(t, () => parsePolicy('{"path": '), /malformed JSON/);
});

test('parameter constraints: Vault acl.go semantics (denied wins, "*", globs, empty list, required, merging)', (t) => {
  const acl = compileAcl([
    ...parsePolicy('path "kv/x" { capabilities = ["update"] allowed_parameters = { "mode" = ["fast"] "note" = [] } denied_parameters = { "mode" = ["fa*"] } }'),
    ...parsePolicy('path "kv/x" { capabilities = ["read"] allowed_parameters = { "mode" = ["slow"] } required_parameters = ["note"] max_wrapping_ttl = "10m" }'),
    ...parsePolicy('path "kv/x" { max_wrapping_ttl = "5m" }'),
    ...parsePolicy('path "star/*" { capabilities = ["update"] allowed_parameters = { "*" = [] "mode" = ["a"] } }'),
    ...parsePolicy('path "nope" { capabilities = ["update"] denied_parameters = { "*" = [] } }'),
  ]);
  const x = acl.permissions('kv/x');
  t.deepEqual([...x.caps].sort(), ['read', 'update']);
  t.is(x.maxWrappingTtl, 300, 'the shorter max wins');
  t.deepEqual(x.allowedParameters?.mode, ['slow', 'fast'], 'values append');
  t.false(parametersAllowed(x, { mode: 'slow' }), 'required "note" is missing');
  t.true(parametersAllowed(x, { mode: 'slow', note: 'anything' }));
  t.false(parametersAllowed(x, { mode: 'fast', note: '' }), 'denied glob "fa*" wins over allowed "fast"');
  t.false(parametersAllowed(x, { mode: 'slow', note: 'n', extra: 1 }), 'a parameter not allowed');
  t.true(parametersAllowed(x, { MODE: 'slow', note: 'n' }), 'names compare lower-cased');
  const star = acl.permissions('star/y');
  t.true(parametersAllowed(star, { anything: 1, mode: 'a' }));
  t.false(parametersAllowed(star, { mode: 'b' }), '"*" allows other names, not other values of a listed one');
  t.false(parametersAllowed(acl.permissions('nope'), { a: 1 }));
  t.true(parametersAllowed(acl.permissions('nope'), {}), 'no data: nothing to deny');
  t.true(globbedStringsMatch('*mid*', 'a-mid-b') && globbedStringsMatch('pre*', 'prefix') && globbedStringsMatch('*fix', 'suffix'));
  t.false(globbedStringsMatch('*', 'x'), 'a lone "*" is literal in Vault');
  t.false(globbedStringsMatch('a*c', 'abc'), 'no inner globs');
});

test('password policies: the same parser, HCL and JSON', (t) => {
  const hcl = parsePasswordPolicy('length = 24\nrule "charset" {\n  charset = "abc\\u00e9"\n  min-chars = 2\n}\nrule "charset" { charset = "0123456789" }\n');
  t.deepEqual(hcl, { length: 24, rules: [{ charset: 'abcé', minChars: 2 }, { charset: '0123456789', minChars: 0 }] });
  const json = parsePasswordPolicy(JSON.stringify({ length: 24, rule: [{ charset: { charset: 'abcé', 'min-chars': 2 } }, { charset: { charset: '0123456789' } }] }));
  t.deepEqual(json, hcl);
  badRequest(t, () => parsePasswordPolicy('length = 8\nrule "charset" {\n  charset = <<EOT\nxyz\nEOT\n}'), /control characters/);
  badRequest(t, () => parsePasswordPolicy('length = 8\nrule "charset" { charset = "ab" min_chars = 1 }'), /invalid key "min_chars"/);
  badRequest(t, () => parsePasswordPolicy('length = "8"\nrule "charset" { charset = "ab" }'), /length must be a number/);
  badRequest(t, () => parsePasswordPolicy('length = 8\nrule "charset" { charset = "ab'), /cannot parse HCL: line 2, column 28: unterminated string/);
  badRequest(t, () => parsePasswordPolicy('{"length": 8,'), /malformed JSON/);
});
