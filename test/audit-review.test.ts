// The review side of the audit log (issue 4): search, verify (with tampering caught at the exact seq), export,
// checkpoints, public key, pruning; against an in-process broker on PostgreSQL with a fake clock (the time windows
// and the time-based checkpoints move only when the test moves the clock), plus the pure verifier on synthetic chains.
import { randomBytes } from 'node:crypto';
import test, { type ExecutionContext } from 'ava';
import nacl from 'tweetnacl';
import { noteSignedBy, parseCheckpointBody, parseNote } from '../src/core/audit/note.ts';
import { originFor } from '../src/core/audit/signer.ts';
import { verifyLog, type LogCheckpoint, type LogLink } from '../src/core/audit/verify.ts';
import type { Client as PgClient } from 'pg';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

let b: Broker;
let pgUrl: string;

const SECRET_PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const SECRET_KEY = `key-${randomBytes(12).toString('hex')}`;
/** Every token and secret value handed out, to search for in the audit log, the logs and a database dump. */
const secrets: string[] = [SECRET_PASSWORD, SECRET_KEY];

interface Entry {
  seq: number;
  time: string;
  type: string;
  operation: string;
  mount: string | null;
  path: string;
  accessor: string | null;
  remote_address: string;
  outcome: string;
  error: string | null;
  request: { data: Record<string, unknown> };
  response: { data: unknown; auth: { accessor: string; client_token: string } | null } | null;
  hash: string;
}
interface SearchData {
  entries: Entry[];
  next: number | null;
}
interface VerifyData {
  ok: boolean;
  checked: number;
  first_bad_seq: number | null;
}
interface WireCheckpoint {
  seq: number;
  hash: string;
  time: string;
  note: string;
  frontier: string;
}
interface ExportData {
  entries: { seq: number; entry: string; hash: string }[];
  checkpoints?: WireCheckpoint[];
  next: number | null;
  exported_through?: number;
}

const dataOf = <T>(json: unknown): T => (json as { data: T }).data;
const errorsOf = (json: unknown): string[] => ((json as { errors?: string[] } | undefined)?.errors ?? []).map(String);

/** Moves the fake clock past the time-based checkpoint cadence (1 s here) and runs the checkpoint job. */
async function timeCheckpoint(t: ExecutionContext): Promise<void> {
  b.clock.advance(1500);
  t.is(await b.kick('audit-checkpoint'), 'ok');
}

async function search(t: ExecutionContext, query: Record<string, string | number>): Promise<SearchData> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
  const r = await api(b, 'GET', `sys/audit-log${qs ? `?${qs}` : ''}`);
  t.is(r.status, 200, r.text);
  return dataOf<SearchData>(r.json);
}

async function verify(t: ExecutionContext): Promise<VerifyData> {
  const r = await api(b, 'GET', 'sys/audit-log/verify');
  t.is(r.status, 200, r.text);
  return dataOf<VerifyData>(r.json);
}

