// Terraform's mount, auth and audit resources (issue 15): sys/audit devices round-trip what was written; sys/remount
// moves a mount with its data and leases (migration id and status); sys/mounts/auth/<path>/tune tunes an auth method.
// A real broker on a real PostgreSQL.
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres } from './helpers/postgres.ts';

let b: Broker;
test.before(async () => {
  const pg = await startPostgres();
  b = await startApp({ databaseUrl: await pg.createDatabase() });
});
test.after.always(async () => {
  await b?.stop();
});

const dataOf = <T>(json: unknown): T => (json as { data: T }).data;
const must = async (method: string, path: string, body?: unknown, token?: string): Promise<unknown> => {
  const r = await api(b, method, path, { body, token });
  if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  return r.json;
};

test.serial('sys/audit: enable, list and disable a file device as Terraform does, and read back what was written', async (t) => {
  // Terraform's vault_audit sends every option as a string, and description/local explicitly.
  await must('PUT', 'sys/audit/tf-file', { type: 'file', description: 'terraform', options: { file_path: '/var/log/vault_audit.log', format: 'json' }, local: false });
  const list = dataOf<Record<string, { type: string; description: string; options: Record<string, string>; local: boolean; path: string }>>(await must('GET', 'sys/audit'));
  t.deepEqual(list['tf-file/'], {
    type: 'file',
    description: 'terraform',
    options: { file_path: '/var/log/vault_audit.log', format: 'json' },
    local: false,
    path: 'tf-file/',
  });
  const dup = await api(b, 'PUT', 'sys/audit/tf-file', { body: { type: 'file', options: { file_path: '/x' } } });
  t.is(dup.status, 400);
  t.regex((dup.json as { errors: string[] }).errors[0] ?? '', /path already in use/);

  await must('DELETE', 'sys/audit/tf-file');
  t.false('tf-file/' in dataOf<Record<string, unknown>>(await must('GET', 'sys/audit')));
  // Deleting what is not there is fine, as in Vault.
  t.is((await api(b, 'DELETE', 'sys/audit/tf-file')).status, 204);
});

test.serial('sys/audit: bad input is a 4xx, and the API is root-protected', async (t) => {
  t.is((await api(b, 'PUT', 'sys/audit/x', { body: { type: 'carrier-pigeon' } })).status, 400);
  t.is((await api(b, 'PUT', 'sys/audit/x', { body: { type: 'file', options: {} } })).status, 400, 'file_path is required');
  t.is((await api(b, 'PUT', 'sys/audit/x', { body: {} })).status, 400);
  t.is((await api(b, 'PUT', 'sys/audit/bad path!', { body: { type: 'file', options: { file_path: '/x' } } })).status, 400);
  t.is((await api(b, 'PUT', 'sys/audit/x', { body: { type: 'file', options: { file_path: { nested: true } } } })).status, 400);
  await must('PUT', 'sys/policies/acl/mounts-admin', { policy: 'path "sys/audit*" { capabilities = ["create", "read", "update", "delete", "list"] }' });
  const user = (await must('POST', 'auth/token/create', { policies: ['mounts-admin'] })) as { auth: { client_token: string } };
  t.is((await api(b, 'GET', 'sys/audit', { token: user.auth.client_token })).status, 403, 'sudo is required');
});

test.serial('sys/remount moves a mount with its data and leases; its status reports success', async (t) => {
  await must('POST', 'sys/mounts/kv-old', { type: 'kv', options: { version: '2' } });
  await must('POST', 'kv-old/data/app', { data: { k: 'v1' } });
  await must('POST', 'sys/mounts/pki-old', { type: 'pki' });
  await must('POST', 'pki-old/root/generate/internal', { common_name: 'Remount Root', ttl: '8760h' });
  await must('POST', 'pki-old/roles/svc', { allowed_domains: ['example.com'], allow_subdomains: true, generate_lease: true });
  const issued = (await must('POST', 'pki-old/issue/svc', { common_name: 'a.example.com', ttl: '1h' })) as { lease_id: string };
  t.truthy(issued.lease_id);

  const r = dataOf<{ migration_id: string }>(await must('POST', 'sys/remount', { from: 'kv-old', to: 'kv-new' }));
  t.regex(r.migration_id, /^[0-9a-f-]{36}$/);
  const status = dataOf<{ migration_id: string; migration_info: { source_mount: string; target_mount: string; status: string } }>(
    await must('GET', `sys/remount/status/${r.migration_id}`),
  );
  t.like(status.migration_info, { source_mount: 'kv-old/', target_mount: 'kv-new/', status: 'success' });
  t.is(dataOf<{ data: { k: string } }>(await must('GET', 'kv-new/data/app')).data.k, 'v1');
  t.is((await api(b, 'GET', 'kv-old/data/app')).status, 404);
  t.true('kv-new/' in dataOf<Record<string, unknown>>(await must('GET', 'sys/mounts')));

  await must('POST', 'sys/remount', { from: 'pki-old', to: 'pki-new' });
  // The lease keeps its id and stays reachable (PKI leases are not renewable); unmounting the new path revokes it.
  const look = dataOf<{ id: string }>(await must('PUT', 'sys/leases/lookup', { lease_id: issued.lease_id }));
  t.is(look.id, issued.lease_id);
  t.true(dataOf<{ keys: string[] }>(await must('GET', 'sys/leases/lookup/pki-old/issue/svc?list=true')).keys.length > 0);
  await must('DELETE', 'sys/mounts/pki-new');
  t.is((await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: issued.lease_id } })).status, 400, 'the unmount revoked the lease');

  // Auth methods move within auth/.
  await must('POST', 'sys/auth/approle-a', { type: 'approle' });
  await must('POST', 'sys/remount', { from: 'auth/approle-a', to: 'auth/approle-b' });
  t.true('approle-b/' in dataOf<Record<string, unknown>>(await must('GET', 'sys/auth')));
});

