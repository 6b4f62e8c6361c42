// Append failures fail closed and loud (issue 14): a row at audit_head.seq + 1 that no appender wrote (put there by
// SQL or a broken restore) must not send the appender into an endless retry loop. Requests fail with 500 at once,
// the log names the seq, and once the row is gone appends resume.
import test from 'ava';
import { startApp } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

test('a stray row at head + 1: requests get 500 quickly, the log names the seq; after removing it, appends resume', async (t) => {
  const url = await (await startPostgres()).createDatabase();
  const b = await startApp({ databaseUrl: url });
  t.teardown(() => b.stop());
  t.is((await api(b, 'POST', 'secret/data/app', { body: { data: { k: 'v' } } })).status, 200);

  const stray = await withPgClient(url, async (c) => {
    const head = Number((await c.query<{ s: string }>('SELECT seq::text AS s FROM audit_head')).rows[0]?.s);
    await c.query(
      `INSERT INTO audit_entries (seq, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome, entry, hash)
       SELECT seq + 1, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome, entry, hash FROM audit_entries WHERE seq = $1`,
      [head],
    );
    return head + 1;
  });

  const started = Date.now();
  const refused = await Promise.all(Array.from({ length: 3 }, () => api(b, 'GET', 'secret/data/app', { timeoutMs: 20_000 })));
  const elapsed = Date.now() - started;
  for (const r of refused) {
    t.is(r.status, 500);
    t.deepEqual(r.json, { errors: ['internal error'] });
  }
  // Well within the request timeout (the default is 60 s): the conflict is decided on the first attempt.
  t.true(elapsed < 15_000, `${elapsed} ms`);
  const errors = b.logLines().filter((l) => l.level === 'error' && typeof l.msg === 'string' && l.msg.includes(`seq ${stray} is already stored`));
  t.true(errors.length >= 1, 'an error names the seq');
  t.true(errors.length <= 3, `one error per refused batch, not a retry loop (${errors.length})`);

  await withPgClient(url, (c) => c.query('DELETE FROM audit_entries WHERE seq = $1', [stray]));
  const ok = await api(b, 'GET', 'secret/data/app');
  t.is(ok.status, 200, ok.text);
  const head = await withPgClient(url, async (c) => Number((await c.query<{ s: string }>('SELECT seq::text AS s FROM audit_head')).rows[0]?.s));
  t.true(head >= stray, 'appends resumed at the freed seq');
  const verify = await api(b, 'GET', 'sys/audit-log/verify');
  t.like((verify.json as { data: object }).data, { ok: true, first_bad_seq: null });
});
