// The fast entry serializer must produce exactly the documented canonical form, and node:crypto checkpoint
// signatures must verify with tweetnacl (which is what offline verification uses).
import { randomBytes } from 'node:crypto';
import test from 'ava';
import nacl from 'tweetnacl';
import { canonicalJson } from '../src/core/audit/canonical.ts';
import { buildEntry, serializeEntry, type AuditTrail } from '../src/core/audit/entry.ts';
import { auditHmac } from '../src/core/audit/recorder.ts';
import { createAuditSigner } from '../src/core/audit/signer.ts';
import type { Barrier } from '../src/core/barrier.ts';

const hmac = auditHmac(randomBytes(32));
const trail = (over: Partial<AuditTrail>): AuditTrail => ({
  time: new Date('2026-11-22T10:00:00.123Z'),
  requestId: 'req-1',
  operation: 'update',
  path: 'secret/data/app/db',
  remoteAddress: '127.0.0.1',
  rawInput: { zeta: 'z', data: { b: 'x', a: ['é', '', 1, null, { y: 'q', x: true }], '"quoted\\u0000"': 'v' }, options: { cas: 2 } },
  mount: { id: 'm', path: 'secret/', class: 'secret', type: 'kv', description: '', config: {}, options: {} },
  token: null,
  response: { data: { version: 3, created_time: 't', custom_metadata: null }, warnings: ['w'] },
  error: null,
  ...over,
});

test('serializeEntry is byte for byte the canonical JSON of the entry', (t) => {
  const cases: AuditTrail[] = [
    trail({}),
    trail({ response: null, error: new Error('boom') }),
    trail({
      token: {
        tokenHmac: Buffer.alloc(32),
        accessor: 'acc',
        parentAccessor: null,
        policies: ['b', 'a'],
        displayName: 'kubernetes-ns-web',
        meta: { service_account_namespace: 'ns', role: 'r' },
        path: 'auth/kubernetes/login',
        orphan: true,
        renewable: true,
        creationTtl: 60,
        explicitMaxTtl: 0,
        period: 0,
        numUses: 0,
        createdAt: new Date(),
        expiresAt: null,
        maxExpiresAt: null,
        entityName: 'ns/web',
        alias: { mountAccessor: 'kubernetes_1', mountType: 'kubernetes', name: 'ns/web', metadata: { z: '1', a: '2' } },
      },
      response: { auth: { clientToken: 'sbx.secret', accessor: 'a2', policies: ['p'], tokenPolicies: ['p'], metadata: {}, leaseDuration: 1, renewable: true, orphan: true } },
    }),
  ];
  for (const [i, c] of cases.entries()) {
    const e = buildEntry(c, hmac);
    t.is(serializeEntry(e.fields, i + 7), canonicalJson({ ...e.fields, seq: i + 7 }));
  }
  const s = serializeEntry(buildEntry(trail({}), hmac).fields, 1);
  t.false(s.includes('"z"'), 'request strings are HMACd');
  t.true(s.includes('"zeta"'), 'keys stay readable');
});

test('checkpoint signatures from node:crypto verify with tweetnacl under the published key', (t) => {
  const seed = randomBytes(32);
  const barrier = { deriveKey: () => seed } as unknown as Barrier;
  const signer = createAuditSigner(barrier);
  const msg = canonicalJson({ seq: 5, hash: 'ab', time: '2026-11-22T10:00:00.000Z' });
  const { signature, publicKey } = signer.sign(msg);
  t.deepEqual(Buffer.from(nacl.sign.keyPair.fromSeed(seed).publicKey), publicKey);
  t.true(nacl.sign.detached.verify(Buffer.from(msg), signature, publicKey));
  t.false(nacl.sign.detached.verify(Buffer.from(`${msg} `), signature, publicKey));
});
