// Issue 20 (security gap): a rotation's grace decides how long the rotated-out credential keeps working, so the row MAC
// binds grace_seconds. Rows signed before the column was bound (seven fields) still verify while their grace is null
// (the broker default), and fail as soon as a writer without the key sets one.
import { createHmac, randomBytes } from 'node:crypto';
import test from 'ava';
import { createRowMac, ROW_MAC_PURPOSE } from '../src/core/integrity/row-mac.ts';
import { rotationFields } from '../src/core/integrity/rows.ts';
import { deriveKey } from '../src/lib/crypto.ts';
import { createLogger } from '../src/lib/log.ts';

const root = randomBytes(32);
const lines: string[] = [];
const log = createLogger({ level: 'error', destination: { write: (s: string) => void lines.push(s) } });
const mac = createRowMac({ deriveKey: (p) => deriveKey(root, p), log, enabled: true });
const row = { id: 'database/static-roles/app', mountId: 'm1', kind: 'static-role', target: 'app', schedule: null, periodSeconds: 3600, paused: false };

test('grace_seconds is bound: a grace set without the key fails the check, one signed through the broker passes', (t) => {
  const signed = mac.sign('rotations', rotationFields({ ...row, graceSeconds: 600 }));
  t.true(mac.ok('rotations', rotationFields({ ...row, graceSeconds: 600 }), signed));
  t.false(mac.ok('rotations', rotationFields({ ...row, graceSeconds: 30 * 86400 }), signed), 'a longer grace written by SQL');
  t.false(mac.ok('rotations', rotationFields({ ...row, graceSeconds: null }), signed), 'a grace cleared by SQL (back to the default)');
  t.true(lines.some((l) => l.includes('"table":"rotations"') && l.includes(row.id)), 'the failure is logged with table and key');
});

test('a row signed over the seven earlier fields verifies while its grace is null, and fails once a grace is written into it', (t) => {
  // What a broker before this change wrote: the same HMAC over the first seven fields.
  const canonicalOld = `a7[s${row.id.length}:${row.id}s2:m1s11:static-roles3:appni3600;f]`;
  const key = deriveKey(root, ROW_MAC_PURPOSE);
  const old = createHmac('sha256', key).update('sealbox-row/v1\u0000rotations\u0000').update(canonicalOld).digest();
  t.true(mac.ok('rotations', rotationFields({ ...row, graceSeconds: null }), old));
  t.false(mac.ok('rotations', rotationFields({ ...row, graceSeconds: 86400 }), old));
  t.false(mac.ok('rotations', rotationFields({ ...row, paused: true, graceSeconds: null }), old), 'the earlier fields stay bound');
});
