// Issue 18 item 2: KV reads from a shared cache of SEALED entry records, per mount, kept current by NOTIFY. Two
// in-process replicas (A and B) on one real PostgreSQL database and one data directory (one unseal key). Each test
// uses its own secret paths; they run serially because one of them cuts A's notification connection.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { startApp, type InProcessBroker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { listenActivity } from './helpers/activity.ts';
import { pollUntil, type PollOptions } from './helpers/poll.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';
import { startTcpProxy, type TcpProxy } from './helpers/tcp-proxy.ts';

type Obj = Record<string, unknown>;
let a: InProcessBroker;
let b: InProcessBroker;
let url: string;
let proxy: TcpProxy;
let stopListening: (() => Promise<void>) | undefined;

/**
 * The waits of this file re-check on each NOTIFY of the replicas' cache channels (listenActivity), and at the beats
 * of the brokers' own timers: a LISTEN connection confirmed by the heartbeat or re-opened after a cut has no event a
 * test can see, only the moment the broker's timer comes round (every 2 s at the default 10 s staleness).
 */
const until = <T>(what: string, check: () => Promise<T | null | undefined | false>, opts: PollOptions = {}): Promise<T> => {
  const start = Date.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const at = Array.from({ length: Math.floor(timeoutMs / 250) }, (_, i) => start + (i + 1) * 250);
  return pollUntil(what, check, { ...opts, timeoutMs, at });
};

test.before(async () => {
  const pg = await startPostgres();
  url = await pg.createDatabase();
  const rootToken = `root-${randomBytes(8).toString('hex')}`;
  // A reaches PostgreSQL through a proxy (to hold its reconnection back), and its connections are named, so that the
  // test can find (and cut) its LISTEN connection in pg_stat_activity.
  proxy = await startTcpProxy(pg.port);
  const viaProxy = url.replace(`:${pg.port}/`, `:${proxy.port}/`);
  a = await startApp({ databaseUrl: `${viaProxy}?application_name=replica-a`, rootToken, clock: 'system' });
  b = await startApp({ databaseUrl: `${url}?application_name=replica-b`, rootToken, dataDir: a.dataDir, clock: 'system' });
  stopListening = await listenActivity(url, ['sealbox_entries', 'sealbox_mounts', 'sealbox_keyring']);
});
test.after.always(async () => {
  await stopListening?.();
  await b?.stop();
  await a?.stop();
  await proxy?.close();
});

/** A figure of sys/metrics (Prometheus text) on one replica. */
async function metric(r: InProcessBroker, name: string): Promise<number> {
  const res = await api(r, 'GET', 'sys/metrics?format=prometheus');
  if (res.status !== 200 || !res.text.includes(`# TYPE ${name} `)) throw new Error(`no ${name} in sys/metrics (${res.status})`);
  // A counter still at 0 has no sample line.
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(res.text);
  return m ? Number(m[1]) : 0;
}
const hits = (r: InProcessBroker): Promise<number> => metric(r, 'sealbox_entry_cache_hits_total');

async function write(r: InProcessBroker, path: string, data: Obj): Promise<void> {
  const res = await api(r, 'POST', `secret/data/${path}`, { body: { data } });
  if (res.status !== 200) throw new Error(`write ${path}: ${res.status} ${res.text}`);
}
async function read(r: InProcessBroker, path: string, token?: string): Promise<{ status: number; data: Obj | null; version: number | null; text: string }> {
  const res = await api(r, 'GET', `secret/data/${path}`, token === undefined ? {} : { token });
  const d = (res.json as { data?: { data?: Obj | null; metadata?: { version?: number } } } | undefined)?.data;
  return { status: res.status, data: d?.data ?? null, version: d?.metadata?.version ?? null, text: res.text };
}
/** Reads on `r` until one is answered from the cache (the hit counter moves): the record is cached there. */
async function cachedOn(r: InProcessBroker, path: string): Promise<Awaited<ReturnType<typeof read>>> {
  return until(`a cached read of ${path}`, async () => {
    const before = await hits(r);
    const got = await read(r, path);
    return (await hits(r)) > before ? got : null;
  });
}

