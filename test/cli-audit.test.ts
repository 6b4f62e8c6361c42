// `sealbox audit search|tail|verify|export|public-key`, run as a real CLI process (node bin/sealbox.mjs) against a
// real broker. The export is checked offline with `sealbox audit verify -file`, then tampered with.
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nacl from 'tweetnacl';
import { canonicalJson } from '../src/core/audit/canonical.ts';
import { checkpointBody } from '../src/core/audit/note.ts';
import { createNoteSigner } from '../src/core/audit/signer.ts';
import { appendLeaf, emptyFrontier, encodeFrontier, frontierRoot, leafHash } from '../src/lib/merkle.ts';
import { api, BROKER_ENTRY, PROJECT_ROOT, startBroker, vaultClient, type Broker } from './helpers/broker.ts';
import { cliEnv, runCli } from './helpers/cli.ts';
import { collect } from './helpers/wait-output.ts';

let b: Broker;
const SECRET = `s3cr3t-${randomBytes(8).toString('hex')}`;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-cli-audit-'));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `sealbox audit …` as a real process, with a user's environment. */
function cli(args: string[], opts: { token?: string | null; env?: Record<string, string> } = {}): Promise<Run> {
  return runCli(b, ['audit', ...args], opts);
}

interface Entry {
  seq: number;
  time: string;
  operation: string;
  path: string;
  accessor: string | null;
  outcome: string;
  hash: string;
}

