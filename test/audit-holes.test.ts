// Issue 14 item 5, the two holes: (1) the time cadence between signed checkpoints (each checkpoint signs a
// `time <unix seconds>` line), (2) entry MACs nulled from seq 1 (each checkpoint signs `mac-from <seq>`). Direct SQL
// against brokers on PostgreSQL, then GET sys/audit-log/verify names the first bad seq.
import test from 'ava';
import { startApp } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

interface Verdict {
  ok: boolean;
  first_bad_seq: number | null;
  problems: string[];
}
const verdict = async (b: Parameters<typeof api>[0], query = ''): Promise<Verdict> => {
  const r = await api(b, 'GET', `sys/audit-log/verify${query}`);
  if (r.status !== 200) throw new Error(`verify: ${r.status} ${r.text}`);
  return (r.json as { data: Verdict }).data;
};

test('checkpoints sign time and mac-from; entry MACs nulled from seq 1 are named at seq 1, with and without the anchor', async (t) => {
  const url = await (await startPostgres()).createDatabase();
  const b = await startApp({ databaseUrl: url, env: { SEALBOX_AUDIT_CHECKPOINT_EVERY: '5', SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1' } });
  t.teardown(() => b.stop());
  for (let i = 0; i < 20; i++) {
    const r = await api(b, 'POST', `secret/data/m/${i % 4}`, { body: { data: { v: `value-${i}` } } });
    t.is(r.status, 200, r.text);
  }
  const cp = await api(b, 'GET', 'sys/audit-log/checkpoint', { token: null });
  const lines = cp.text.split('\n');
  // The first three lines are the tlog-checkpoint's (origin, size, root); then the signed extension lines.
  t.regex(lines[1] ?? '', /^[1-9]\d*$/);
  t.regex(lines[2] ?? '', /^[A-Za-z0-9+/]{43}=$/);
  t.regex(lines[3] ?? '', /^time [1-9]\d*$/);
  t.is(lines[4], 'mac-from 1');
  t.true(Math.abs(Number((lines[3] ?? '').slice(5)) - Date.now() / 1000) < 120);
  t.like(await verdict(b), { ok: true, first_bad_seq: null });

  await withPgClient(url, (c) => c.query('UPDATE audit_entries SET mac = NULL'));
  for (const v of [await verdict(b), await verdict(b, `?anchor=${encodeURIComponent(cp.text)}`)]) {
    t.like(v, { ok: false, first_bad_seq: 1 }, v.problems.join('; '));
    t.regex(v.problems.join(' '), /no MAC/);
  }
});

test('deleted timed checkpoints between two kept ones: the first entry after the gap is named', async (t) => {
  const url = await (await startPostgres()).createDatabase();
  // No count checkpoints in this run: only the timer (every second) signs, so deleting its checkpoints leaves a gap
  // that only the time cadence (2 × 1 s + 10 s slack) can show.
  const b = await startApp({ databaseUrl: url, env: { SEALBOX_AUDIT_CHECKPOINT_EVERY: '10000000', SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1' } });
  t.teardown(() => b.stop());
  // Activity over 15 s of the broker's clock (the entries' own signed times): a request, a second, the checkpoint job.
  for (let i = 0; i < 15; i++) {
    const r = await api(b, 'POST', `secret/data/g/${i % 4}`, { body: { data: { n: i } } });
    t.is(r.status, 200, r.text);
    b.clock.advance(1_000);
    t.is(await b.kick('audit-checkpoint'), 'ok');
  }
  t.like(await verdict(b), { ok: true, first_bad_seq: null });
  let a = 0;
  await withPgClient(url, async (c) => {
    const sizes = (await c.query<{ s: string }>('SELECT seq::text AS s FROM audit_checkpoints ORDER BY seq')).rows.map((r) => Number(r.s));
    t.true(sizes.length >= 6, `timed checkpoints: ${sizes.join(',')}`);
    a = sizes[0] ?? 0;
    const last = sizes.at(-1) ?? 0;
    await c.query('DELETE FROM audit_checkpoints WHERE seq > $1 AND seq < $2', [a, last]);
  });
  const v = await verdict(b);
  t.like(v, { ok: false, first_bad_seq: a + 1 }, v.problems.join('; '));
  t.regex(v.problems.join(' '), /without a signed checkpoint/);
});
