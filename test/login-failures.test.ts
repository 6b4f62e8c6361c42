// login_failures stays bounded: failures with role IDs that name no role share one row per mount (they cannot grow the
// table), and the login-failures-prune job deletes windows that have passed, keeping identities still locked.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import type pg from 'pg';
import { startApp } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

test.serial('random role IDs add no rows; the prune job deletes passed windows and keeps locked identities; lockout still locks', async (t) => {
  const cluster = await startPostgres();
  const storageUrl = await cluster.createDatabase();
  const storage = <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => withPgClient(storageUrl, fn);
  const rows = async (): Promise<number> => storage(async (c) => Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM login_failures')).rows[0]?.n));
  // The wall clock: the test moves the stored windows with the database's now(), and the prune compares with the broker's.
  const b = await startApp({ databaseUrl: storageUrl, clock: 'system' });
  t.teardown(() => b.stop());

  t.is((await api(b, 'POST', 'sys/auth/approle', { body: { type: 'approle' } })).status, 204);
  t.is((await api(b, 'POST', 'auth/approle/role/app', { body: { token_policies: 'default' } })).status, 204);
  const roleId = ((await api(b, 'GET', 'auth/approle/role/app/role-id')).json as { data: { role_id: string } }).data.role_id;
  const secretId = ((await api(b, 'POST', 'auth/approle/role/app/secret-id')).json as { data: { secret_id: string } }).data.secret_id;
  const login = (role_id: string, secret_id: string) => api(b, 'POST', 'auth/approle/login', { token: null, body: { role_id, secret_id } });

  for (let i = 0; i < 40; i++) {
    const r = await login(randomBytes(16).toString('hex'), 'wrong');
    t.is(r.status, 400);
    t.deepEqual(r.json, { errors: ['invalid credentials'] });
  }
  t.is(await rows(), 1, '40 random role IDs share one row');

  // A real role ID with a wrong secret ID counts on its own row, and locks it after the threshold (5).
  for (let i = 0; i < 5; i++) t.is((await login(roleId, 'wrong')).status, 400);
  t.is(await rows(), 2);
  t.is((await login(roleId, secretId)).status, 400, 'locked out: the right secret ID is refused too');

  // Both windows have passed (moved back in time in storage). The shared row's lock has passed too (it has 40
  // failures, the real role's has 5), the real role is still locked: only the shared row goes.
  await storage((c) => c.query("UPDATE login_failures SET first_failed_at = first_failed_at - interval '1 day'"));
  await storage((c) => c.query("UPDATE login_failures SET locked_until = now() - interval '1 second' WHERE failures > 5"));
  const run = await api(b, 'POST', 'sys/scheduler/jobs/login-failures-prune/run');
  t.deepEqual((run.json as { data: unknown }).data, { status: 'ok' }, run.text);
  t.is(await rows(), 1, 'the passed, unlocked window is pruned');
  t.is((await login(roleId, secretId)).status, 400, 'the lock holds');

  // Once the lock has passed too, the row goes.
  await storage((c) => c.query("UPDATE login_failures SET locked_until = now() - interval '1 second'"));
  t.is((await api(b, 'POST', 'sys/scheduler/jobs/login-failures-prune/run')).status, 200);
  t.is(await rows(), 0);
  t.is((await login(roleId, secretId)).status, 200, 'the role logs in again');
});
