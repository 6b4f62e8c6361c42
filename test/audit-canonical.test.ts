// The fast entry serializer must produce exactly the documented canonical form, every request and response value
// (numbers and booleans included) is HMAC'd with its type, and node:crypto note signatures verify with tweetnacl.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import nacl from 'tweetnacl';
import { canonicalJson } from '../src/core/audit/canonical.ts';
import { buildEntry, serializeEntry, type AuditTrail } from '../src/core/audit/entry.ts';
import { auditHmac } from '../src/core/audit/recorder.ts';
import { createAuditSigner } from '../src/core/audit/signer.ts';
import { encodeVkey, keyId, parseNote, parseVkey, SIG_COSIGNATURE_V1, SIG_ED25519 } from '../src/core/audit/note.ts';
import type { Barrier } from '../src/core/barrier/barrier.ts';

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

test('numbers and booleans are HMACd like strings, with their type in the prefix; null and keys stay', (t) => {
  const e = buildEntry(trail({ rawInput: { pin: 918273, on: true, off: false, ratio: 1.5, none: null, list: [[7, 'x'], { deep: 42 }] } }), hmac);
  const s = serializeEntry(e.fields, 1);
  for (const v of ['918273', '1.5', '"on":true', '"off":false', '"deep":42', '[7,']) t.false(s.includes(v), `${v} is not in clear`);
  const data = (e.fields.request.data as Record<string, unknown>);
  t.is(data.pin, hmac('918273').replace('hmac-sha256:', 'hmac-sha256:number:'));
  t.is(data.on, hmac('true').replace('hmac-sha256:', 'hmac-sha256:boolean:'));
  t.is(data.none, null);
  t.deepEqual(Object.keys(data).sort(), ['list', 'none', 'off', 'on', 'pin', 'ratio']);
  t.regex(String((data.list as unknown[][])[0]?.[0]), /^hmac-sha256:number:[0-9a-f]{64}$/);
});

test('checkpoint notes signed with node:crypto verify with tweetnacl under the published key', (t) => {
  const seed = randomBytes(32);
  const barrier = { deriveKey: () => seed } as unknown as Barrier;
  const signer = createAuditSigner(barrier);
  const body = `${signer.origin()}\n5\n${Buffer.alloc(32, 7).toString('base64')}\n`;
  const note = parseNote(signer.signNote(body));
  const sig = note?.signatures[0];
  t.truthy(sig);
  const publicKey = signer.publicKey();
  t.deepEqual(Buffer.from(nacl.sign.keyPair.fromSeed(seed).publicKey), publicKey);
  t.deepEqual(sig?.id, keyId(signer.origin(), SIG_ED25519, publicKey));
  t.true(nacl.sign.detached.verify(Buffer.from(body), sig?.payload ?? Buffer.alloc(0), publicKey));
  t.false(nacl.sign.detached.verify(Buffer.from(`${body} `), sig?.payload ?? Buffer.alloc(0), publicKey));
});

test('verifier keys parse whatever their base64 holds: "+" and "/" in the key are not separators', (t) => {
  // Seeded keys, so the case is the same on every run: find keys whose base64 has a '+' and a '/'.
  const keys: Buffer[] = [];
  for (let i = 0; keys.length < 2 && i < 10_000; i++) {
    const pk = Buffer.alloc(32, i & 0xff);
    pk.writeUInt32BE(i, 0);
    const b64 = Buffer.concat([Buffer.from([SIG_ED25519]), pk]).toString('base64');
    if ((keys.length === 0 && b64.includes('+')) || (keys.length === 1 && b64.includes('/'))) keys.push(pk);
  }
  t.is(keys.length, 2);
  for (const pk of keys) {
    for (const type of [SIG_ED25519, SIG_COSIGNATURE_V1]) {
      const parsed = parseVkey(encodeVkey('witness.example/w1', type, pk));
      t.truthy(parsed, 'parsed');
      t.deepEqual(parsed && Buffer.from(parsed.publicKey), pk);
      t.is(parsed?.type, type);
    }
  }
  t.is(parseVkey('name+00000000'), null);
  t.is(parseVkey('na me+00000000+AQ=='), null);
});
