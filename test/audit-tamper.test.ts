// The tamper battery (issue 14): an attacker with SQL access (no root key) edits, deletes, inserts, swaps, reorders,
// truncates, deletes a prefix, deletes checkpoints, edits copied columns, edits the export/prune mark, and rewrites
// and re-hashes the log; GET sys/audit-log/verify names the right seq each time, with and without an auditor's
// anchor (a checkpoint saved before the attack). Against brokers on PostgreSQL.
import test, { type ExecutionContext } from 'ava';
import type { Client as PgClient } from 'pg';
import { rebuildTree } from './helpers/audit-attack.ts';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';

interface Verdict {
  ok: boolean;
  first_bad_seq: number | null;
  problems: string[];
}
interface Log {
  b: Broker;
  url: string;
  anchor: string;
  anchorSize: number;
}

const dataOf = <T>(json: unknown): T => (json as { data: T }).data;

async function verifyPair(log: Log): Promise<[Verdict, Verdict]> {
  const plain = await api(log.b, 'GET', 'sys/audit-log/verify');
  const anchored = await api(log.b, 'GET', `sys/audit-log/verify?anchor=${encodeURIComponent(log.anchor)}`);
  if (plain.status !== 200 || anchored.status !== 200) throw new Error(`verify: ${plain.status} ${plain.text} / ${anchored.status} ${anchored.text}`);
  return [dataOf<Verdict>(plain.json), dataOf<Verdict>(anchored.json)];
}