test.serial('a write on B reaches A: A answers the old or the new version, never goes back, and soon the new one', async (t) => {
  await write(a, 'cross/app', { v: 1 });
  t.is((await cachedOn(a, 'cross/app')).data?.v, 1);
  await write(b, 'cross/app', { v: 2 });
  // Within the NOTIFY delay A may still answer version 1; once it answers 2 it never answers 1 again.
  let seen = 0;
  await until('A reads version 2', async () => {
    const r = await read(a, 'cross/app');
    t.is(r.status, 200);
    t.true(r.version === 1 || r.version === 2, `version ${r.version}`);
    t.true((r.version ?? 0) >= seen, 'A never goes back to an older version');
    seen = Math.max(seen, r.version ?? 0);
    return r.version === 2;
  });
  t.deepEqual((await cachedOn(a, 'cross/app')).data, { v: 2 });

  // Every kind of change on B reaches A's cache: soft delete, undelete, destroy, delete-metadata.
  const status = async (): Promise<number> => (await read(a, 'cross/app')).status;
  t.is((await api(b, 'DELETE', 'secret/data/cross/app')).status, 204);
  await until('A sees the soft delete', async () => (await status()) === 404);
  t.is((await api(b, 'POST', 'secret/undelete/cross/app', { body: { versions: [2] } })).status, 204);
  await until('A sees the undelete', async () => (await read(a, 'cross/app')).data?.v === 2);
  await cachedOn(a, 'cross/app');
  t.is((await api(b, 'POST', 'secret/destroy/cross/app', { body: { versions: [2] } })).status, 204);
  await until('A sees the destroy', async () => (await status()) === 404);
  await write(b, 'cross/app', { v: 3 });
  await until('A sees version 3', async () => (await read(a, 'cross/app')).version === 3);
  await cachedOn(a, 'cross/app');
  t.is((await api(b, 'DELETE', 'secret/metadata/cross/app')).status, 204);
  await until('A sees the metadata deleted', async () => {
    const r = await read(a, 'cross/app');
    return r.status === 404 && r.data === null;
  });
});

test.serial('read-your-writes: a write on A, then a read on A at once, returns the new value (also with check-and-set)', async (t) => {
  await write(a, 'ryw/app', { v: 1 });
  await cachedOn(a, 'ryw/app');
  for (let v = 2; v <= 6; v++) {
    const res = await api(a, 'POST', 'secret/data/ryw/app', { body: { data: { v }, options: { cas: v - 1 } } });
    t.is(res.status, 200, res.text);
    const r = await read(a, 'ryw/app');
    t.deepEqual(r.data, { v });
    t.is(r.version, v);
  }
  t.is((await api(a, 'PATCH', 'secret/data/ryw/app', { body: { data: { w: 1 } }, headers: { 'content-type': 'application/merge-patch+json' } })).status, 200);
  t.deepEqual((await read(a, 'ryw/app')).data, { v: 6, w: 1 });
  t.is((await api(a, 'DELETE', 'secret/data/ryw/app')).status, 204);
  t.is((await read(a, 'ryw/app')).status, 404);
});

test.serial('a lost LISTEN connection drops A\'s cache: A never answers from it meanwhile, nor after, a write it missed', async (t) => {
  await write(a, 'listen/app', { v: 1 });
  t.is((await cachedOn(a, 'listen/app')).data?.v, 1);
  const flushes = await metric(a, 'sealbox_entry_cache_flushes_total');
  const lost = a.waitForLogLine((l) => l.msg === 'notification connection lost; caches flushed, reconnecting');
  // A cannot reconnect until the test lets it: B's write below happens while A has no LISTEN connection for certain.
  proxy.refuseNew();
  const cut = await withPgClient(url, async (c) =>
    (await c.query("SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = 'replica-a (listen)'")).rowCount,
  );
  t.is(cut, 1, "A's LISTEN connection was found by its application_name");
  await lost;
  // Fail closed (issue 21): without its LISTEN connection A cannot confirm what it cached, and answers 503.
  const meanwhile = await read(a, 'listen/app');
  t.is(meanwhile.status, 503);
  t.is(meanwhile.data, null);

  // B's notification of this write never reaches A.
  await write(b, 'listen/app', { v: 2 });
  const restored = a.waitForLogLine((l) => l.msg === 'notification connection restored; caches flushed');
  await proxy.up();
  await restored;
  t.true((await metric(a, 'sealbox_entry_cache_flushes_total')) >= flushes + 2, 'dropped whole when lost, and again when restored');
  const h0 = await hits(a);
  t.deepEqual((await read(a, 'listen/app')).data, { v: 2 }, 'the write A missed is read from storage');
  t.is(await hits(a), h0, 'that read was not answered from the cache');
  t.deepEqual((await cachedOn(a, 'listen/app')).data, { v: 2 }, 'caching resumed after LISTEN came back');
  await write(b, 'listen/app', { v: 3 });
  await until('A sees version 3 through the restored LISTEN connection', async () => (await read(a, 'listen/app')).version === 3);
});

