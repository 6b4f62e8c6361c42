// Vault's hasMountAccess, which sys/internal/ui/mounts/:path applies: some capability (not deny) on some path of the mount.
import test from 'ava';
import { compileAcl, couldMatchUnder } from '../src/core/policy/acl/compile.ts';
import { parsePolicy } from '../src/core/policy/acl/parse.ts';

const acl = (hcl: string) => compileAcl(parsePolicy(hcl));

test('a rule inside the mount, one covering it, or one with "+" segments that can reach into it gives access; deny and rules elsewhere do not', (t) => {
  t.true(acl('path "secret/data/app/*" { capabilities = ["read"] }').anyUnder('secret/'));
  t.true(acl('path "secret/metadata/app" { capabilities = ["list"] }').anyUnder('secret/'));
  t.true(acl('path "sec*" { capabilities = ["read"] }').anyUnder('secret/'));
  t.true(acl('path "*" { capabilities = ["read"] }').anyUnder('team/kv/'));
  t.true(acl('path "+/data/x" { capabilities = ["read"] }').anyUnder('secret/'));
  t.true(acl('path "team/+/data/*" { capabilities = ["update"] }').anyUnder('team/a/'));

  t.false(acl('path "secret/data/*" { capabilities = ["deny"] }').anyUnder('secret/'));
  t.false(acl('path "secretive/data/*" { capabilities = ["read"] }').anyUnder('secret/'));
  t.false(acl('path "other/*" { capabilities = ["read"] }').anyUnder('secret/'));
  t.false(acl('path "team/b/*" { capabilities = ["read"] }').anyUnder('team/a/'));
  t.false(acl('path "s/*" { capabilities = ["read"] }').anyUnder('secret/'));
  t.false(acl('').anyUnder('secret/'));
  // A deny on one path does not hide the mount when another path in it is granted.
  t.true(acl('path "secret/data/a" { capabilities = ["deny"] }\npath "secret/data/b" { capabilities = ["read"] }').anyUnder('secret/'));
});

test('couldMatchUnder compares whole segments', (t) => {
  t.true(couldMatchUnder('auth/token/lookup-self', 'auth/token/'));
  t.false(couldMatchUnder('auth/tokens/x', 'auth/token/'));
  t.true(couldMatchUnder('auth/tok*', 'auth/token/'));
  t.false(couldMatchUnder('auth', 'auth/token/'));
});