/** A broker with ~40 entries, an anchor saved at the latest checkpoint, then ~15 more entries after it. */
async function freshLog(): Promise<Log> {
  const url = await (await startPostgres()).createDatabase();
  const b = await startApp({ databaseUrl: url, env: { SEALBOX_AUDIT_CHECKPOINT_EVERY: '5', SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1' } });
  for (let i = 0; i < 40; i++) {
    const r = await api(b, 'POST', `secret/data/t/${i % 6}`, { body: { data: { v: `value-${i}`, n: i } } });
    if (r.status !== 200) throw new Error(r.text);
  }
  const cp = await api(b, 'GET', 'sys/audit-log/checkpoint', { token: null });
  const anchorSize = Number(cp.text.split('\n')[1]);
  for (let i = 0; i < 15; i++) await api(b, 'GET', `secret/data/t/${i % 6}`);
  return { b, url, anchor: cp.text, anchorSize };
}

const checkpointSizes = (c: PgClient): Promise<number[]> =>
  c.query<{ s: string }>('SELECT seq::text AS s FROM audit_checkpoints ORDER BY seq').then((r) => r.rows.map((x) => Number(x.s)));
/** The first seq after the last checkpoint below `seq` (what verify names when only a signed root can show the damage). */
const afterCheckpointBelow = (cps: readonly number[], seq: number): number => (cps.filter((s) => s < seq).at(-1) ?? 0) + 1;

let main: Log;
test.before(async () => {
  main = await freshLog();
});
test.after.always(async () => {
  await main?.b.stop();
});

/**
 * Tampers with the main log by SQL (never the head: the broker keeps appending), expects verify without and with the
 * anchor to name `expected(cps)`, then restores every row as it was and expects both to pass again.
 */
async function tampered(t: ExecutionContext, what: string, act: (c: PgClient) => Promise<unknown>, expected: (cps: number[]) => [number, number]) {
  await withPgClient(main.url, async (c) => {
    await c.query('CREATE TEMP TABLE s_e AS SELECT * FROM audit_entries');
    await c.query('CREATE TEMP TABLE s_c AS SELECT * FROM audit_checkpoints');
    await c.query('CREATE TEMP TABLE s_x AS SELECT * FROM audit_exports');
    const cps = await checkpointSizes(c);
    try {
      await act(c);
      const [plain, anchored] = await verifyPair(main);
      const [p, a] = expected(cps);
      t.like(plain, { ok: false, first_bad_seq: p }, `${what}, no anchor: ${plain.problems.join('; ')}`);
      t.like(anchored, { ok: false, first_bad_seq: a }, `${what}, with the anchor: ${anchored.problems.join('; ')}`);
    } finally {
      await c.query('DELETE FROM audit_entries WHERE seq <= (SELECT max(seq) FROM s_e)');
      await c.query('INSERT INTO audit_entries SELECT * FROM s_e');
      await c.query('DELETE FROM audit_checkpoints WHERE seq <= (SELECT max(seq) FROM s_c)');
      await c.query('INSERT INTO audit_checkpoints SELECT * FROM s_c ON CONFLICT DO NOTHING');
      await c.query('DELETE FROM audit_exports');
      await c.query('INSERT INTO audit_exports SELECT * FROM s_x');
      await c.query('DROP TABLE s_e, s_c, s_x');
    }
  });
  const [plain, anchored] = await verifyPair(main);
  t.like(plain, { ok: true, first_bad_seq: null }, `${what}: restored (${plain.problems.join('; ')})`);
  t.like(anchored, { ok: true, first_bad_seq: null }, `${what}: restored, with the anchor`);
}

test.serial('the untouched log verifies, with and without the anchor', async (t) => {
  const [plain, anchored] = await verifyPair(main);
  t.like(plain, { ok: true, first_bad_seq: null });
  t.like(anchored, { ok: true, first_bad_seq: null });
});

test.serial('an edited entry is named', async (t) => {
  await tampered(t, 'edit', (c) => c.query(`UPDATE audit_entries SET entry = replace(entry, '"type":"request"', '"type":"requesT"') WHERE seq = 17`), () => [17, 17]);
});

test.serial('a deleted entry is named', async (t) => {
  await tampered(t, 'delete', (c) => c.query('DELETE FROM audit_entries WHERE seq = 23'), () => [23, 23]);
});

test.serial('two swapped entries: the first is named', async (t) => {
  await tampered(
    t,
    'swap',
    (c) =>
      c.query(`UPDATE audit_entries a SET entry = b.entry, hash = b.hash, mac = b.mac, path = b.path, time = b.time, request_id = b.request_id
                 FROM (SELECT * FROM audit_entries WHERE seq IN (11, 12)) b WHERE a.seq IN (11, 12) AND b.seq = 23 - a.seq`),
    () => [11, 11],
  );
});

test.serial('three reordered entries: the first moved one is named', async (t) => {
  await tampered(
    t,
    'reorder',
    (c) =>
      c.query(`UPDATE audit_entries a SET entry = b.entry, hash = b.hash, mac = b.mac
                 FROM (SELECT * FROM audit_entries WHERE seq IN (30, 31, 32)) b WHERE a.seq IN (30, 31, 32) AND b.seq = CASE a.seq WHEN 30 THEN 32 ELSE a.seq - 1 END`),
    () => [30, 30],
  );
});

test.serial('a deleted prefix (no signed prune mark) is named at seq 1', async (t) => {
  await tampered(t, 'delete prefix', (c) => c.query('DELETE FROM audit_entries WHERE seq <= 20'), () => [1, 1]);
});

test.serial('deleted checkpoints: the first entry the missing checkpoint should have signed is named', async (t) => {
  // The checkpoints of sizes 16..20 go; 20 is a multiple of the cadence (5), so one must exist there.
  await tampered(t, 'delete checkpoints', (c) => c.query('DELETE FROM audit_checkpoints WHERE seq > 15 AND seq <= 20'), (cps) => {
    const left = cps.filter((s) => s <= 15 || s > 20);
    return [afterCheckpointBelow(left, 20), afterCheckpointBelow(left, 20)];
  });
});

test.serial('an edited copied column (what search filters on) is named', async (t) => {
  await tampered(t, 'edit path column', (c) => c.query(`UPDATE audit_entries SET path = 'nothing/here' WHERE seq = 9`), () => [9, 9]);
  await tampered(t, 'edit outcome column', (c) => c.query(`UPDATE audit_entries SET outcome = 'denied' WHERE seq = 10`), () => [10, 10]);
  await tampered(t, 'edit accessor column', (c) => c.query(`UPDATE audit_entries SET accessor = 'someone-else' WHERE seq = 14`), () => [14, 14]);
});

test.serial('an edited export/prune mark does not cover a deleted prefix', async (t) => {
  // A real export marks 1..20 as exported (a signed export note).
  t.is((await api(main.b, 'GET', 'sys/audit-log/export?limit=20&mark=true')).status, 200);
  await tampered(
    t,
    'raise pruned_through without a signature',
    async (c) => {
      await c.query('UPDATE audit_exports SET pruned_through = 20');
      await c.query('DELETE FROM audit_entries WHERE seq <= 20');
    },
    () => [1, 1],
  );
  await tampered(
    t,
    'a prune note made from the signed export note',
    async (c) => {
      await c.query(`UPDATE audit_exports SET pruned_through = 20, prune_note = replace(export_note, 'sealbox-audit-export/v1', 'sealbox-audit-prune/v1')`);
      await c.query('DELETE FROM audit_entries WHERE seq <= 20');
    },
    () => [1, 1],
  );
  // Pruning refuses an export mark raised by SQL.
  await withPgClient(main.url, (c) => c.query('UPDATE audit_exports SET exported_through = exported_through + 10'));
  const prune = await api(main.b, 'POST', 'sys/audit-log/prune', { body: { before: '0s' } });
  t.is(prune.status, 400, prune.text);
  t.regex(prune.text, /export mark is not signed/);
  await withPgClient(main.url, (c) => c.query('UPDATE audit_exports SET exported_through = exported_through - 10'));
});

test.serial('an entry re-hashed without the broker key (leaf hash recomputed) is named by its MAC', async (t) => {
  await tampered(
    t,
    'edit and recompute the leaf hash',
    (c) =>
      c.query(`UPDATE audit_entries SET entry = replace(entry, '"type":"request"', '"type":"requesT"'),
                      hash = sha256('\\x00'::bytea || convert_to(replace(entry, '"type":"request"', '"type":"requesT"'), 'UTF8')) WHERE seq = 26`),
    () => [26, 26],
  );
});

// ------------------------------------------------------------- attacks that rewrite the head: a fresh log each

test('a truncated tail (head moved back, later checkpoints deleted) is named at the first missing seq', async (t) => {
  const log = await freshLog();
  t.teardown(() => log.b.stop());
  const s = log.anchorSize - 3;
  await withPgClient(log.url, async (c) => {
    await c.query('DELETE FROM audit_entries WHERE seq > $1', [s]);
    await c.query('DELETE FROM audit_checkpoints WHERE seq > $1', [s]);
    await rebuildTree(c);
  });
  const [plain, anchored] = await verifyPair(log);
  // Without an anchor, the broker's own record of what it committed catches it; with one, the anchor's size. The
  // broker may have appended one entry (a background job's) on the truncated head before verify read the log: that
  // entry is genuine, so the first missing seq is then the one after it.
  for (const v of [plain, anchored]) {
    t.false(v.ok);
    t.true(v.first_bad_seq === s + 1 || v.first_bad_seq === s + 2, `first_bad_seq ${v.first_bad_seq}, truncated after ${s}: ${v.problems.join('; ')}`);
    t.regex(v.problems.join(' '), /truncated/);
  }
});

test('the old attack: edit, re-hash everything (leaves, tree, head), delete the checkpoints after it', async (t) => {
  const log = await freshLog();
  t.teardown(() => log.b.stop());
  await withPgClient(log.url, async (c) => {
    await c.query(`UPDATE audit_entries SET entry = replace(entry, '"policies":["root"]', '"policies":["default"]') WHERE seq = 12`);
    await c.query('DELETE FROM audit_checkpoints WHERE seq >= 12');
    await rebuildTree(c);
  });
  const [plain, anchored] = await verifyPair(log);
  t.like(plain, { ok: false, first_bad_seq: 12 }, plain.problems.join('; '));
  t.like(anchored, { ok: false, first_bad_seq: 12 }, anchored.problems.join('; '));
});

test('a full rebuild of the tree below the anchor (MACs dropped too) is named at seq 1, where the signed mac-from line says MACs start', async (t) => {
  const log = await freshLog();
  t.teardown(() => log.b.stop());
  const expected = 1;
  await withPgClient(log.url, async (c) => {
    // An edit of a field that is not a copied column (so only the tree can show it).
    await c.query(`UPDATE audit_entries SET entry = replace(entry, '"policies":["root"]', '"policies":["default"]') WHERE seq = 12`);
    await c.query('DELETE FROM audit_checkpoints WHERE seq >= 12');
    await rebuildTree(c, { nullMacs: true });
  });
  const [plain, anchored] = await verifyPair(log);
  // No MAC left to name row 12, but the kept checkpoints sign `mac-from 1`: the first entry without its MAC.
  t.like(plain, { ok: false, first_bad_seq: expected }, plain.problems.join('; '));
  t.like(anchored, { ok: false, first_bad_seq: expected }, anchored.problems.join('; '));
});

test('an inserted entry (later ones renumbered, tree and head rebuilt) is named', async (t) => {
  const log = await freshLog();
  t.teardown(() => log.b.stop());
  await withPgClient(log.url, async (c) => {
    await c.query('CREATE TEMP TABLE moved AS SELECT * FROM audit_entries WHERE seq >= 12');
    await c.query('DELETE FROM audit_entries WHERE seq >= 12');
    await c.query('INSERT INTO audit_entries SELECT seq + 1, time, request_id, type, operation, mount_path, path, accessor, remote_address, outcome, entry, hash, mac FROM moved');
    await c.query(`INSERT INTO audit_entries SELECT 12, time, 'forged', type, operation, mount_path, 'forged/path', accessor, remote_address, outcome,
                          replace(entry, path, 'forged/path'), hash, NULL FROM moved WHERE seq = 12`);
    await c.query(`UPDATE audit_entries SET request_id = 'forged', entry = replace(entry, (SELECT '"request_id":"' || request_id || '"' FROM moved WHERE seq = 12), '"request_id":"forged"') WHERE seq = 12`);
    await c.query('DELETE FROM audit_checkpoints WHERE seq >= 12');
    await rebuildTree(c);
  });
  const [plain, anchored] = await verifyPair(log);
  t.like(plain, { ok: false, first_bad_seq: 12 }, plain.problems.join('; '));
  t.like(anchored, { ok: false, first_bad_seq: 12 }, anchored.problems.join('; '));
});
