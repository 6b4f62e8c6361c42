// The append side of the audit log: one Merkle log across replicas with no gaps, HMAC'd values that sys/audit-hash
// reproduces, and fail-closed behaviour when the log cannot be written.
import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { appendLeaf, emptyFrontier, frontierRoot, leafHash } from '../src/lib/merkle.ts';
import { startApp } from './helpers/app.ts';
import { startBroker, api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

interface Row {
  seq: string;
  entry: string;
  hash: Buffer;
}

async function chainOf(url: string): Promise<Row[]> {
  return withPgClient(url, async (c) => (await c.query<Row>('SELECT seq::text AS seq, entry, hash FROM audit_entries ORDER BY audit_entries.seq')).rows);
}

test('two replicas writing at once leave one gap-free Merkle log whose head root is the entries\' tree; values are HMACs that sys/audit-hash reproduces', async (t) => {
  const pg = await startPostgres();
  const url = await pg.createDatabase();
  const dataDir = await mkdtemp(join(tmpdir(), 'sealbox-audit-'));
  const [a, b] = await Promise.all([
    startBroker({ dataDir, databaseUrl: url, rootToken: 'audit-root' }),
    startBroker({ dataDir, databaseUrl: url, rootToken: 'audit-root' }),
  ]);
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  const secret = `s3cret-${randomBytes(8).toString('hex')}`;
  const writes = Array.from({ length: 60 }, (_, i) => api(i % 2 ? a : b, 'POST', `secret/data/app/k${i}`, { body: { data: { password: `${secret}-${i}` } } }));
  const reads = Array.from({ length: 60 }, (_, i) => api(i % 2 ? b : a, 'GET', `secret/data/app/k${i % 7}`));
  const results = await Promise.all([...writes, ...reads]);
  t.true(results.every((r) => r.status === 200 || r.status === 404));

  const rows = await chainOf(url);
  t.true(rows.length >= 120, `${rows.length} entries`);
  const f = emptyFrontier();
  rows.forEach((row, i) => {
    t.is(Number(row.seq), i + 1, 'no gaps');
    const leaf = leafHash(row.entry);
    t.true(leaf.equals(row.hash), `leaf hash of seq ${row.seq}`);
    appendLeaf(f, leaf);
    t.is((JSON.parse(row.entry) as { seq: number }).seq, i + 1);
  });
  const head = await withPgClient(url, async (c) => (await c.query<{ seq: string; hash: Buffer }>('SELECT seq::text AS seq, hash FROM audit_head')).rows[0]);
  t.is(Number(head?.seq), rows.length);
  t.true(frontierRoot(f).equals(head?.hash ?? Buffer.alloc(0)), 'the head root is the tree of the stored entries');

  const dump = await pg.dumpAll();
  t.false(dump.includes(secret), 'no secret value in any column');
  t.false(dump.includes('audit-root'), 'no token in any column');

  const hashed = await api(a, 'POST', 'sys/audit-hash/file', { body: { input: `${secret}-3` } });
  const h = (hashed.json as { data: { hash: string } }).data.hash;
  t.regex(h, /^hmac-sha256:[0-9a-f]{64}$/);
  // The write of k3 carries it in its request; reads of k3 that found it carry it in their response.
  const hit = rows.filter((r) => r.entry.includes(h) && (JSON.parse(r.entry) as { operation: string }).operation === 'update');
  t.is(hit.length, 1, 'the write of k3 is found by its HMAC');
  const readsOfK3 = rows.filter((r) => r.entry.includes(h) && (JSON.parse(r.entry) as { operation: string }).operation === 'read');
  for (const r of readsOfK3) t.deepEqual((JSON.parse(r.entry) as { response: { data: unknown } }).response.data, { data: { password: h }, metadata: (JSON.parse(r.entry) as { response: { data: { metadata: unknown } } }).response.data.metadata });
  const entry = JSON.parse(hit[0]?.entry ?? '{}') as { operation: string; path: string; accessor: string; outcome: string; request: unknown };
  t.like(entry, { operation: 'update', path: 'secret/data/app/k3', outcome: 'success' });
  t.deepEqual(entry.request, { data: { data: { password: h } } });

});

test('fail closed: while the audit log cannot be written, a KV read returns 500 and no secret; afterwards reads work', async (t) => {
  const pg = await startPostgres();
  const url = await pg.createDatabase();
  const b = await startApp({ databaseUrl: url });
  t.teardown(() => b.stop());
  const secret = `closed-${randomBytes(8).toString('hex')}`;
  t.is((await api(b, 'POST', 'secret/data/db', { body: { data: { password: secret } } })).status, 200);

  await withPgClient(url, async (c) => {
    await c.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit log is read-only'; END $$`);
    await c.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit()');
  });
  const refused = await api(b, 'GET', 'secret/data/db');
  t.is(refused.status, 500);
  t.deepEqual(refused.json, { errors: ['internal error'] });
  t.false(refused.text.includes(secret));
  const denied = await api(b, 'GET', 'secret/data/db', { token: 'forged' });
  t.is(denied.status, 500, 'even a denial that cannot be audited fails closed');

  await withPgClient(url, (c) => c.query('DROP TRIGGER refuse_audit ON audit_entries'));
  const ok = await api(b, 'GET', 'secret/data/db');
  t.is(ok.status, 200);
  t.deepEqual((ok.json as { data: { data: unknown } }).data.data, { password: secret });
  t.false(b.logs().includes(secret));
});

test('the audit file sink gets every entry as JSON Lines', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-sink-'));
  const file = join(dir, 'audit.jsonl');
  const b = await startApp({ env: { SEALBOX_AUDIT_FILE: file } });
  for (let i = 0; i < 5; i++) await api(b, 'POST', `secret/data/s${i}`, { body: { data: { v: 'value' } } });
  await b.stop();
  const { readFile } = await import('node:fs/promises');
  const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { seq: number; entry: { path: string } });
  t.true(lines.length >= 5);
  t.deepEqual(lines.filter((l) => l.entry.path.startsWith('secret/data/s')).map((l) => l.entry.path), ['secret/data/s0', 'secret/data/s1', 'secret/data/s2', 'secret/data/s3', 'secret/data/s4']);
  t.false(lines.some((l) => JSON.stringify(l).includes('"value"')));
});