test.before(async () => {
  // Frequent checkpoints, so that an export of a few dozen entries carries several signatures.
  b = await startBroker({ env: { SEALBOX_AUDIT_CHECKPOINT_EVERY: '5', SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1' } });
  const v = vaultClient(b);
  await v.write('secret/data/cli-audit/app', { data: { password: SECRET } });
  await v.read('secret/data/cli-audit/app');
  await v.read('secret/data/cli-audit/app');
  const missing = await api(b, 'GET', 'secret/data/cli-audit/missing');
  if (missing.status !== 404) throw new Error(`expected 404, got ${missing.status}`);
  const denied = await api(b, 'GET', 'secret/data/cli-audit/app', { token: 'not-a-token' });
  if (denied.status !== 403) throw new Error(`expected 403, got ${denied.status}`);
  for (let i = 0; i < 8; i++) await v.write(`secret/data/cli-audit/more-${i}`, { data: { n: String(i) } });
  // A checkpoint every 5 entries is signed in the batch that reaches it, before the request is answered: the 11
  // writes and reads above are audited, so two checkpoints exist now (no waiting).
  const r = await api(b, 'GET', 'sys/audit-log/checkpoints');
  const cps = (r.json as { data?: { checkpoints?: unknown[] } } | undefined)?.data?.checkpoints ?? [];
  if (r.status !== 200 || cps.length < 2) throw new Error(`expected 2 or more checkpoints, got ${r.status} ${JSON.stringify(r.json)}`);
});

test.after.always(async () => {
  await b.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('search -format=json returns the recorded requests with their fields, and no secret', async (t) => {
  const r = await cli(['search', '-path-prefix', 'secret/data/cli-audit/', '-format=json']);
  t.is(r.code, 0, r.stderr);
  const page = JSON.parse(r.stdout) as { entries: Entry[]; next: number | null };
  const at = (op: string, p: string, outcome: string) => page.entries.filter((e) => e.operation === op && e.path === p && e.outcome === outcome);
  t.is(at('update', 'secret/data/cli-audit/app', 'success').length, 1);
  t.is(at('read', 'secret/data/cli-audit/app', 'success').length, 2);
  t.is(at('read', 'secret/data/cli-audit/missing', 'client_error').length, 1);
  t.is(at('read', 'secret/data/cli-audit/app', 'denied').length, 1);
  for (const e of page.entries) {
    t.true(Number.isSafeInteger(e.seq));
    t.regex(e.time, /^\d{4}-\d\d-\d\dT/);
    t.regex(e.hash, /^[0-9a-f]{64}$/);
  }
  const seqs = page.entries.map((e) => e.seq);
  t.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'oldest first');
  t.false(r.stdout.includes(SECRET));
});

test('search prints a table by default, and filters combine', async (t) => {
  const r = await cli(['search', '--path-prefix=secret/data/cli-audit/app', '--operation=read', '-outcome', 'success']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0] ?? '', /^SEQ\s+TIME\s+OPERATION\s+PATH\s+ACCESSOR\s+OUTCOME$/);
  t.is(lines.length, 3, r.stdout);
  for (const line of lines.slice(1)) t.regex(line, /^\d+\s+\d{4}-\d\d-\d\dT\S+\s+read\s+secret\/data\/cli-audit\/app\s+\S+\s+success$/);

  const denied = await cli(['search', '-outcome=denied', '-path-prefix=secret/data/cli-audit/']);
  t.is(denied.code, 0, denied.stderr);
  t.regex(denied.stdout, /read\s+secret\/data\/cli-audit\/app\s+-\s+denied/, 'no token, so no accessor');

  const none = await cli(['search', '-path-prefix=nothing/here/']);
  t.is(none.code, 0);
  t.is(none.stdout, '');
  t.regex(none.stderr, /No entries found/);
});

test('search pages with -limit and -after', async (t) => {
  const first = await cli(['search', '-path-prefix=secret/data/cli-audit/more-', '-limit=3', '-format=json']);
  t.is(first.code, 0, first.stderr);
  const p1 = JSON.parse(first.stdout) as { entries: Entry[]; next: number | null };
  t.is(p1.entries.length, 3);
  t.is(p1.next, p1.entries[2]?.seq ?? -1);
  const second = await cli(['search', '-path-prefix=secret/data/cli-audit/more-', '-limit', '3', '-after', String(p1.next), '-format', 'json']);
  const p2 = JSON.parse(second.stdout) as { entries: Entry[] };
  t.is(p2.entries.length, 3);
  t.true((p2.entries[0]?.seq ?? 0) > (p1.next ?? Infinity));
  // In table form, the command for the next page goes to stderr.
  const table = await cli(['search', '-path-prefix=secret/data/cli-audit/more-', '-limit=3']);
  t.regex(table.stderr, new RegExp(`More entries: sealbox audit search .*-after=${p1.next}`));
});

test('search accepts relative times and refuses bad ones', async (t) => {
  const recent = await cli(['search', '-since=10m', '-path-prefix=secret/data/cli-audit/app', '-format=json']);
  t.is(recent.code, 0, recent.stderr);
  t.true((JSON.parse(recent.stdout) as { entries: Entry[] }).entries.length >= 4);
  const future = await cli(['search', '-until=2000-01-01T00:00:00Z', '-format=json']);
  t.deepEqual((JSON.parse(future.stdout) as { entries: Entry[] }).entries, []);
  const bad = await cli(['search', '-since=yesterday']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /-since: "yesterday" is neither/);
});

test('verify asks the server to walk the chain', async (t) => {
  const r = await cli(['verify', '-format=json']);
  t.is(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as { ok: boolean; checked: number; first_bad_seq: number | null };
  t.true(v.ok);
  t.true(v.checked >= 14);
  t.is(v.first_bad_seq, null);
  const table = await cli(['verify']);
  t.is(table.code, 0);
  t.regex(table.stdout, /^Key\s+Value\n---\s+-----\nok\s+true\nchecked\s+\d+\nfirst_bad_seq\s+n\/a\n$/);
});

test('public-key prints the key the API publishes', async (t) => {
  const r = await cli(['public-key'], { token: null });
  t.is(r.code, 0, r.stderr);
  const apiKey = (await api(b, 'GET', 'sys/audit-log/public-key')).json as { data: { public_key: string } };
  t.is(r.stdout.trim(), apiKey.data.public_key);
});

// ---- export and offline verify ----

interface Exported {
  file: string;
  lines: string[];
  publicKey: string;
}
let exported: Promise<Exported> | undefined;

/** One export shared by the offline tests (each works on its own copy). */
function exportOnce(): Promise<Exported> {
  exported ??= (async () => {
    const file = path.join(tmp, 'audit.jsonl');
    const r = await cli(['export', '-o', file, '-progress']);
    if (r.code !== 0) throw new Error(`export failed (${String(r.code)}): ${r.stderr}`);
    const key = (await api(b, 'GET', 'sys/audit-log/public-key')).json as { data: { public_key: string } };
    return { file, lines: fs.readFileSync(file, 'utf8').trimEnd().split('\n'), publicKey: key.data.public_key };
  })();
  return exported;
}

function writeCopy(name: string, lines: readonly string[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const entryIndex = (lines: readonly string[], seq: number): number =>
  lines.findIndex((l) => (JSON.parse(l) as { type: string; seq?: number }).type === 'entry' && (JSON.parse(l) as { seq: number }).seq === seq);

test('export writes a header, the signed checkpoints and every entry as JSON Lines, then marks them exported', async (t) => {
  const { file, lines, publicKey } = await exportOnce();
  t.false(fs.readdirSync(tmp).some((f) => f.includes('.partial-')), 'no temporary file left behind');
  const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const header = rows[0] ?? {};
  t.is(header.type, 'header');
  t.is(header.public_key, publicKey);
  t.regex(String(header.exported_at), /^\d{4}-\d\d-\d\dT/);
  const cps = rows.filter((r) => r.type === 'checkpoint');
  const entries = rows.filter((r) => r.type === 'entry');
  t.true(cps.length >= 2);
  for (const c of cps) t.deepEqual(Object.keys(c).sort(), ['frontier', 'hash', 'note', 'seq', 'time', 'type']);
  t.deepEqual(
    entries.map((e) => e.seq),
    entries.map((_, i) => i + 1),
    'every entry from seq 1, in order',
  );
  t.is(rows.findIndex((r) => r.type === 'entry'), cps.length + 1, 'header, then checkpoints, then entries');
  t.false(fs.readFileSync(file, 'utf8').includes(SECRET));
  // The server now counts everything in the file as exported (it may prune it).
  const last = entries.at(-1)?.seq as number;
  const mark = await api(b, 'GET', 'sys/audit-log/export?after=0&limit=1&mark=true');
  t.true((mark.json as { data: { exported_through: number } }).data.exported_through >= last);
});

test('export shows progress on stderr when asked, and refuses bad flags', async (t) => {
  // Its own directory: the other export test checks that no temporary file is left next to its file.
  const file = path.join(fs.mkdtempSync(path.join(tmp, 'progress-')), 'progress.jsonl');
  const r = await cli(['export', `--output=${file}`, '-progress', '-page-size=7', '-mark=false']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /exported \d+ entries in [\d.]+ s \([\d,-]+ entries\/s\)/);
  t.regex(r.stderr, /Exported \d+ entries \(through seq \d+\) and \d+ signed checkpoints to /);
  const missing = await cli(['export']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /-o FILE is required[\s\S]*usage: sealbox audit export/);
  const exists = await cli(['export', '-o', path.join(tmp, 'no', 'such', 'dir', 'x.jsonl')]);
  t.is(exists.code, 2);
  t.regex(exists.stderr, /cannot write/);
});

test.serial('an export taken while entries are appended stops where it began, so every checkpoint it needs is in it', async (t) => {
  // The first page names the log size the export ends at, read before the checkpoints: every multiple of 5 up to it
  // has its checkpoint in that page's list (a batch commits its entries and checkpoints together).
  const first = (await api(b, 'GET', 'sys/audit-log/export?after=0&limit=1')).json as { data: { through: number; checkpoints: { seq: number }[] } };
  const { through, checkpoints } = first.data;
  t.true(through >= 10);
  const signed = new Set(checkpoints.map((c) => c.seq));
  for (let size = 5; size <= through; size += 5) t.true(signed.has(size), `checkpoint at ${size}`);
  // The CLI in small pages while writes keep appending (each write and read is audited). Before the end was fixed,
  // entries appended after the first page came with no checkpoint for their multiple of 5 and offline verify failed.
  const file = path.join(fs.mkdtempSync(path.join(tmp, 'racing-')), 'racing.jsonl');
  let writing = true;
  const writer = (async () => {
    for (let i = 0; writing && i < 200; i++) await api(b, 'POST', 'secret/data/racing', { body: { data: { n: String(i) } } });
  })();
  const r = await cli(['export', '-o', file, '-page-size=2', '-mark=false']);
  writing = false;
  await writer;
  t.is(r.code, 0, r.stderr);
  const key = (await api(b, 'GET', 'sys/audit-log/public-key')).json as { data: { public_key: string } };
  const v = await cli(['verify', '--file', file, '--public-key', key.data.public_key, '-format=json'], { token: null, env: { SEALBOX_ADDR: 'http://127.0.0.1:1' } });
  t.is(v.code, 0, v.stderr);
  t.true((JSON.parse(v.stdout) as { ok: boolean }).ok);
});

test('an export verifies offline with the public key from the API', async (t) => {
  const { file, publicKey } = await exportOnce();
  const r = await cli(['verify', '--file', file, '--public-key', publicKey, '-format=json', '-progress'], { token: null, env: { SEALBOX_ADDR: 'http://127.0.0.1:1' } });
  t.is(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout) as { ok: boolean; checked: number; first_bad_seq: number | null; signed_through: number; public_key_source: string };
  t.true(v.ok);
  t.true(v.checked >= 14);
  t.is(v.first_bad_seq, null);
  t.true(v.signed_through >= 5);
  t.is(v.public_key_source, 'flag');
  t.regex(r.stderr, /verified \d+ entries in/);
  t.notRegex(r.stderr, /WARNING/);
  // The key can come from a file, including the JSON `audit public-key -format=json` prints.
  const keyFile = path.join(tmp, 'key.json');
  fs.writeFileSync(keyFile, JSON.stringify({ algorithm: 'ed25519', public_key: publicKey }));
  const fromFile = await cli(['verify', '-file', file, `-public-key=@${keyFile}`]);
  t.is(fromFile.code, 0, fromFile.stderr);
  t.regex(fromFile.stdout, /^ok\s+true$/m);
});

test('without -public-key, offline verify uses the header key and says that proves little', async (t) => {
  const { file } = await exportOnce();
  const r = await cli(['verify', '-file', file]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /WARNING: no -public-key given/);
  t.regex(r.stdout, /public_key\s+\S+ \(from the file: not independent\)/);
});

test('one flipped byte inside one entry makes offline verify fail, naming its seq', async (t) => {
  const { lines, publicKey } = await exportOnce();
  const i = entryIndex(lines, 4);
  const line = lines[i] ?? '';
  // A byte inside the entry's request id: the line is still valid JSON, only the entry changed.
  const at = line.indexOf('request_id\\":\\"') + 'request_id\\":\\"'.length + 3;
  const flipped = line.slice(0, at) + String.fromCharCode(line.charCodeAt(at) ^ 0x01) + line.slice(at + 1);
  t.not(flipped, line);
  const copy = [...lines];
  copy[i] = flipped;
  const r = await cli(['verify', '-file', writeCopy('flipped.jsonl', copy), '-public-key', publicKey, '-format=json']);
  t.is(r.code, 3, r.stderr);
  t.is((JSON.parse(r.stdout) as { first_bad_seq: number }).first_bad_seq, 4);
  t.regex(r.stderr, /does NOT verify: the first entry that does not check is seq 4/);

  // A flip that breaks the line's JSON is caught at that seq too.
  const j = entryIndex(lines, 7);
  const broken = [...lines];
  broken[j] = `${String.fromCharCode((lines[j] ?? '').charCodeAt(0) ^ 0x01)}${(lines[j] ?? '').slice(1)}`;
  const r2 = await cli(['verify', '-file', writeCopy('broken.jsonl', broken), '-public-key', publicKey]);
  t.is(r2.code, 3);
  t.regex(r2.stdout, /^first_bad_seq\s+7$/m);
  t.regex(r2.stderr, /line \d+: not a well-formed entry line \(expected seq 7\)/);
});

test('deleting an entry line or every checkpoint fails offline verify', async (t) => {
  const { lines, publicKey } = await exportOnce();
  const gap = lines.filter((_, i) => i !== entryIndex(lines, 6));
  const r = await cli(['verify', '-file', writeCopy('gap.jsonl', gap), '-public-key', publicKey, '-format=json']);
  t.is(r.code, 3);
  t.is((JSON.parse(r.stdout) as { first_bad_seq: number }).first_bad_seq, 6);

  const unsigned = lines.filter((l) => (JSON.parse(l) as { type: string }).type !== 'checkpoint');
  const r2 = await cli(['verify', '-file', writeCopy('unsigned.jsonl', unsigned), '-public-key', publicKey]);
  t.is(r2.code, 3);
  t.regex(r2.stderr, /no signed checkpoint/);
});

test('a wrong public key fails offline verify', async (t) => {
  const { file } = await exportOnce();
  const other = Buffer.from(nacl.sign.keyPair().publicKey).toString('base64');
  const r = await cli(['verify', '-file', file, '-public-key', other]);
  t.is(r.code, 3, r.stderr);
  t.regex(r.stdout, /^ok\s+false$/m);
  t.regex(r.stderr, /WARNING: the export header names a different public key/);
  t.regex(r.stderr, /checkpoint at size \d+: origin "[^"]+" is not this log's/);
});

test('a rewritten export re-signed with another key passes only without the real key', async (t) => {
  const { lines, publicKey } = await exportOnce();
  // The attacker edits entry 3, rebuilds the Merkle tree, signs new checkpoints and puts their key in the header.
  const forger = createNoteSigner(randomBytes(32));
  const forgerKey = forger.publicKey().toString('base64');
  const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const f = emptyFrontier();
  const trees = new Map<number, { root: Buffer; frontier: Buffer }>();
  for (const r of rows) {
    if (r.type !== 'entry') continue;
    if (r.seq === 3) r.entry = canonicalJson({ ...(JSON.parse(r.entry as string) as object), path: 'nothing/to/see' });
    const leaf = leafHash(r.entry as string);
    r.hash = leaf.toString('hex');
    appendLeaf(f, leaf);
    trees.set(r.seq as number, { root: frontierRoot(f), frontier: encodeFrontier(f) });
  }
  for (const r of rows) {
    if (r.type === 'header') r.public_key = forgerKey;
    if (r.type !== 'checkpoint') continue;
    const tree = trees.get(r.seq as number);
    r.hash = tree?.root.toString('hex');
    r.frontier = tree?.frontier.toString('hex');
    r.note = forger.signNote(checkpointBody(forger.origin(), r.seq as number, tree?.root ?? Buffer.alloc(32)));
  }
  const file = writeCopy('forged.jsonl', rows.map((r) => JSON.stringify(r)));
  const selfConsistent = await cli(['verify', '-file', file]);
  t.is(selfConsistent.code, 0, selfConsistent.stderr);
  t.regex(selfConsistent.stderr, /WARNING: no -public-key given/);
  const real = await cli(['verify', '-file', file, '-public-key', publicKey]);
  t.is(real.code, 3);
});

test('offline verify: bad keys are usage errors, unreadable files are I/O errors', async (t) => {
  const { file } = await exportOnce();
  const badKey = await cli(['verify', '-file', file, '-public-key', 'not base64!']);
  t.is(badKey.code, 1);
  t.regex(badKey.stderr, /not a base64 Ed25519 public key[\s\S]*usage: sealbox audit verify/);
  const shortKey = await cli(['verify', '-file', file, '-public-key', Buffer.alloc(16).toString('base64')]);
  t.is(shortKey.code, 1);
  const noFile = await cli(['verify', '-file', path.join(tmp, 'missing.jsonl')]);
  t.is(noFile.code, 2);
  t.regex(noFile.stderr, /cannot read .*missing\.jsonl/);
  const notExport = await cli(['verify', '-file', writeCopy('not-export.jsonl', ['hello'])]);
  t.is(notExport.code, 2);
  t.regex(notExport.stderr, /not a sealbox audit export/);
});

// ---- errors ----

test('bad flags and unknown commands exit 1 with usage', async (t) => {
  const cases: [string[], RegExp][] = [
    [['search', '-bogus'], /unknown flag "-bogus"[\s\S]*usage: sealbox audit search/],
    [['search', '-limit', 'ten'], /-limit must be a whole number/],
    [['search', '-operation=write'], /-operation must be one of read, list, update, delete, patch/],
    [['search', '-format=yaml'], /-format must be "table" or "json"/],
    [['search', '-accessor'], /-accessor needs a value/],
    [['search', 'extra'], /unexpected argument "extra"/],
    [['tail', '-interval=0s'], /-interval must be a duration/],
    [['verify', '-public-key', 'AAAA'], /-public-key: not a base64 Ed25519 public key/],
    [['frobnicate'], /unknown command "frobnicate"[\s\S]*usage: sealbox audit <command>/],
    [[], /usage: sealbox audit <command>/],
  ];
  for (const [args, re] of cases) {
    const r = await cli(args);
    t.is(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re, args.join(' '));
    t.is(r.stdout, '');
  }
  const help = await cli(['search', '-help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^usage: sealbox audit search/);
});

test('a bad token exits 2 with the API message; so does an unreachable server', async (t) => {
  const r = await cli(['search'], { token: 'bogus-token' });
  t.is(r.code, 2);
  t.regex(r.stderr, /GET sys\/audit-log: permission denied \(HTTP 403\)/);
  const v = await cli(['verify'], { token: 'bogus-token' });
  t.is(v.code, 2);
  t.regex(v.stderr, /permission denied/);
  const down = await cli(['search'], { env: { SEALBOX_ADDR: 'http://127.0.0.1:1' } });
  t.is(down.code, 2);
  t.regex(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:1/);
  // VAULT_ADDR / VAULT_TOKEN are the fallbacks.
  const viaVault = await cli(['verify'], { token: null, env: { SEALBOX_ADDR: '', VAULT_ADDR: b.address, VAULT_TOKEN: b.rootToken } });
  t.is(viaVault.code, 0, viaVault.stderr);
});

test('tail prints new entries as they are recorded, without its own polling, until Ctrl-C', async (t) => {
  const v = vaultClient(b);
  const mark = `tail-${randomBytes(4).toString('hex')}`;
  // Written before tail starts, and shown because of -since: once it is printed, tail is polling with a cursor.
  await v.write(`secret/data/cli-audit/${mark}-before`, { data: { i: '0' } });
  const proc = spawn(process.execPath, [BROKER_ENTRY, 'audit', 'tail', '-interval=200ms', '-format=json', '-since=1h'], {
    cwd: PROJECT_ROOT,
    env: cliEnv(b),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = collect(proc.stdout);
  const stderr = collect(proc.stderr);
  const exited = new Promise<number | null>((resolve) => proc.on('close', resolve));
  t.teardown(() => proc.kill('SIGKILL'));
  await stdout.waitFor(`secret/data/cli-audit/${mark}-before`);
  // New entries: written while tail runs, printed by a later poll (which also sees the polls before it, if unhidden).
  await v.write(`secret/data/cli-audit/${mark}-after`, { data: { i: '1' } });
  await stdout.waitFor(`secret/data/cli-audit/${mark}-after`);
  proc.kill('SIGINT');
  t.is(await exited, 0, stderr.text());
  const out = stdout.text();
  const entries = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Entry);
  t.true(entries.some((e) => e.path === `secret/data/cli-audit/${mark}-before` && e.operation === 'update'));
  t.true(entries.some((e) => e.path === `secret/data/cli-audit/${mark}-after` && e.operation === 'update'));
  const self = (await api(b, 'GET', 'auth/token/lookup-self')).json as { data: { accessor: string } };
  t.false(
    entries.some((e) => e.path.startsWith('sys/audit-log') && e.accessor === self.data.accessor),
    'its own polls are hidden',
  );
  const seqs = entries.map((e) => e.seq);
  t.deepEqual(seqs, [...new Set(seqs)].sort((x, y) => x - y), 'each entry once, in order');
});
