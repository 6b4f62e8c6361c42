// The seam for policies' min_wrapping_ttl / max_wrapping_ttl (issue 15): the compiled ACL may report limits for a path
// (Acl.wrappingLimits), the authorizer passes them on, and the pipeline denies a request outside them as Vault's
// policy/acl.go does. The limits themselves come from the HCL parser (another branch); here a compiled ACL supplies them.
import test from 'ava';
import type { Acl } from '../src/core/acl/compile.ts';
import { createAclAuthorizer, type Policies } from '../src/core/policies.ts';
import type { TokenEntry } from '../src/core/tokens.ts';
import { wrappingAllowed } from '../src/core/wrapping.ts';

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

test('the ACL authorizer hands on the compiled ACL\'s limits, and none for root', async (t) => {
  const acl: Acl = {
    capabilities: () => new Set(['read']),
    wrappingLimits: (path) => (path === 'secret/data/app' ? { minWrappingTtl: 60, maxWrappingTtl: 600 } : null),
  };
  const policies = { aclFor: async () => acl } as unknown as Policies;
  const authorizer = createAclAuthorizer(policies);
  const token = { policies: ['app'] } as unknown as TokenEntry;
  t.deepEqual(await authorizer.wrappingLimits?.(token, 'secret/data/app'), { minWrappingTtl: 60, maxWrappingTtl: 600 });
  t.is(await authorizer.wrappingLimits?.(token, 'secret/data/other'), null);
  t.is(await authorizer.wrappingLimits?.({ policies: ['root'] } as unknown as TokenEntry, 'secret/data/app'), null);
  // An ACL compiled without limits (today's parser) reports none.
  const plain = createAclAuthorizer({ aclFor: async () => ({ capabilities: () => new Set() }) } as unknown as Policies);
  t.is(await plain.wrappingLimits?.(token, 'secret/data/app'), null);
});
