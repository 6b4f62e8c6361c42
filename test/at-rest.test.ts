import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'ava';
import { startApp } from './helpers/app.ts';
import { api, startBroker, vaultClient } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

// The first test drains real processes with SIGTERM; the others run the broker in-process (test/helpers/app.ts).
test('PGlite: restart keeps secrets and the root token; the secret is nowhere in the data dir or the logs', async (t) => {
  const secret = `s3cret-${randomBytes(12).toString('hex')}`;
  const b1 = await startBroker();
  await vaultClient(b1).write('secret/data/app/db', { data: { password: secret } });
  t.is(await b1.stop(), 0, 'SIGTERM drains and exits 0');

  const b2 = await startBroker({ dataDir: b1.dataDir, rootToken: b1.rootToken });
  t.teardown(() => b2.stop());
  t.deepEqual((await vaultClient(b2).read('secret/data/app/db')).data.data, { password: secret });
  const self = await api(b2, 'GET', 'auth/token/lookup-self');
  t.deepEqual((self.json as { data: { policies: string[] } }).data.policies, ['root']);
  await b2.stop();

  // Without --dev-root-token the same root token comes back from the data dir.
  const b3 = await startBroker({ dataDir: b1.dataDir, args: [], rootToken: '' });
  t.teardown(() => b3.stop());
  t.regex(b3.logs(), new RegExp(`Root Token: ${b1.rootToken}`));
  await b3.stop();

  const needle = Buffer.from(secret);
  for (const f of await filesUnder(b1.dataDir)) {
    if ((await stat(f)).size > 200 * 1024 * 1024) continue;
    t.false((await readFile(f)).includes(needle), `plaintext found in ${f}`);
  }
  for (const b of [b1, b2]) t.false(b.logs().includes(secret), 'plaintext found in broker logs');
});

test('PostgreSQL: no plaintext in pg_dump or logs; a ciphertext copied into another row does not decrypt; rotate keeps old versions readable', async (t) => {
  const pg = await startPostgres();
  const url = await pg.createDatabase();
  const secretA = `alpha-${randomBytes(12).toString('hex')}`;
  const secretB = `bravo-${randomBytes(12).toString('hex')}`;
  const b = await startApp({ databaseUrl: url });
  t.teardown(() => b.stop());
  const v = vaultClient(b);
  await v.write('secret/data/a', { data: { password: secretA } });
  await v.write('secret/data/b', { data: { password: secretB } });

  const dump = await pg.dumpAll();
  t.true(dump.includes('entries'), 'the dump covers the entries table');
  t.false(dump.includes(secretA));
  t.false(dump.includes(secretB));
  t.false(dump.includes(b.rootToken), 'tokens are stored only as HMACs');
  t.false(b.logs().includes(secretA));

  // sys/rotate: new writes use the new term, old versions still read.
  const before = (await api(b, 'GET', 'sys/key-status')).json as { data: { term: number } };
  t.is(before.data.term, 1);
  t.is((await api(b, 'PUT', 'sys/rotate')).status, 204);
  const after = (await api(b, 'GET', 'sys/key-status')).json as { data: { term: number; install_time: string } };
  t.is(after.data.term, 2);
  await v.write('secret/data/a', { data: { password: `${secretA}-v2` } });
  const terms = await withPgClient(url, async (c) =>
    (await c.query<{ key: string; key_term: number }>("SELECT key, key_term FROM entries WHERE key LIKE 'ver/a/%' ORDER BY key")).rows,
  );
  // Version 2 is written under term 2; version 1 stays under term 1 until the keyring-rewrap job moves it.
  t.is(terms.length, 2);
  t.is(terms[0]?.key_term, 1);
  t.is(terms[1]?.key_term, 2);
  t.is(await b.kick('keyring-rewrap'), 'ok');
  const rewrapped = await withPgClient(url, async (c) =>
    (await c.query<{ key_term: number }>("SELECT key_term FROM entries WHERE key LIKE 'ver/a/%' ORDER BY key")).rows.map((r) => r.key_term),
  );
  t.deepEqual(rewrapped, [2, 2], 'the rewrap moved version 1 to term 2');
  t.deepEqual((await v.read('secret/data/a?version=1')).data.data, { password: secretA });
  t.deepEqual((await v.read('secret/data/a')).data.data, { password: `${secretA}-v2` });

  // Copy a's sealed metadata into b's row: b must fail to open, never show a's value.
  await withPgClient(url, (c) =>
    c.query("UPDATE entries SET sealed = (SELECT sealed FROM entries WHERE key = 'meta/a') WHERE key = 'meta/b'"),
  );
  const swapped = await api(b, 'GET', 'secret/data/b');
  t.is(swapped.status, 500);
  t.deepEqual(swapped.json, { errors: ['stored value failed its integrity check'] });
  t.false(swapped.text.includes(secretA));
  const swappedVersion = await withPgClient(url, (c) =>
    c.query("UPDATE entries SET sealed = (SELECT sealed FROM entries WHERE key = 'ver/a/0000000001') WHERE key = 'ver/b/0000000001'"),
  );
  t.is(swappedVersion.rowCount, 1);
  t.is((await api(b, 'GET', 'secret/data/a?version=1')).status, 200, 'the source row still opens');
});

test('dev mode: restarting with another --dev-root-token retires the old one', async (t) => {
  const b1 = await startApp({ rootToken: 'first-root', storage: 'disk' });
  await b1.stop();
  const b2 = await startApp({ dataDir: b1.dataDir, rootToken: 'second-root' });
  t.teardown(() => b2.stop());
  t.is((await api(b2, 'GET', 'auth/token/lookup-self')).status, 200);
  t.is((await api(b2, 'GET', 'auth/token/lookup-self', { token: 'first-root' })).status, 403);
});

test('a data directory that does not exist yet is created, owner-only (npm start on a fresh checkout)', async (t) => {
  const { mkdtemp, stat } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const parent = await mkdtemp(join(tmpdir(), 'sealbox-fresh-'));
  const dataDir = join(parent, 'not', 'yet', '.sealbox');
  const b = await startApp({ dataDir });
  t.teardown(() => b.stop());
  t.is((await api(b, 'GET', 'sys/health', { token: null })).status, 200);
  t.is((await stat(dataDir)).mode & 0o077, 0, 'no access for group or others');
});