const sql = <T>(fn: (c: PgClient) => Promise<T>) => withPgClient(pgUrl, fn);
const countRows = () => sql(async (c) => Number((await c.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_entries')).rows[0]?.n));

/** The mix the review must find: written in `mix`, searched in the tests below. */
const mix = {
  t0: '',
  t1: '',
  rootAccessor: '',
  deniedAccessor: '',
  loginAccessor: '',
};

test.before(async () => {
  const pg = await startPostgres();
  pgUrl = await pg.createDatabase();
  b = await startApp({
    databaseUrl: pgUrl,
    env: { SEALBOX_AUDIT_CHECKPOINT_EVERY: '5', SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1' },
  });

  // Set-up, before the window the time filters are checked on.
  const must = async (method: string, path: string, body?: unknown, token?: string | null) => {
    const r = await api(b, method, path, { body, token });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
    return r.json;
  };
  await must('POST', 'sys/auth/approle', { type: 'approle' });
  await must('POST', 'auth/approle/role/web', { token_policies: 'app' });
  const roleId = dataOf<{ role_id: string }>(await must('GET', 'auth/approle/role/web/role-id')).role_id;
  const secretId = dataOf<{ secret_id: string }>(await must('POST', 'auth/approle/role/web/secret-id', {})).secret_id;
  const denied = (await must('POST', 'auth/token/create', { policies: [], no_default_policy: true })) as {
    auth: { client_token: string; accessor: string };
  };
  mix.rootAccessor = dataOf<{ accessor: string }>(await must('GET', 'auth/token/lookup-self')).accessor;
  mix.deniedAccessor = denied.auth.accessor;
  const wrongSecretId = `${secretId.slice(0, -4)}ffff`;
  secrets.push(secretId, denied.auth.client_token, wrongSecretId, b.rootToken);
  // The entries' times are the fake clock's: the set-up is a second before t0, the mix at t0, t1 a second after.
  b.clock.advance(1000);

  // The mix: KV writes and reads, a denied read, a failed and a successful AppRole login.
  mix.t0 = b.clock.now().toISOString();
  await must('POST', 'secret/data/audit/app', { data: { password: SECRET_PASSWORD, api_key: SECRET_KEY } });
  await must('POST', 'secret/data/audit/other', { data: { password: SECRET_PASSWORD } });
  await must('GET', 'secret/data/audit/app');
  const deniedRead = await api(b, 'GET', 'secret/data/audit/app', { token: denied.auth.client_token });
  if (deniedRead.status !== 403) throw new Error(`expected a denial, got ${deniedRead.status} ${deniedRead.text}`);
  const failed = await api(b, 'POST', 'auth/approle/login', { token: null, body: { role_id: roleId, secret_id: wrongSecretId } });
  if (failed.status !== 400) throw new Error(`expected a failed login, got ${failed.status} ${failed.text}`);
  const ok = (await must('POST', 'auth/approle/login', { role_id: roleId, secret_id: secretId }, null)) as {
    auth: { client_token: string; accessor: string };
  };
  secrets.push(ok.auth.client_token);
  mix.loginAccessor = ok.auth.accessor;
  b.clock.advance(1000);
  mix.t1 = b.clock.now().toISOString();
  b.clock.advance(1000);
});
test.after.always(async () => {
  await b?.stop();
});

test.serial('search returns each request of the mix with the right fields', async (t) => {
  const { entries } = await search(t, { since: mix.t0, until: mix.t1 });
  t.deepEqual(
    entries.map((e) => [e.operation, e.path, e.outcome]),
    [
      ['update', 'secret/data/audit/app', 'success'],
      ['update', 'secret/data/audit/other', 'success'],
      ['read', 'secret/data/audit/app', 'success'],
      ['read', 'secret/data/audit/app', 'denied'],
      ['update', 'auth/approle/login', 'client_error'],
      ['update', 'auth/approle/login', 'success'],
    ],
  );
  const [write, , read, denied, failed, login] = entries as [Entry, Entry, Entry, Entry, Entry, Entry];
  for (const e of entries) {
    t.is(e.type, 'request');
    t.regex(e.remote_address, /^(::ffff:)?127\.0\.0\.1$/);
    t.regex(e.hash, /^[0-9a-f]{64}$/);
    t.true(e.time >= mix.t0 && e.time <= mix.t1, e.time);
  }
  t.is(write.accessor, mix.rootAccessor);
  t.is(write.mount, 'secret/');
  t.is(read.accessor, mix.rootAccessor);
  t.is(denied.accessor, mix.deniedAccessor);
  t.is(failed.accessor, null);
  t.is(failed.error, 'invalid credentials');
  t.is(login.accessor, null);
  t.is(login.response?.auth?.accessor, mix.loginAccessor);
  t.regex(login.response?.auth?.client_token ?? '', /^hmac-sha256:[0-9a-f]{64}$/);
  // Request strings are HMAC'd; sys/audit-hash gives the same HMAC, so a known value can be searched for.
  const stored = (write.request.data.data as { password: string }).password;
  t.regex(stored, /^hmac-sha256:[0-9a-f]{64}$/);
  const hashed = await api(b, 'POST', 'sys/audit-hash/file', { body: { input: SECRET_PASSWORD } });
  t.is(dataOf<{ hash: string }>(hashed.json).hash, stored, hashed.text);
  // Seqs increase in the order the requests were answered.
  t.deepEqual(
    entries.map((e) => e.seq),
    [...entries.map((e) => e.seq)].sort((x, y) => x - y),
  );
});

test.serial('search filters by path prefix, accessor, operation, outcome and time', async (t) => {
  const paths = (d: SearchData) => d.entries.map((e) => `${e.operation} ${e.path} ${e.outcome}`);
  t.deepEqual(paths(await search(t, { path_prefix: 'secret/data/audit/' })), [
    'update secret/data/audit/app success',
    'update secret/data/audit/other success',
    'read secret/data/audit/app success',
    'read secret/data/audit/app denied',
  ]);
  // A leading slash means the same; LIKE wildcards match only themselves.
  t.deepEqual(paths(await search(t, { path_prefix: '/secret/data/audit/o' })), ['update secret/data/audit/other success']);
  t.deepEqual((await search(t, { path_prefix: 'secret/data/audit/%' })).entries, []);
  t.deepEqual((await search(t, { path_prefix: 'secret/data/audit_' })).entries, []);

  t.deepEqual(paths(await search(t, { accessor: mix.deniedAccessor })), ['read secret/data/audit/app denied']);
  const byRoot = await search(t, { accessor: mix.rootAccessor, path_prefix: 'secret/', operation: 'read' });
  t.deepEqual(paths(byRoot), ['read secret/data/audit/app success']);
  t.deepEqual(paths(await search(t, { operation: 'update', path_prefix: 'auth/approle/login' })), [
    'update auth/approle/login client_error',
    'update auth/approle/login success',
  ]);
  const deniedOnly = await search(t, { outcome: 'denied' });
  t.true(deniedOnly.entries.length >= 1);
  t.true(deniedOnly.entries.every((e) => e.outcome === 'denied'));
  t.true(deniedOnly.entries.some((e) => e.accessor === mix.deniedAccessor));
  t.deepEqual(paths(await search(t, { outcome: 'client_error', since: mix.t0 })).slice(0, 1), ['update auth/approle/login client_error']);

  // Time: since is inclusive, until exclusive; the set-up happened before t0.
  const before = await search(t, { until: mix.t0, limit: 1000 });
  t.true(before.entries.some((e) => e.path === 'sys/auth/approle'));
  t.false(before.entries.some((e) => e.path.startsWith('secret/data/audit/')));
  const after = await search(t, { since: mix.t0, path_prefix: 'sys/auth/' });
  t.deepEqual(after.entries, []);
  t.deepEqual((await search(t, { since: '2999-01-01T00:00:00Z' })).entries, []);
  // A duration means that long ago.
  t.true((await search(t, { since: '1h', path_prefix: 'secret/data/audit/' })).entries.length === 4);
  t.deepEqual((await search(t, { until: '1h' })).entries, []);
});

test.serial('search pages with limit and after, and next is null on the last page', async (t) => {
  const all = await search(t, { limit: 1000, until: mix.t1 });
  t.is(all.next, null);
  t.true(all.entries.length >= 10);
  const seen: number[] = [];
  let after = 0;
  for (let i = 0; i < 100; i++) {
    const page = await search(t, { limit: 3, after, until: mix.t1 });
    t.true(page.entries.length <= 3);
    seen.push(...page.entries.map((e) => e.seq));
    if (page.next === null) break;
    t.is(page.next, page.entries.at(-1)?.seq ?? -1);
    after = page.next;
  }
  t.deepEqual(seen, all.entries.map((e) => e.seq));
  // A page that ends exactly at the last match says there is no more.
  const exact = await search(t, { path_prefix: 'secret/data/audit/', limit: 4 });
  t.is(exact.entries.length, 4);
  t.is(exact.next, null);
  const first = await search(t, { path_prefix: 'secret/data/audit/', limit: 3 });
  t.is(first.next, first.entries[2]?.seq ?? -1);
  t.is((await search(t, { path_prefix: 'secret/data/audit/', after: first.next ?? 0 })).entries.length, 1);
  // The default page is 100.
  t.true((await search(t, {})).entries.length <= 100);
});

test.serial('bad query parameters are 400s that name the parameter', async (t) => {
  for (const [q, field] of [
    ['since=yesterday', 'since'],
    ['since=2024-02-30T00:00:00Z', 'since'],
    ['until=2024-01-01T25:00:00Z', 'until'],
    ['since=1700000000', 'since'],
    ['limit=-1', 'limit'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=1.5', 'limit'],
    ['after=-5', 'after'],
    ['operation=create', 'operation'],
    ['outcome=maybe', 'outcome'],
    [`path_prefix=${'a'.repeat(2000)}`, 'path_prefix'],
  ] as const) {
    const r = await api(b, 'GET', `sys/audit-log?${q}`);
    t.is(r.status, 400, q);
    t.true(errorsOf(r.json)[0]?.startsWith(`${field}:`), `${q}: ${r.text}`);
  }
  for (const q of ['limit=-1', 'limit=10001', 'after=x', 'mark=perhaps']) {
    const r = await api(b, 'GET', `sys/audit-log/export?${q}`);
    t.is(r.status, 400, `${q}: ${r.text}`);
  }
  for (const body of [{}, { before: 'last tuesday' }, { before: 12 }, { before: '2024-13-01T00:00:00Z' }]) {
    const r = await api(b, 'POST', 'sys/audit-log/prune', { body });
    t.is(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    t.regex(errorsOf(r.json)[0] ?? '', /^before:/);
  }
});

test.serial('no secret value or token appears in the audit log, the broker logs or a database dump', async (t) => {
  const everything = await api(b, 'GET', 'sys/audit-log?limit=1000');
  t.is(everything.status, 200);
  const exported = await api(b, 'GET', 'sys/audit-log/export?limit=10000');
  t.is(exported.status, 200);
  const dump = await (await startPostgres()).dumpAll();
  t.true(dump.includes('audit_entries'), 'the dump covers the audit table');
  const logs = b.logs();
  for (const s of secrets) {
    t.false(everything.text.includes(s), 'search output');
    t.false(exported.text.includes(s), 'export output');
    t.false(dump.includes(s), 'database dump');
    // The dev root token is printed once at start-up by design.
    if (s !== b.rootToken) t.false(logs.includes(s), 'broker logs');
  }
});

test.serial('who may review: sudo paths, a policy for auditors, a public public key', async (t) => {
  const pk = await api(b, 'GET', 'sys/audit-log/public-key', { token: null });
  t.is(pk.status, 200, pk.text);
  const key = dataOf<{ algorithm: string; public_key: string }>(pk.json);
  t.is(key.algorithm, 'ed25519');
  t.is(Buffer.from(key.public_key, 'base64').length, 32);

  const plain = (await api(b, 'POST', 'auth/token/create', { body: { policies: ['default'] } })).json as { auth: { client_token: string } };
  for (const p of ['sys/audit-log', 'sys/audit-log/verify', 'sys/audit-log/export', 'sys/audit-log/checkpoints']) {
    t.is((await api(b, 'GET', p, { token: plain.auth.client_token })).status, 403, p);
  }
  t.is((await api(b, 'POST', 'sys/audit-log/prune', { token: plain.auth.client_token, body: { before: '1h' } })).status, 403);

  const policy = 'path "sys/audit-log" { capabilities = ["read"] }\npath "sys/audit-log/*" { capabilities = ["read"] }\n';
  const sudoPolicy = 'path "sys/audit-log" { capabilities = ["read", "sudo"] }\npath "sys/audit-log/*" { capabilities = ["read", "sudo"] }\n';
  t.is((await api(b, 'PUT', 'sys/policies/acl/auditor-nosudo', { body: { policy } })).status, 204);
  t.is((await api(b, 'PUT', 'sys/policies/acl/auditor', { body: { policy: sudoPolicy } })).status, 204);
  const tokenOf = async (policies: string[]) =>
    ((await api(b, 'POST', 'auth/token/create', { body: { policies } })).json as { auth: { client_token: string } }).auth.client_token;
  const noSudo = await tokenOf(['auditor-nosudo']);
  t.is((await api(b, 'GET', 'sys/audit-log', { token: noSudo })).status, 403, 'read alone is not enough');
  const auditor = await tokenOf(['auditor']);
  const r = await api(b, 'GET', 'sys/audit-log?path_prefix=secret/data/audit/', { token: auditor });
  t.is(r.status, 200, r.text);
  t.is(dataOf<SearchData>(r.json).entries.length, 4);
  t.is((await api(b, 'GET', 'sys/audit-log/verify', { token: auditor })).status, 200);
  t.is((await api(b, 'POST', 'sys/audit-log/prune', { token: auditor, body: { before: '1h' } })).status, 403, 'prune needs update');
});

test.serial('checkpoints are C2SP notes signed by the published key, each naming a tree size and root', async (t) => {
  // A time-based checkpoint pins the head (the count-based ones are at multiples of 5).
  const head = await sql(async (c) => Number((await c.query<{ s: string }>('SELECT max(seq)::text AS s FROM audit_entries')).rows[0]?.s));
  await timeCheckpoint(t);
  const pk = Buffer.from(dataOf<{ public_key: string }>((await api(b, 'GET', 'sys/audit-log/public-key')).json).public_key, 'base64');
  const r = await api(b, 'GET', 'sys/audit-log/checkpoints');
  t.is(r.status, 200, r.text);
  const cps = dataOf<{ checkpoints: WireCheckpoint[] }>(r.json).checkpoints;
  t.true(cps.length >= 2, `${cps.length} checkpoints`);
  t.deepEqual(cps.map((c) => c.seq), [...cps.map((c) => c.seq)].sort((x, y) => x - y));
  t.true(cps.some((c) => c.seq === head), `a checkpoint at the head ${head}: ${cps.map((c) => c.seq).join(',')}`);
  for (const cp of cps) {
    const note = parseNote(cp.note);
    t.truthy(note && noteSignedBy(note, originFor(pk), pk), `checkpoint ${cp.seq} is signed`);
    const body = note ? parseCheckpointBody(note.body) : null;
    t.is(body?.size, cp.seq);
    t.is(body?.root.toString('hex'), cp.hash);
  }
});

test.serial('verify: an untampered chain is ok and checks every row', async (t) => {
  const rows = await countRows();
  const v = await verify(t);
  t.like(v, { ok: true, checked: rows, first_bad_seq: null });
});

/** Tampers through SQL, checks that verify names `expected`, restores the rows and checks that verify is ok again. */
async function tamper(t: ExecutionContext, what: string, pick: (c: PgClient) => Promise<{ seqs: number[]; expected: number; act: () => Promise<unknown> }>) {
  await sql(async (c) => {
    const { seqs, expected, act } = await pick(c);
    await c.query('CREATE TEMP TABLE keep (LIKE audit_entries)');
    await c.query('INSERT INTO keep SELECT * FROM audit_entries WHERE seq = ANY($1::bigint[])', [seqs]);
    try {
      await act();
      const v = await verify(t);
      t.is(v.ok, false, what);
      t.is(v.first_bad_seq, expected, what);
    } finally {
      await c.query('DELETE FROM audit_entries WHERE seq = ANY($1::bigint[])', [seqs]);
      await c.query('INSERT INTO audit_entries SELECT * FROM keep');
      await c.query('DROP TABLE keep');
    }
  });
  const after = await verify(t);
  t.true(after.ok, `${what}: restored`);
}

const middleSeq = async (c: PgClient): Promise<number> => {
  const r = await c.query<{ lo: string; hi: string }>('SELECT min(seq)::text AS lo, max(seq)::text AS hi FROM audit_entries');
  const lo = Number(r.rows[0]?.lo);
  const hi = Number(r.rows[0]?.hi);
  return Math.floor((lo + hi) / 2);
};

test.serial('verify names the row whose entry was edited', async (t) => {
  await tamper(t, 'edited entry', async (c) => {
    const seq = await middleSeq(c);
    return {
      seqs: [seq],
      expected: seq,
      act: () => c.query(`UPDATE audit_entries SET entry = replace(entry, '"type":"request"', '"type":"requesT"') WHERE seq = $1`, [seq]),
    };
  });
  // Editing only a search column (not the hashed entry) is not tampering with the record; an edit to the hash is.
  await tamper(t, 'edited hash', async (c) => {
    const seq = (await middleSeq(c)) + 1;
    return { seqs: [seq], expected: seq, act: () => c.query(`UPDATE audit_entries SET hash = sha256(hash) WHERE seq = $1`, [seq]) };
  });
});

test.serial('verify names a deleted middle row', async (t) => {
  await tamper(t, 'deleted row', async (c) => {
    const seq = await middleSeq(c);
    return { seqs: [seq], expected: seq, act: () => c.query('DELETE FROM audit_entries WHERE seq = $1', [seq]) };
  });
});

test.serial('verify names the first of two swapped rows', async (t) => {
  await tamper(t, 'swapped rows', async (c) => {
    const seq = await middleSeq(c);
    return {
      seqs: [seq, seq + 1],
      expected: seq,
      act: () =>
        c.query(
          `UPDATE audit_entries a SET entry = b.entry, hash = b.hash
             FROM (SELECT seq, entry, hash FROM audit_entries WHERE seq IN ($1::bigint, $2::bigint)) b
            WHERE a.seq IN ($1::bigint, $2::bigint) AND b.seq = $1::bigint + $2::bigint - a.seq`,
          [seq, seq + 1],
        ),
    };
  });
});

test.serial('verify names the first missing row when the tail behind the last checkpoint is cut off', async (t) => {
  await timeCheckpoint(t);
  await tamper(t, 'truncated tail', async (c) => {
    const last = Number((await c.query<{ s: string }>('SELECT max(seq)::text AS s FROM audit_checkpoints')).rows[0]?.s);
    const from = last - 2;
    const tail = (await c.query<{ seq: string }>('SELECT seq::text AS seq FROM audit_entries WHERE seq >= $1', [from])).rows.map((r) => Number(r.seq));
    t.true(tail.length >= 3);
    return { seqs: tail, expected: from, act: () => c.query('DELETE FROM audit_entries WHERE seq >= $1', [from]) };
  });
});

test.serial('export pages verify offline with only the public key; prune needs an export and keeps the chain verifiable', async (t) => {
  const pk = dataOf<{ public_key: string }>((await api(b, 'GET', 'sys/audit-log/public-key', { token: null })).json).public_key;

  // Nothing is exported yet: prune deletes nothing and says why.
  const early = await api(b, 'POST', 'sys/audit-log/prune', { body: { before: '0s' } });
  t.is(early.status, 200, early.text);
  t.like(dataOf<{ deleted: number }>(early.json), { deleted: 0, pruned_through: 0 });
  t.regex(((early.json as { warnings?: string[] }).warnings ?? []).join(' '), /not been exported/);

  const key = { publicKey: Buffer.from(pk, 'base64'), origin: originFor(Buffer.from(pk, 'base64')) };
  const exportAll = async (mark: boolean) => {
    const links: LogLink[] = [];
    let checkpoints: LogCheckpoint[] = [];
    let pruneMark: string | null = null;
    let after = 0;
    for (;;) {
      const r = await api(b, 'GET', `sys/audit-log/export?limit=7&after=${after}${mark ? '&mark=true' : ''}`);
      t.is(r.status, 200, r.text);
      const d = dataOf<ExportData>(r.json);
      if (after === 0) {
        t.truthy(d.checkpoints, 'checkpoints come with the first page');
        checkpoints = (d.checkpoints ?? []).map((c) => ({ seq: c.seq, note: c.note, frontier: Buffer.from(c.frontier, 'hex') }));
        pruneMark = (d as { prune_mark?: string | null }).prune_mark ?? null;
      } else {
        t.is(d.checkpoints, undefined, 'only with the first page');
      }
      links.push(...d.entries.map((e) => ({ seq: e.seq, entry: e.entry, hash: Buffer.from(e.hash, 'hex') })));
      if (d.next === null) return { links, checkpoints, pruneMark, exportedThrough: d.exported_through };
      t.true(d.entries.length === 7);
      after = d.next;
    }
  };

  const first = await exportAll(true);
  const last = first.links.at(-1)?.seq ?? 0;
  t.is(first.exportedThrough, last);
  t.like(await verifyLog(first.links, first.checkpoints, key), { ok: true, checked: first.links.length, first_bad_seq: null });
  // One flipped byte in one entry: named exactly.
  const victim = first.links[Math.floor(first.links.length / 2)] as LogLink;
  const flipped = first.links.map((l) => (l === victim ? { ...l, entry: l.entry.replace('"type":"request"', '"type":"requesT"') } : l));
  t.like(await verifyLog(flipped, first.checkpoints, key), { ok: false, first_bad_seq: victim.seq });
  // Another key does not verify the checkpoints.
  const otherPk = Buffer.from(nacl.sign.keyPair().publicKey);
  t.false((await verifyLog(first.links, first.checkpoints, { publicKey: otherPk, origin: key.origin })).ok);

  // Prune everything older than now (a second after the export): stops at the last checkpoint at or below the export
  // mark, and the log still verifies.
  b.clock.advance(1000);
  const pruned = await api(b, 'POST', 'sys/audit-log/prune', { body: { before: b.clock.now().toISOString() } });
  t.is(pruned.status, 200, pruned.text);
  const p = dataOf<{ pruned_through: number; deleted: number }>(pruned.json);
  t.true(p.pruned_through <= last && p.pruned_through > 0, `pruned through ${p.pruned_through}, exported through ${last}`);
  t.is(p.deleted, p.pruned_through);
  const firstLeft = await sql(async (c) => Number((await c.query<{ s: string }>('SELECT min(seq)::text AS s FROM audit_entries')).rows[0]?.s));
  t.is(firstLeft, p.pruned_through + 1);
  const cps = dataOf<{ checkpoints: WireCheckpoint[] }>((await api(b, 'GET', 'sys/audit-log/checkpoints')).json).checkpoints;
  t.true(cps.some((c) => c.seq === p.pruned_through), 'a checkpoint at the prune point');
  const rows = await countRows();
  t.like(await verify(t), { ok: true, checked: rows, first_bad_seq: null });

  // Pruning again, or with an older cutoff, deletes nothing more.
  const again = await api(b, 'POST', 'sys/audit-log/prune', { body: { before: '0s' } });
  t.like(dataOf<{ deleted: number }>(again.json), { deleted: 0 });
  const old = await api(b, 'POST', 'sys/audit-log/prune', { body: { before: '2000-01-01T00:00:00Z' } });
  t.like(dataOf<{ deleted: number }>(old.json), { deleted: 0 });

  // Search still works and pages from the new start; an export after pruning still verifies offline.
  t.true((await search(t, { after: 0, limit: 1 })).entries[0]?.seq === p.pruned_through + 1);
  const second = await exportAll(false);
  t.is(second.links[0]?.seq, p.pruned_through + 1);
  t.like(await verifyLog(second.links, second.checkpoints, { ...key, pruneMark: second.pruneMark }), { ok: true, first_bad_seq: null });
  t.like(await verifyLog(second.links, second.checkpoints, key), { ok: false, first_bad_seq: 1 }, 'without the signed prune mark a missing prefix is caught');

  // Deleting the new first row (the one that starts from the checkpoint) is caught.
  await tamper(t, 'deleted first row after pruning', async (c) => ({
    seqs: [p.pruned_through + 1],
    expected: p.pruned_through + 1,
    act: () => c.query('DELETE FROM audit_entries WHERE seq = $1', [p.pruned_through + 1]),
  }));
});
