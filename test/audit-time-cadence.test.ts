// The time-cadence rule of verifyLog (issue 14 item 5), on logs built here with a real Ed25519 key: deleted timed
// checkpoints are named, while a pause (a stopped, sealed or crashed broker) and checkpoints from before the signed
// `time`/`mac-from` lines are accepted. The broker-level attacks are in audit-holes.test.ts.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { appendLeaf, emptyFrontier, frontierRoot, leafHash } from '../src/lib/merkle.ts';
import { checkpointBody } from '../src/core/audit/note.ts';
import { createNoteSigner } from '../src/core/audit/signer.ts';
import { verifyLog, type LogCheckpoint, type LogLink } from '../src/core/audit/verify.ts';

const signer = createNoteSigner(randomBytes(32));
const T0 = Date.parse('2026-01-01T00:00:00Z');

/** Entries at the given offsets (seconds from T0); checkpoints at the given sizes, signed `at` seconds from T0. */
function log(times: number[], cps: { size: number; at?: number; macFrom?: number }[]): { links: LogLink[]; checkpoints: LogCheckpoint[] } {
  const links: LogLink[] = times.map((s, i) => ({ seq: i + 1, entry: JSON.stringify({ seq: i + 1, time: new Date(T0 + s * 1000).toISOString() }) }));
  const roots = new Map<number, Buffer>();
  const f = emptyFrontier();
  for (const l of links) {
    appendLeaf(f, leafHash(l.entry));
    roots.set(l.seq, frontierRoot(f));
  }
  const checkpoints = cps.map((c) => {
    const ext = c.at === undefined ? [] : [`time ${T0 / 1000 + c.at}`, `mac-from ${c.macFrom ?? 1}`];
    return { seq: c.size, note: signer.signNote(checkpointBody(signer.origin(), c.size, roots.get(c.size) ?? Buffer.alloc(32), ext)) };
  });
  return { links, checkpoints };
}
const opts = (nowSeconds: number) => ({
  publicKey: signer.publicKey(),
  origin: signer.origin(),
  cadence: { every: 1_000_000, seconds: 1, now: new Date(T0 + nowSeconds * 1000) },
});
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

test('a run of unsigned entries longer than 2 × seconds + 10 s is named at its first entry', async (t) => {
  // Entries every second for 30 s; the timer's checkpoints between size 3 and size 31 were deleted.
  const { links, checkpoints } = log(range(0, 30), [{ size: 3, at: 3 }, { size: 31, at: 31 }]);
  const r = await verifyLog(links, checkpoints, opts(32));
  t.like(r, { ok: false, first_bad_seq: 4 }, r.problems.join('; '));
  t.regex(r.problems.join(' '), /without a signed checkpoint/);
});

test('checkpoints within the window verify', async (t) => {
  const { links, checkpoints } = log(range(0, 30), range(1, 15).map((k) => ({ size: 2 * k + 1, at: 2 * k + 1 })));
  const r = await verifyLog(links, checkpoints, opts(32));
  t.like(r, { ok: true, first_bad_seq: null }, r.problems.join('; '));
});

test('a late signed time alone is named: the entries fit the window, the checkpoint was signed after it', async (t) => {
  const { links, checkpoints } = log(range(0, 5), [{ size: 1, at: 0 }, { size: 6, at: 40 }]);
  const r = await verifyLog(links, checkpoints, opts(41));
  t.like(r, { ok: false, first_bad_seq: 2 }, r.problems.join('; '));
});

test('a pause (stopped or crashed broker) between unsigned entries starts a new run', async (t) => {
  // Entries 1..3, a crash (no checkpoint), a restart 100 s later, entries 4..6, then the timer signs size 6.
  const { links, checkpoints } = log([0, 1, 2, 100, 101, 102], [{ size: 6, at: 103 }]);
  const r = await verifyLog(links, checkpoints, opts(104));
  t.like(r, { ok: true, first_bad_seq: null }, r.problems.join('; '));
});

test('checkpoints without the time and mac-from lines (older than the change) still verify, without a time cadence', async (t) => {
  const { links, checkpoints } = log(range(0, 30), [{ size: 3 }, { size: 31 }]);
  const r = await verifyLog(links, checkpoints, opts(32));
  t.like(r, { ok: true, first_bad_seq: null }, r.problems.join('; '));
});

test('entries before the signed mac-from seq (an older broker) are not held to the time cadence', async (t) => {
  const { links, checkpoints } = log(range(0, 30), [{ size: 3, at: 3, macFrom: 25 }, { size: 31, at: 31, macFrom: 25 }]);
  const r = await verifyLog(links, checkpoints, opts(32));
  t.like(r, { ok: true, first_bad_seq: null }, r.problems.join('; '));
});
