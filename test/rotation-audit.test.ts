// Every rotation is audited (issue 7): a scheduled run is not a request, so the rotation manager writes its own
// audit entry, shaped as POST sys/rotations/<id>/run, with the outcome. In-process broker with a fake clock: each
// slot is reached by clock.advance and run by kick('rotations').
import test from 'ava';
import { startApp } from './helpers/app.ts';
import { api } from './helpers/broker.ts';

// This file's schedules run every few seconds: lower the broker's rotation floor (rotation_min_interval, default 1 minute).
process.env.SEALBOX_ROTATION_MIN_INTERVAL = '1s';

interface Entry {
  path: string;
  operation: string;
  outcome: string;
  remote_address: string;
}

test('scheduled rotation runs appear in the audit log with their outcome and in sys/metrics', async (t) => {
  const b = await startApp();
  t.teardown(() => b.stop());
  await api(b, 'POST', 'secret/data/app/db', { body: { data: { username: 'app' } } });
  const cfg = await api(b, 'POST', 'secret/rotate-config/app/db', { body: { schedule: '*/2 * * * * *', generator: { length: 24 } } });
  t.true(cfg.status === 200 || cfg.status === 204, cfg.text);
  for (let slot = 0; slot < 2; slot++) {
    b.clock.advance(2_000);
    t.is(await b.kick('rotations'), 'ok');
  }
  const r = await api(b, 'GET', 'sys/audit-log?path_prefix=sys/rotations/&limit=100');
  const entries = ((r.json as { data: { entries: Entry[] } }).data.entries ?? []).filter((e) => e.remote_address === 'rotation:scheduled');
  t.is(entries.length, 2, JSON.stringify(entries));
  t.true(entries.every((e) => e.path === 'sys/rotations/secret/rotate/app/db/run' && e.operation === 'update' && e.outcome === 'success'));
  // …and they are counted in sys/metrics by kind and result.
  const metrics = await api(b, 'GET', 'sys/metrics?format=prometheus');
  const m = /^sealbox_rotation_runs_total\{kind="rotate",result="ok"\} (\d+)/m.exec(metrics.text);
  t.true(Number(m?.[1] ?? 0) >= 2, metrics.text.split('\n').filter((l) => l.includes('rotation')).join('\n'));
});