test.serial('sys/remount refuses what Vault refuses, with a 4xx', async (t) => {
  await must('POST', 'sys/mounts/kv-x', { type: 'kv' });
  await must('POST', 'sys/mounts/kv-y', { type: 'kv' });
  const cases: [unknown, RegExp][] = [
    [{ from: 'kv-x', to: 'kv-y' }, /already in use/],
    [{ from: 'nope', to: 'kv-z' }, /no mount/],
    [{ from: 'kv-x', to: 'auth/kv' }, /between/],
    [{ from: 'sys', to: 'sys2' }, /reserved/],
    [{ from: 'kv-x', to: 'secret/inner' }, /already in use/],
    [{ from: 'kv-x', to: '../etc' }, /invalid mount path/],
    [{ from: 'kv-x' }, /to/],
  ];
  for (const [body, re] of cases) {
    const r = await api(b, 'POST', 'sys/remount', { body });
    t.is(r.status, 400, JSON.stringify(body));
    t.regex((r.json as { errors: string[] }).errors.join(' '), re);
  }
  t.is((await api(b, 'GET', 'sys/remount/status/00000000-0000-0000-0000-000000000000')).status, 404);
  // A mount with rotations moves with them (test/remount-moves.test.ts covers the rotation at its new path).
  await must('POST', 'sys/mounts/kv-rot', { type: 'kv', options: { version: '2' } });
  await must('POST', 'kv-rot/data/app/db', { data: { password: 'x' } });
  await must('POST', 'kv-rot/rotate-config/app/db', { key: 'password', generator: { bytes: 16, encoding: 'hex' } });
  const rot = await api(b, 'POST', 'sys/remount', { body: { from: 'kv-rot', to: 'kv-rot2' } });
  t.is(rot.status, 200, rot.text);
  t.is(((await must('GET', 'kv-rot2/data/app/db')) as { data: { data: { password: string } } }).data.data.password.length > 0, true);
});

test.serial('tune: sys/mounts/<path>/tune and sys/mounts/auth/<path>/tune read and write', async (t) => {
  await must('POST', 'sys/mounts/kv-tune', { type: 'kv', options: { version: '2' } });
  await must('POST', 'sys/mounts/kv-tune/tune', { default_lease_ttl: '1h', max_lease_ttl: '24h', description: 'tuned' });
  const kv = dataOf<{ default_lease_ttl: number; max_lease_ttl: number; description: string }>(await must('GET', 'sys/mounts/kv-tune/tune'));
  t.like(kv, { default_lease_ttl: 3600, max_lease_ttl: 86400, description: 'tuned' });

  await must('POST', 'sys/auth/approle-tune', { type: 'approle' });
  await must('POST', 'sys/mounts/auth/approle-tune/tune', { default_lease_ttl: '30m', max_lease_ttl: '2h' });
  const auth = dataOf<{ default_lease_ttl: number; max_lease_ttl: number }>(await must('GET', 'sys/mounts/auth/approle-tune/tune'));
  t.like(auth, { default_lease_ttl: 1800, max_lease_ttl: 7200 });
  t.like(dataOf<{ default_lease_ttl: number }>(await must('GET', 'sys/auth/approle-tune/tune')), { default_lease_ttl: 1800 });
  t.is((await api(b, 'POST', 'sys/mounts/auth/nope/tune', { body: { default_lease_ttl: '1h' } })).status, 400);
  t.is((await api(b, 'POST', 'sys/mounts/auth/approle-tune/tune', { body: { default_lease_ttl: 'forever' } })).status, 400);
});