test.serial('integrity: a tampered row is refused from storage, and once invalidated, A never answers what storage no longer holds', async (t) => {
  const secret = `tamper-${randomBytes(8).toString('hex')}`;
  await write(a, 'tamper/app', { secret });
  t.is((await cachedOn(a, 'tamper/app')).data?.secret, secret);
  const mountId = await withPgClient(url, async (c) => (await c.query<{ id: string }>("SELECT id FROM mounts WHERE path = 'secret/'")).rows[0]?.id);
  t.truthy(mountId);
  // Flip one byte of the stored ciphertext (past the envelope's DEK head).
  const flipped = await withPgClient(url, (c) =>
    c.query(
      `UPDATE entries SET sealed = set_byte(sealed, length(sealed) - 5, (get_byte(sealed, length(sealed) - 5) + 1) % 256)
        WHERE mount_id = $1 AND key = 'meta/tamper/app'`,
      [mountId],
    ),
  );
  t.is(flipped.rowCount, 1);
  // B has nothing cached for it: its read goes to storage and the envelope does not open.
  const refused = await read(b, 'tamper/app');
  t.is(refused.status, 500);
  t.false(refused.text.includes(secret));
  // An invalidation (what any write sends): A's cached copy goes, and A refuses too, every time after.
  await withPgClient(url, (c) => c.query('SELECT pg_notify($1, $2)', ['sealbox_entries', JSON.stringify({ m: mountId, k: ['meta/tamper/app'] })]));
  await until('A refuses the tampered row', async () => (await read(a, 'tamper/app')).status === 500);
  for (let i = 0; i < 3; i++) t.is((await read(a, 'tamper/app')).status, 500, 'a refused record is never cached');

  // A record removed from storage: after the invalidation A answers 404, not its cached copy.
  await write(a, 'tamper/gone', { v: 1 });
  await cachedOn(a, 'tamper/gone');
  await withPgClient(url, (c) => c.query("DELETE FROM entries WHERE mount_id = $1 AND key LIKE '%tamper/gone%'", [mountId]));
  await withPgClient(url, (c) => c.query('SELECT pg_notify($1, $2)', ['sealbox_entries', JSON.stringify({ m: mountId })]));
  await until('A answers 404 for a removed record', async () => (await read(a, 'tamper/gone')).status === 404);
  t.false(a.logs().includes(secret) || b.logs().includes(secret));
});

test.serial('ACL and audit hold on cached keys: a token without read is refused; a cached read whose audit append fails fails', async (t) => {
  await write(a, 'acl/app', { v: 1 });
  await cachedOn(a, 'acl/app');
  const policy = { policy: JSON.stringify({ path: { 'secret/data/acl/other': { capabilities: ['read'] }, 'secret/data/acl/readable': { capabilities: ['read'] } } }) };
  t.is((await api(a, 'PUT', 'sys/policies/acl/acl-cache', { body: policy })).status, 204);
  const created = await api(a, 'POST', 'auth/token/create', { body: { policies: ['acl-cache'] } });
  const token = (created.json as { auth: { client_token: string } }).auth.client_token;
  const denied = await read(a, 'acl/app', token);
  t.is(denied.status, 403);
  t.deepEqual(JSON.parse(denied.text), { errors: ['permission denied'] });
  await write(a, 'acl/readable', { v: 2 });
  await read(a, 'acl/readable');
  t.deepEqual((await read(a, 'acl/readable', token)).data, { v: 2 }, 'the same token may read what its policy allows, cached');

  const before = await hits(a);
  await withPgClient(url, async (c) => {
    await c.query(`CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit log is read-only'; END $$`);
    await c.query('CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit()');
  });
  try {
    const refused = await read(a, 'acl/app');
    t.is(refused.status, 500);
    t.deepEqual(JSON.parse(refused.text), { errors: ['internal error'] });
  } finally {
    await withPgClient(url, (c) => c.query('DROP TRIGGER refuse_audit ON audit_entries; DROP FUNCTION refuse_audit()'));
  }
  t.deepEqual((await read(a, 'acl/app')).data, { v: 1 });
  t.true((await hits(a)) > before, 'the reads were answered from the cache');
});

test.serial('keyring rotation: a rewrap drops the cache on both replicas; with the old term retired, reads still open', async (t) => {
  await write(a, 'rewrap/app', { v: 1 });
  await cachedOn(a, 'rewrap/app');
  await cachedOn(b, 'rewrap/app');
  const flushes = await metric(b, 'sealbox_entry_cache_flushes_total');
  t.is((await api(a, 'PUT', 'sys/rotate')).status, 204);
  t.is(await a.kick('keyring-rewrap'), 'ok');
  await until("B's cache dropped by the rewrap's notification", async () => (await metric(b, 'sealbox_entry_cache_flushes_total')) > flushes);
  const status = (await api(a, 'GET', 'sys/key-status')).json as { data: { term: number; rewrap: { retirable_terms: number[] } } };
  const old = status.data.term - 1;
  t.true(status.data.rewrap.retirable_terms.includes(old), JSON.stringify(status.data));
  t.is((await api(a, 'PUT', 'sys/keyring/retire', { body: { term: old } })).status, 200);
  t.deepEqual((await read(a, 'rewrap/app')).data, { v: 1 });
  t.deepEqual((await read(b, 'rewrap/app')).data, { v: 1 });
  t.deepEqual((await cachedOn(b, 'rewrap/app')).data, { v: 1 });
});
