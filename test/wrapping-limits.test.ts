// The seam for policies' min_wrapping_ttl / max_wrapping_ttl (issue 15): the compiled ACL may report limits for a path
// (Acl.permissions), the authorizer's check passes them on, and the pipeline denies a request outside them as Vault's
// policy/acl.go does. Here a stand-in compiled ACL supplies them; test/policy-parameters.test.ts covers real policy documents.
import test from 'ava';
import type { Acl, Permissions } from '../src/core/policy/acl/compile.ts';
import { createAclAuthorizer, type Policies } from '../src/core/policy/policies.ts';
import type { TokenEntry } from '../src/core/tokens/tokens.ts';
import { wrappingAllowed } from '../src/core/tokens/wrapping.ts';

test('no limits: wrapped or not, the request passes', (t) => {
  t.true(wrappingAllowed(null, undefined));
  t.true(wrappingAllowed({}, 30));
  t.true(wrappingAllowed({ minWrappingTtl: 0, maxWrappingTtl: 0 }, undefined));
});

test('either limit set: only a wrapped request within the limits passes', (t) => {
  t.false(wrappingAllowed({ maxWrappingTtl: 300 }, undefined), 'not wrapped');
  t.false(wrappingAllowed({ minWrappingTtl: 60 }, 0), 'not wrapped');
  t.true(wrappingAllowed({ maxWrappingTtl: 300 }, 300));
  t.false(wrappingAllowed({ maxWrappingTtl: 300 }, 301));
  t.true(wrappingAllowed({ minWrappingTtl: 60 }, 60));
  t.false(wrappingAllowed({ minWrappingTtl: 60 }, 59));
  t.true(wrappingAllowed({ minWrappingTtl: 60, maxWrappingTtl: 300 }, 120));
  t.false(wrappingAllowed({ minWrappingTtl: 300, maxWrappingTtl: 60 }, 120), 'merged limits with min above max never pass');
});

test('the ACL authorizer hands on the deciding rule\'s limits, and none for root', async (t) => {
  const permissions = (path: string): Permissions =>
    path === 'secret/data/app' ? { caps: new Set(['read']), minWrappingTtl: 60, maxWrappingTtl: 600 } : { caps: new Set(['read']) };
  const acl: Acl = { capabilities: (path) => permissions(path).caps, permissions, anyUnder: () => true };
  const policies = { aclFor: async () => acl } as unknown as Policies;
  const authorizer = createAclAuthorizer(policies);
  const token = { policies: ['app'] } as unknown as TokenEntry;
  t.deepEqual(await authorizer.check(token, 'secret/data/app', 'read', false, {}), { allowed: true, minWrappingTtl: 60, maxWrappingTtl: 600 });
  t.deepEqual(await authorizer.check(token, 'secret/data/other', 'read', false, {}), { allowed: true });
  t.deepEqual(await authorizer.check({ policies: ['root'] } as unknown as TokenEntry, 'secret/data/app', 'read', false, {}), { allowed: true });
});
