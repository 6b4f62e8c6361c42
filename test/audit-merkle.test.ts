// The audit log as a Merkle log (issue 14, CONTRACT §6) against a broker on PostgreSQL: every value HMAC'd
// (numbers and booleans too), C2SP checkpoints, RFC 9162 proofs checked by an independent implementation
// (test/helpers/rfc9162.ts), and the CLI's checkpoint and prove.
import { createHash, randomInt } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import nacl from 'tweetnacl';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { runCli } from './helpers/cli.ts';
import { startPostgres } from './helpers/postgres.ts';
import { mth, path, proof, rfcLeaf, rfcVerifyConsistency, rfcVerifyInclusion } from './helpers/rfc9162.ts';

let b: Broker;
let sinkFile: string;
const dataOf = <T>(json: unknown): T => (json as { data: T }).data;

// Distinct numbers that occur nowhere else (7 to 9 digits), as the issue's {"pin":918273} did.
const PIN = randomInt(100_000_000, 999_999_999);
const LIMIT = randomInt(1_000_000, 9_999_999);
const PORT = randomInt(1_000_000, 9_999_999);
const RATIO = Number(`3.${randomInt(100_000, 999_999)}`);

test.before(async () => {
  const pg = await startPostgres();
  sinkFile = join(await mkdtemp(join(tmpdir(), 'sealbox-merkle-')), 'audit.jsonl');
  // The wall clock and the real checkpoint timer (every second): the CLI's offline verify judges how old the last
  // uncovered entries are by its own clock, as an auditor's would.
  b = await startApp({
    clock: 'system',
    timers: true,
    databaseUrl: await pg.createDatabase(),
    env: { SEALBOX_AUDIT_CHECKPOINT_EVERY: '16', SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1', SEALBOX_AUDIT_FILE: sinkFile },
  });
  const secret = { data: { pin: PIN, enabled: true, disabled: false, nested: [[LIMIT, RATIO], { port: PORT, flags: [true, false] }] } };
  const w = await api(b, 'POST', 'secret/data/typed', { body: secret });
  if (w.status !== 200) throw new Error(w.text);
  const r = await api(b, 'GET', 'secret/data/typed');
  if (r.status !== 200 || dataOf<{ data: { pin: number } }>(r.json).data.pin !== PIN) throw new Error(r.text);
  // Enough entries for stored tree nodes (level 8 = 256 leaves) and several checkpoints.
  for (let i = 0; i < 30; i++) await Promise.all(Array.from({ length: 10 }, (_, j) => api(b, 'GET', `secret/data/k${(i * 10 + j) % 13}`)));
});
test.after.always(async () => {
  await b?.stop();
});

async function exportAll(): Promise<{ text: string; entries: { seq: number; entry: string; hash: string }[] }> {
  const r = await api(b, 'GET', 'sys/audit-log/export?limit=10000');
  return { text: r.text, entries: dataOf<{ entries: { seq: number; entry: string; hash: string }[] }>(r.json).entries };
}

test.serial('a secret with number, boolean and nested-array values: none of its values is in pg_dump, the file sink or an export', async (t) => {
  const { text: exported, entries } = await exportAll();
  const dump = await (await startPostgres()).dumpAll();
  const sink = await readFile(sinkFile, 'utf8');
  t.true(dump.includes('audit_entries'));
  t.true(sink.includes('secret/data/typed'));
  for (const v of [PIN, LIMIT, PORT, RATIO].map(String)) {
    t.false(dump.includes(v), `${v} in the database dump`);
    t.false(sink.includes(v), `${v} in the file sink`);
    t.false(exported.includes(v), `${v} in the export`);
  }
  const write = entries.map((e) => JSON.parse(e.entry) as { path: string; operation: string; request: { data: { data: Record<string, unknown> } } })
    .find((e) => e.path === 'secret/data/typed' && e.operation === 'update');
  const data = write?.request.data.data ?? {};
  t.regex(String(data.enabled), /^hmac-sha256:boolean:[0-9a-f]{64}$/, 'booleans are HMACd with their type');
  t.regex(String(data.pin), /^hmac-sha256:number:[0-9a-f]{64}$/, 'numbers are HMACd with their type');
  t.deepEqual(Object.keys(data).sort(), ['disabled', 'enabled', 'nested', 'pin'], 'keys stay visible');
});

test.serial('sys/audit-hash produces the typed HMAC of a number or boolean, from JSON or from a string with type', async (t) => {
  const { entries } = await exportAll();
  const hash = async (body: unknown) => {
    const r = await api(b, 'POST', 'sys/audit-hash/file', { body });
    t.is(r.status, 200, r.text);
    return dataOf<{ hash: string }>(r.json).hash;
  };
  const h = await hash({ input: PIN });
  t.is(await hash({ input: String(PIN), type: 'number' }), h);
  t.not(await hash({ input: String(PIN) }), h, 'the string "918273" is not the number 918273');
  t.true(entries.some((e) => e.entry.includes(h)), 'the number is found by its HMAC');
  const port = await hash({ input: PORT });
  const enabled = await hash({ input: true });
  t.true(entries.some((e) => e.entry.includes(`"port":"${port}"`)));
  t.true(entries.some((e) => e.entry.includes(`"enabled":"${enabled}"`)));
  const bad = await api(b, 'POST', 'sys/audit-hash/file', { body: { input: 'x', type: 'number' } });
  t.is(bad.status, 400);
});

test.serial('GET sys/audit-log/checkpoint is a C2SP signed note: origin, size, base64 root, blank line, Ed25519 line', async (t) => {
  const r = await api(b, 'GET', 'sys/audit-log/checkpoint', { token: null });
  t.is(r.status, 200);
  t.regex(r.headers.get('content-type') ?? '', /^text\/plain/);
  const [body, sigs] = r.text.split('\n\n') as [string, string];
  const [origin, size, root] = body.split('\n');
  t.regex(origin ?? '', /^sealbox\.audit\/[0-9a-f]{16}$/);
  t.regex(size ?? '', /^[1-9]\d*$/);
  t.is(Buffer.from(root ?? '', 'base64').length, 32);
  const line = (sigs ?? '').split('\n')[0] ?? '';
  t.true(line.startsWith(`\u2014 ${origin} `));
  const raw = Buffer.from(line.split(' ')[2] ?? '', 'base64');
  const pk = Buffer.from(dataOf<{ public_key: string }>((await api(b, 'GET', 'sys/audit-log/public-key', { token: null })).json).public_key, 'base64');
  const id = createHash('sha256').update(`${origin}\n`).update(Buffer.from([0x01])).update(pk).digest().subarray(0, 4);
  t.deepEqual(raw.subarray(0, 4), id, 'key id = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]');
  t.true(nacl.sign.detached.verify(Buffer.from(`${body}\n`), raw.subarray(4), pk), 'Ed25519 over the note text');
  // The root is the RFC 9162 tree of the exported entries at that size.
  const { entries } = await exportAll();
  t.true(mth(entries.slice(0, Number(size)).map((e) => rfcLeaf(e.entry))).equals(Buffer.from(root ?? '', 'base64')));
});

test.serial('inclusion and consistency proofs verify with an independent RFC 9162 implementation', async (t) => {
  const { entries } = await exportAll();
  const leaves = entries.map((e) => rfcLeaf(e.entry));
  t.true(leaves.length > 300, `${leaves.length} entries`);
  entries.forEach((e, i) => t.is(e.hash, leaves[i]?.toString('hex') ?? '', 'stored leaf hash'));
  const n = leaves.length;
  for (const [seq, size] of [[1, 1], [1, 2], [3, 7], [256, 256], [257, 300], [1, n], [n, n], [129, 300], [200, 257]] as [number, number][]) {
    const r = await api(b, 'GET', `sys/audit-log/proof/inclusion?seq=${seq}&size=${size}`, { token: null });
    t.is(r.status, 200, r.text);
    const d = dataOf<{ proof: string[]; root_hash: string; tree_size: number; leaf_hash: string }>(r.json);
    const p = d.proof.map((x) => Buffer.from(x, 'base64'));
    const root = mth(leaves.slice(0, size));
    t.deepEqual(p, path(seq - 1, leaves.slice(0, size)), `PATH(${seq - 1}, D[${size}])`);
    t.true(rfcVerifyInclusion(seq - 1, size, leaves[seq - 1] as Buffer, p, root), `inclusion of ${seq} in ${size}`);
    t.is(d.root_hash, root.toString('base64'));
  }
  for (const [from, to] of [[1, 2], [2, 3], [4, 7], [7, 8], [16, 300], [255, 256], [256, 300], [100, n], [n - 1, n]] as [number, number][]) {
    const r = await api(b, 'GET', `sys/audit-log/proof/consistency?from=${from}&to=${to}`, { token: null });
    t.is(r.status, 200, r.text);
    const d = dataOf<{ proof: string[]; first_root: string; second_root: string }>(r.json);
    const p = d.proof.map((x) => Buffer.from(x, 'base64'));
    t.deepEqual(p, proof(from, leaves.slice(0, to)), `PROOF(${from}, D[${to}])`);
    t.true(rfcVerifyConsistency(from, to, mth(leaves.slice(0, from)), mth(leaves.slice(0, to)), p), `consistency ${from} → ${to}`);
  }
  for (const q of ['inclusion?seq=0', 'inclusion?seq=5&size=4', `inclusion?seq=1&size=${n + 1000}`, 'consistency?from=0&to=3', 'consistency?from=5&to=4', 'inclusion?seq=x']) {
    const r = await api(b, 'GET', `sys/audit-log/proof/${q}`, { token: null });
    t.is(r.status, 400, `${q}: ${r.text}`);
  }
});

test.serial('verify -anchor: the saved checkpoint must be extended (online and offline); a forged anchor is refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-anchor-'));
  const anchor = join(dir, 'anchor.txt');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(anchor, (await runCli(b, ['audit', 'checkpoint'])).stdout);
  for (let i = 0; i < 5; i++) await api(b, 'GET', 'secret/data/typed');
  const online = await runCli(b, ['audit', 'verify', '-anchor', anchor, '-format=json']);
  t.is(online.code, 0, online.stderr);
  t.like(JSON.parse(online.stdout) as object, { ok: true, first_bad_seq: null, client_checks: { ok: true } });
  const pk = dataOf<{ public_key: string }>((await api(b, 'GET', 'sys/audit-log/public-key', { token: null })).json).public_key;
  const file = join(dir, 'export.jsonl');
  t.is((await runCli(b, ['audit', 'export', '-o', file, '-mark=false'])).code, 0);
  const offline = await runCli(b, ['audit', 'verify', '-file', file, '-public-key', pk, '-anchor', anchor, '-format=json']);
  t.is(offline.code, 0, offline.stderr);
  t.like(JSON.parse(offline.stdout) as object, { ok: true });
  // An anchor whose root was changed no longer carries a valid signature: refused, not silently accepted.
  const text = await readFile(anchor, 'utf8');
  const lines = text.split('\n');
  lines[2] = Buffer.alloc(32, 1).toString('base64');
  await writeFile(join(dir, 'forged.txt'), lines.join('\n'));
  const forged = await runCli(b, ['audit', 'verify', '-anchor', join(dir, 'forged.txt')]);
  t.not(forged.code, 0);
  t.regex(forged.stderr, /not (signed by|a checkpoint of) /);
});

test.serial('sealbox audit checkpoint prints the note; sealbox audit prove SEQ checks an entry against it', async (t) => {
  const cp = await runCli(b, ['audit', 'checkpoint']);
  t.is(cp.code, 0, cp.stderr);
  t.regex(cp.stdout, /^sealbox\.audit\/[0-9a-f]{16}\n\d+\n[A-Za-z0-9+/]{43}=\ntime \d+\nmac-from \d+\n\n\u2014 /u);
  const ok = await runCli(b, ['audit', 'prove', '-format=json', '5']);
  t.is(ok.code, 0, ok.stderr);
  t.like(JSON.parse(ok.stdout) as object, { ok: true, seq: 5 });
  const far = await runCli(b, ['audit', 'prove', '99999999']);
  t.is(far.code, 3);
  t.regex(far.stderr, /after the latest checkpoint/);
});
