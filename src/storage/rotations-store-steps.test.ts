// A rotation run's steps (issue 19): every step the run enters is appended to rotation_runs.steps with the time the
// store is given (the broker's clock, not the database's now()), a failed attempt is noted with its error, and a run
// from before the steps were kept reads as an empty list (its last `step` stays).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { migrate } from './migrate.ts';
import { createPgliteDb } from './pglite-db.ts';
import { createRotationsStore } from './rotations-store.ts';

const MIGRATIONS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'migrations');

test('each step is appended with the given time; a failed attempt is noted; a driver whose claim was taken over writes nothing; old runs have none', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-steps-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const db = await createPgliteDb(path.join(dir, 'pglite'), dir);
  t.teardown(() => db.close());
  await migrate(db, MIGRATIONS);
  const store = createRotationsStore();
  const id = 'secret/rotate/app';
  await store.upsert(db, { id, mountId: null, kind: 'rotate', target: 'app', schedule: null, periodSeconds: 60, nextRunAt: null, paused: false, graceSeconds: null, mac: null });
  // A clock far from the database's own: the times must be the ones given.
  const at = (s: number): Date => new Date(Date.UTC(2031, 0, 2, 3, 4, s));
  t.truthy(await store.claimOne(db, id, 'c1', at(0), at(30), null));
  t.is(await store.startRun(db, id, 'c1', { runId: 'r1', slot: null, kind: 'manual', replica: 'a', now: at(0) }), 'ok');
  await store.advance(db, id, 'c1', 'r1', 'set', at(1), Buffer.from('sealed'));
  await store.stepFailed(db, id, 'c1', { error: 'ALTER ROLE failed', retryAt: at(4), runId: 'r1', step: 'set', at: at(2) });
  t.truthy(await store.claimOne(db, id, 'c2', at(5), at(30), null));
  // The driver under c1, still going after c2 took the run over (a failover, a stall), writes nothing: no step twice.
  t.false(await store.advance(db, id, 'c1', 'r1', 'test', at(5)));
  await store.stepFailed(db, id, 'c1', { error: 'stale', retryAt: at(9), runId: 'r1', step: 'test', at: at(5) });
  t.true(await store.advance(db, id, 'c2', 'r1', 'test', at(6)));
  t.true(await store.advance(db, id, 'c2', 'r1', 'finish', at(7)));
  t.true(await store.enterRetire(db, id, 'c2', 'r1', { retireAt: at(20), retirePath: null, pending: Buffer.from('sealed'), at: at(8) }));
  t.false(await store.finishRun(db, id, 'c1', 'r1', { status: 'failed', error: 'stale', now: at(9), nextRunAt: null }));
  t.true(await store.finishRun(db, id, 'c2', 'r1', { status: 'ok', error: null, now: at(9), nextRunAt: null }));

  // A run written before migration 0015: no steps.
  await db.query(`INSERT INTO rotation_runs (rotation_id, run_id, kind, replica, started_at, finished_at, status, step) VALUES ($1, 'r0', 'manual', 'a', $2, $2, 'ok', 'finish')`, [id, at(-60)]);

  const [r1, r0] = await store.history(db, id, 10);
  t.is(r1?.runId, 'r1');
  t.deepEqual(
    r1?.steps.map((s) => ({ ...s, at: s.at.toISOString() })),
    [
      { step: 'create', at: at(0).toISOString() },
      { step: 'set', at: at(1).toISOString() },
      { step: 'set', at: at(2).toISOString(), status: 'failed', error: 'ALTER ROLE failed' },
      { step: 'test', at: at(6).toISOString() },
      { step: 'finish', at: at(7).toISOString() },
      { step: 'retire', at: at(8).toISOString() },
    ],
  );
  t.like(r1, { status: 'ok', step: 'retire' });
  t.like(r0, { runId: 'r0', step: 'finish', steps: [] });
});
