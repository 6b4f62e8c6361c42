// KV v2 engine, end to end against two in-process brokers (test/helpers/app.ts): one on embedded PGlite (the dev default) and one on
// PostgreSQL. Every test runs on both. Tests use their own secret paths (and their own mounts when they change
// the mount config), so they can run concurrently.
import test from 'ava';
import type { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, vaultClient, type VaultApiError, type VaultClient } from './helpers/broker.ts';
import { startPostgres, stopPostgres } from './helpers/postgres.ts';

type Kind = 'pglite' | 'postgres';
const brokers = new Map<Kind, Broker>();

test.before(async () => {
  const pg = await startPostgres();
  const [embedded, external] = await Promise.all([startApp(), startApp({ databaseUrl: await pg.createDatabase() })]);
  brokers.set('pglite', embedded);
  brokers.set('postgres', external);
});

test.after.always(async () => {
  await Promise.all([...brokers.values()].map((b) => b.stop()));
  await stopPostgres();
});

interface VersionMetadata {
  created_time: string;
  deletion_time: string;
  destroyed: boolean;
}
interface SecretMetadata {
  cas_required: boolean;
  created_time: string;
  current_version: number;
  custom_metadata: Record<string, string> | null;
  delete_version_after: string;
  max_versions: number;
  oldest_version: number;
  updated_time: string;
  versions: Record<string, VersionMetadata>;
}
interface WriteResult extends VersionMetadata {
  version: number;
  custom_metadata: Record<string, string> | null;
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const uniq = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;
const dataOf = <T>(json: unknown): T => (json as { data: T }).data;
const errorsOf = (json: unknown): string[] => (json as { errors?: string[] } | undefined)?.errors ?? [];

/** The HTTP status node-vault rejected with. */
async function rejection(t: ExecutionContext, p: Promise<unknown>): Promise<{ status: number; message: string }> {
  const err = await t.throwsAsync<VaultApiError>(p);
  return { status: err?.response.statusCode ?? 0, message: err?.message ?? '' };
}

async function readData(v: VaultClient, path: string): Promise<{ data: Record<string, unknown>; metadata: WriteResult }> {
  const r = await v.read(path);
  return { data: r.data.data ?? {}, metadata: r.data.metadata as unknown as WriteResult };
}

async function readMetadata(v: VaultClient, path: string): Promise<SecretMetadata> {
  return (await v.read(path)).data as unknown as SecretMetadata;
}

async function mountKv(t: ExecutionContext, b: Broker, name: string): Promise<void> {
  const r = await api(b, 'POST', `sys/mounts/${name}`, { body: { type: 'kv', options: { version: '2' } } });
  t.is(r.status, 204, r.text);
}

function kvTests(kind: Kind): void {
  const broker = (): Broker => {
    const b = brokers.get(kind);
    if (!b) throw new Error(`no ${kind} broker`);
    return b;
  };
  const title = (s: string): string => `[${kind}] ${s}`;

  test(title('write then read returns the data untouched with version metadata'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('rw');
    const data = { user: 'app', port: 5432, ok: true, none: null, list: [1, 'two', { three: 3 }], nested: { ü: '🔑' } };
    const w = (await v.write(`secret/data/${p}`, { data })).data as unknown as WriteResult;
    t.is(w.version, 1);
    t.regex(w.created_time, RFC3339);
    t.is(w.deletion_time, '');
    t.false(w.destroyed);
    t.is(w.custom_metadata, null);

    const r = await readData(v, `secret/data/${p}`);
    t.deepEqual(r.data, data);
    t.deepEqual(r.metadata, { created_time: w.created_time, custom_metadata: null, deletion_time: '', destroyed: false, version: 1 });

    t.is((await rejection(t, v.read(`secret/data/${uniq('absent')}`))).status, 404);
  });

  test(title('keys such as __proto__ are stored as plain data'), async (t) => {
    const b = broker();
    const p = uniq('proto');
    const body = '{"data":{"__proto__":{"polluted":true},"constructor":"c"}}';
    const w = await api(b, 'POST', `secret/data/${p}`, { rawBody: body, headers: { 'content-type': 'application/json' } });
    t.is(w.status, 200, w.text);
    const r = await api(b, 'GET', `secret/data/${p}`);
    t.is(r.status, 200);
    t.true(r.text.includes('"__proto__":{"polluted":true}'), r.text);
    t.true(r.text.includes('"constructor":"c"'));
  });

  test(title('every write is a new version; ?version= reads old ones'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('ver');
    for (const n of [1, 2, 3]) {
      const w = (await v.write(`secret/data/${p}`, { data: { n } })).data as unknown as WriteResult;
      t.is(w.version, n);
    }
    t.deepEqual((await readData(v, `secret/data/${p}`)).data, { n: 3 });
    t.is((await readData(v, `secret/data/${p}`)).metadata.version, 3);
    for (const n of [1, 2, 3]) {
      const r = await readData(v, `secret/data/${p}?version=${n}`);
      t.deepEqual(r.data, { n });
      t.is(r.metadata.version, n);
    }
    t.deepEqual((await readData(v, `secret/data/${p}?version=0`)).data, { n: 3 }, 'version 0 is the latest');
    t.is((await rejection(t, v.read(`secret/data/${p}?version=4`))).status, 404);
    const bad = await api(broker(), 'GET', `secret/data/${p}?version=abc`);
    t.is(bad.status, 400);
    t.regex(errorsOf(bad.json)[0] ?? '', /version/);
  });

  test(title('check-and-set: cas=0 creates only, cas=N must match, mismatches are 400s that write nothing'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('cas');
    const first = (await v.write(`secret/data/${p}`, { data: { a: 1 }, options: { cas: 0 } })).data as unknown as WriteResult;
    t.is(first.version, 1);

    let e = await rejection(t, v.write(`secret/data/${p}`, { data: { a: 'again' }, options: { cas: 0 } }));
    t.is(e.status, 400);
    t.is(e.message, 'check-and-set parameter did not match the current version');

    const second = (await v.write(`secret/data/${p}`, { data: { a: 2 }, options: { cas: 1 } })).data as unknown as WriteResult;
    t.is(second.version, 2);

    e = await rejection(t, v.write(`secret/data/${p}`, { data: { a: 'stale' }, options: { cas: 1 } }));
    t.is(e.status, 400);
    t.is(e.message, 'check-and-set parameter did not match the current version');
    const now = await readData(v, `secret/data/${p}`);
    t.deepEqual(now.data, { a: 2 });
    t.is(now.metadata.version, 2);

    // cas_required on the secret's metadata.
    await v.write(`secret/metadata/${p}`, { cas_required: true });
    e = await rejection(t, v.write(`secret/data/${p}`, { data: { a: 3 } }));
    t.is(e.status, 400);
    t.is(e.message, 'check-and-set parameter required for this call');
    t.is(((await v.write(`secret/data/${p}`, { data: { a: 3 }, options: { cas: 2 } })).data as unknown as WriteResult).version, 3);
  });

  test(title('delete soft-deletes the latest version; undelete restores it'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('soft');
    await v.write(`secret/data/${p}`, { data: { v: 1 } });
    await v.write(`secret/data/${p}`, { data: { v: 2 } });

    await v.delete(`secret/data/${p}`);
    t.is((await rejection(t, v.read(`secret/data/${p}`))).status, 404);
    t.deepEqual((await readData(v, `secret/data/${p}?version=1`)).data, { v: 1 }, 'older versions stay readable');
    const meta = await readMetadata(v, `secret/metadata/${p}`);
    t.regex(meta.versions['2']?.deletion_time ?? '', RFC3339);
    t.false(meta.versions['2']?.destroyed ?? true);
    t.is(meta.current_version, 2);

    await v.write(`secret/undelete/${p}`, { versions: [2] });
    const back = await readData(v, `secret/data/${p}`);
    t.deepEqual(back.data, { v: 2 });
    t.is(back.metadata.deletion_time, '');

    // delete/ takes a list of versions; unknown versions are ignored.
    await v.write(`secret/delete/${p}`, { versions: [1, 2, 99] });
    t.is((await rejection(t, v.read(`secret/data/${p}`))).status, 404);
    t.is((await rejection(t, v.read(`secret/data/${p}?version=1`))).status, 404);
    await v.write(`secret/undelete/${p}`, { versions: [1] });
    t.deepEqual((await readData(v, `secret/data/${p}?version=1`)).data, { v: 1 });
    t.is((await rejection(t, v.read(`secret/data/${p}`))).status, 404, 'version 2 is still deleted');

    // A new write after a delete is live again.
    t.is(((await v.write(`secret/data/${p}`, { data: { v: 3 } })).data as unknown as WriteResult).version, 3);
    t.deepEqual((await readData(v, `secret/data/${p}`)).data, { v: 3 });
  });

  test(title('destroy removes versions for good'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('destroy');
    await v.write(`secret/data/${p}`, { data: { v: 1 } });
    await v.write(`secret/data/${p}`, { data: { v: 2 } });

    await v.write(`secret/destroy/${p}`, { versions: [1] });
    t.is((await rejection(t, v.read(`secret/data/${p}?version=1`))).status, 404);
    t.deepEqual((await readData(v, `secret/data/${p}`)).data, { v: 2 }, 'the latest version is untouched');
    await v.write(`secret/undelete/${p}`, { versions: [1] });
    t.is((await rejection(t, v.read(`secret/data/${p}?version=1`))).status, 404, 'a destroyed version cannot be undeleted');
    t.true((await readMetadata(v, `secret/metadata/${p}`)).versions['1']?.destroyed);

    await v.write(`secret/destroy/${p}`, { versions: [2] });
    t.is((await rejection(t, v.read(`secret/data/${p}`))).status, 404);
    const meta = await readMetadata(v, `secret/metadata/${p}`);
    t.true(meta.versions['2']?.destroyed);
    t.is(meta.current_version, 2);

    t.is(((await v.write(`secret/data/${p}`, { data: { v: 3 } })).data as unknown as WriteResult).version, 3);
    t.deepEqual((await readData(v, `secret/data/${p}`)).data, { v: 3 });
  });

  test(title('metadata: write before data, read, custom_metadata on data responses, delete removes everything'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('meta');
    await v.write(`secret/metadata/${p}`, { max_versions: 5, custom_metadata: { owner: 'team-a', tier: 'gold' }, delete_version_after: '0s' });
    let meta = await readMetadata(v, `secret/metadata/${p}`);
    t.is(meta.current_version, 0);
    t.is(meta.oldest_version, 0);
    t.is(meta.max_versions, 5);
    t.false(meta.cas_required);
    t.is(meta.delete_version_after, '0s');
    t.deepEqual(meta.custom_metadata, { owner: 'team-a', tier: 'gold' });
    t.deepEqual(meta.versions, {});
    t.regex(meta.created_time, RFC3339);

    const w = (await v.write(`secret/data/${p}`, { data: { k: 'v' } })).data as unknown as WriteResult;
    t.deepEqual(w.custom_metadata, { owner: 'team-a', tier: 'gold' });
    t.deepEqual((await readData(v, `secret/data/${p}`)).metadata.custom_metadata, { owner: 'team-a', tier: 'gold' });

    meta = await readMetadata(v, `secret/metadata/${p}`);
    t.is(meta.current_version, 1);
    t.deepEqual(Object.keys(meta.versions), ['1']);
    t.is(meta.versions['1']?.created_time, w.created_time);
    t.is(meta.updated_time, w.created_time);

    // custom_metadata is replaced by a write and merged by a patch (null removes a key).
    const patch = await api(broker(), 'PATCH', `secret/metadata/${p}`, {
      rawBody: JSON.stringify({ custom_metadata: { tier: null, region: 'eu' } }),
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    t.is(patch.status, 204, patch.text);
    t.deepEqual((await readMetadata(v, `secret/metadata/${p}`)).custom_metadata, { owner: 'team-a', region: 'eu' });

    await v.delete(`secret/metadata/${p}`);
    t.is((await rejection(t, v.read(`secret/metadata/${p}`))).status, 404);
    t.is((await rejection(t, v.read(`secret/data/${p}`))).status, 404);
    t.is((await rejection(t, v.read(`secret/data/${p}?version=1`))).status, 404);
    t.is(((await v.write(`secret/data/${p}`, { data: { k: 'fresh' } })).data as unknown as WriteResult).version, 1, 'starts over');
  });

  test(title('metadata delete of a parent secret leaves the secrets below it alone'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('nest');
    await v.write(`secret/data/${p}`, { data: { level: 'parent' } });
    await v.write(`secret/data/${p}/child`, { data: { level: 'child' } });
    await v.delete(`secret/metadata/${p}`);
    t.is((await rejection(t, v.read(`secret/data/${p}`))).status, 404);
    t.deepEqual((await readData(v, `secret/data/${p}/child`)).data, { level: 'child' });
    t.deepEqual((await readData(v, `secret/data/${p}/child?version=1`)).data, { level: 'child' });
  });

  test(title('list shows leaves and folders; empty folders are 404'), async (t) => {
    const b = broker();
    const v = vaultClient(b);
    const p = uniq('list');
    for (const key of ['b', 'a/x', 'a/y/z', 'c']) await v.write(`secret/data/${p}/${key}`, { data: { key } });
    t.deepEqual((await v.list(`secret/metadata/${p}`)).data.keys, ['a/', 'b', 'c']);
    t.deepEqual((await v.list(`secret/metadata/${p}/a`)).data.keys, ['x', 'y/']);
    t.true(((await v.list('secret/metadata')).data.keys ?? []).includes(`${p}/`), 'the mount root lists too');
    t.is((await rejection(t, v.list(`secret/metadata/${uniq('nothing')}`))).status, 404);

    const mount = uniq('kvlist');
    await mountKv(t, b, mount);
    t.is((await rejection(t, v.list(`${mount}/metadata`))).status, 404, 'an empty mount lists nothing');
    await v.write(`${mount}/data/only`, { data: { a: 1 } });
    t.deepEqual((await v.list(`${mount}/metadata`)).data.keys, ['only']);
  });

  test(title('max_versions prunes the oldest versions'), async (t) => {
    const v = vaultClient(broker());
    const p = uniq('prune');
    await v.write(`secret/metadata/${p}`, { max_versions: 2 });
    for (const n of [1, 2, 3, 4]) await v.write(`secret/data/${p}`, { data: { n } });
    const meta = await readMetadata(v, `secret/metadata/${p}`);
    t.is(meta.current_version, 4);
    t.is(meta.oldest_version, 3);
    t.deepEqual(Object.keys(meta.versions).sort(), ['3', '4']);
    t.is((await rejection(t, v.read(`secret/data/${p}?version=1`))).status, 404);
    t.is((await rejection(t, v.read(`secret/data/${p}?version=2`))).status, 404);
    t.deepEqual((await readData(v, `secret/data/${p}?version=3`)).data, { n: 3 });
    t.deepEqual((await readData(v, `secret/data/${p}`)).data, { n: 4 });
  });

  test(title('mount config: defaults, update, and its effect on writes'), async (t) => {
    const b = broker();
    const v = vaultClient(b);
    const mount = uniq('kvcfg');
    await mountKv(t, b, mount);
    t.deepEqual((await v.read(`${mount}/config`)).data, { cas_required: false, delete_version_after: '0s', max_versions: 0 });

    await v.write(`${mount}/config`, { max_versions: 3, cas_required: true, delete_version_after: '1h' });
    t.deepEqual((await v.read(`${mount}/config`)).data, { cas_required: true, delete_version_after: '1h0m0s', max_versions: 3 });

    const e = await rejection(t, v.write(`${mount}/data/s`, { data: { n: 0 } }));
    t.is(e.status, 400);
    t.is(e.message, 'check-and-set parameter required for this call');

    const first = (await v.write(`${mount}/data/s`, { data: { n: 1 }, options: { cas: 0 } })).data as unknown as WriteResult;
    t.is(Date.parse(first.deletion_time) - Date.parse(first.created_time), 3600_000, 'delete_version_after schedules the deletion');
    t.deepEqual((await readData(v, `${mount}/data/s`)).data, { n: 1 }, 'readable until then');
    for (const n of [2, 3, 4]) await v.write(`${mount}/data/s`, { data: { n }, options: { cas: n - 1 } });
    const meta = await readMetadata(v, `${mount}/metadata/s`);
    t.deepEqual(Object.keys(meta.versions).sort(), ['2', '3', '4'], 'the mount max_versions applies');

    const bad = await api(b, 'POST', `${mount}/config`, { body: { max_versions: -1 } });
    t.is(bad.status, 400);
    t.regex(errorsOf(bad.json)[0] ?? '', /max_versions/);
  });

  test(title('delete_version_after expires versions'), async (t) => {
    const b = broker();
    const v = vaultClient(b);
    const p = uniq('expire');
    await v.write(`secret/metadata/${p}`, { delete_version_after: '1s' });
    const w = (await v.write(`secret/data/${p}`, { data: { short: 'lived' } })).data as unknown as WriteResult;
    t.is(Date.parse(w.deletion_time) - Date.parse(w.created_time), 1000);
    t.is((await readMetadata(v, `secret/metadata/${p}`)).delete_version_after, '1s');
    t.is((await readData(v, `secret/data/${p}`)).data.short, 'lived', 'readable until then');
    // The broker's clock moves past the deletion time (other tests on this broker are not disturbed by a second).
    b.clock.advance(Math.max(0, Date.parse(w.deletion_time) - b.clock.now().getTime()) + 1);
    t.is((await rejection(t, v.read(`secret/data/${p}`))).status, 404);
    t.is((await rejection(t, v.read(`secret/data/${p}?version=1`))).status, 404);
  });

  test(title('patch merges into the current version (RFC 7396) as a new version'), async (t) => {
    const b = broker();
    const v = vaultClient(b);
    const p = uniq('patch');
    const mergePatch = { 'content-type': 'application/merge-patch+json' };
    await v.write(`secret/data/${p}`, { data: { keep: 1, drop: 2, nested: { x: 1, y: 1 }, list: [1, 2] } });

    const r = await api(b, 'PATCH', `secret/data/${p}`, {
      rawBody: JSON.stringify({ data: { drop: null, nested: { y: 2, z: 3 }, list: [3], added: 'new' } }),
      headers: mergePatch,
    });
    t.is(r.status, 200, r.text);
    t.is(dataOf<WriteResult>(r.json).version, 2);
    t.deepEqual((await readData(v, `secret/data/${p}`)).data, { keep: 1, nested: { x: 1, y: 2, z: 3 }, list: [3], added: 'new' });
    t.deepEqual((await readData(v, `secret/data/${p}?version=1`)).data.drop, 2, 'the old version is untouched');

    const stale = await api(b, 'PATCH', `secret/data/${p}`, {
      rawBody: JSON.stringify({ data: { keep: 9 }, options: { cas: 1 } }),
      headers: mergePatch,
    });
    t.is(stale.status, 400);
    t.deepEqual(errorsOf(stale.json), ['check-and-set parameter did not match the current version']);
    const ok = await api(b, 'PATCH', `secret/data/${p}`, { rawBody: JSON.stringify({ data: { keep: 9 }, options: { cas: 2 } }), headers: mergePatch });
    t.is(dataOf<WriteResult>(ok.json).version, 3);

    const absent = await api(b, 'PATCH', `secret/data/${uniq('nothing')}`, { rawBody: '{"data":{"a":1}}', headers: mergePatch });
    t.is(absent.status, 404);
    await v.delete(`secret/data/${p}`);
    const deleted = await api(b, 'PATCH', `secret/data/${p}`, { rawBody: '{"data":{"a":1}}', headers: mergePatch });
    t.is(deleted.status, 404, 'a deleted latest version cannot be patched');

    const wrongType = await api(b, 'PATCH', `secret/data/${p}`, { body: { data: { a: 1 } } });
    t.is(wrongType.status, 415);
  });

  test(title('bad input is a 400 that names the field'), async (t) => {
    const b = broker();
    const p = uniq('bad');
    for (const data of ['text', [1], 5, null]) {
      const r = await api(b, 'POST', `secret/data/${p}`, { body: { data } });
      t.is(r.status, 400);
      t.deepEqual(errorsOf(r.json), ['data: must be a JSON object']);
    }
    const missing = await api(b, 'POST', `secret/data/${p}`, { body: { options: { cas: 0 } } });
    t.is(missing.status, 400);
    t.deepEqual(errorsOf(missing.json), ['data: must be a JSON object']);

    const cas = await api(b, 'POST', `secret/data/${p}`, { body: { data: {}, options: { cas: -1 } } });
    t.is(cas.status, 400);
    t.regex(errorsOf(cas.json)[0] ?? '', /cas/);

    for (const versions of [[], 'x', undefined]) {
      const r = await api(b, 'POST', `secret/delete/${p}`, { body: { versions } });
      t.is(r.status, 400, JSON.stringify(versions));
      t.regex(errorsOf(r.json)[0] ?? '', /versions/);
    }
    const duration = await api(b, 'POST', `secret/metadata/${p}`, { body: { delete_version_after: 'soon' } });
    t.is(duration.status, 400);
    t.regex(errorsOf(duration.json)[0] ?? '', /delete_version_after/);

    const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    const custom = await api(b, 'POST', `secret/metadata/${p}`, { body: { custom_metadata: tooMany } });
    t.is(custom.status, 400);
    t.regex(errorsOf(custom.json)[0] ?? '', /custom_metadata/);

    const longPath = await api(b, 'POST', `secret/data/${'x'.repeat(513)}`, { body: { data: {} } });
    t.is(longPath.status, 400);

    t.is((await rejection(t, vaultClient(b).read(`secret/metadata/${p}`))).status, 404, 'nothing was written');
  });

  test(title('kv mounts: version "1" on request (test/kv-v1.test.ts), no version is version 2, others are refused'), async (t) => {
    const b = broker();
    const v1 = await api(b, 'POST', `sys/mounts/${uniq('kv1')}`, { body: { type: 'kv', options: { version: '1' } } });
    t.is(v1.status, 204);
    const v3 = await api(b, 'POST', `sys/mounts/${uniq('kv3')}`, { body: { type: 'kv', options: { version: '3' } } });
    t.is(v3.status, 400);
    t.deepEqual(errorsOf(v3.json), ['options.version: must be "1" or "2"']);

    const name = uniq('kvdefault');
    const plain = await api(b, 'POST', `sys/mounts/${name}`, { body: { type: 'kv' } });
    t.is(plain.status, 204);
    const v = vaultClient(b);
    await v.write(`${name}/data/s`, { data: { a: 1 } });
    t.deepEqual((await readData(v, `${name}/data/s`)).data, { a: 1 });
  });
}

kvTests('pglite');
kvTests('postgres');

test('LIST handles names outside the Basic Multilingual Plane', async (t) => {
  const b = await startApp();
  t.teardown(() => b.stop());
  const v = vaultClient(b);
  await v.write('secret/data/\u{1F600}/child-one', { data: { a: 1 } });
  await v.write('secret/data/\u{1F600}/sub/leaf', { data: { a: 1 } });
  t.deepEqual((await v.list('secret/metadata/\u{1F600}')).data, { keys: ['child-one', 'sub/'] });
});
