// Issue 20 item 6: no lockout window after a crash. A rotation's claim is tied to the claimant's PostgreSQL session
// (a session-level advisory lock held for the life of the broker process), so a SIGKILLed broker's claims are free
// at once; and while a single-user run is between `set` and `finish`, static-creds serves what the target accepts.
// Each case: SIGKILL (at a test failpoint, or at each write a rotate-role makes to its rotation row, held there by a
// lock of the test), restart on the same PostgreSQL, and the credentials static-creds returns right after the
// restart log in, every time.
import test, { type ExecutionContext } from 'ava';
import pg from 'pg';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { newTarget, type Target } from './helpers/pg-target.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';
import { stir } from './helpers/activity.ts';
import { pollUntil } from './helpers/poll.ts';
import { canLogin, createUsers, history, mountDatabase, must, rotation, staticCreds, uniq, waitFor } from './consumers/kit.ts';

process.env.SEALBOX_ROTATION_MIN_INTERVAL = '1s';

interface Setup {
  target: Target;
  databaseUrl: string;
  dataDir: string;
  rootToken: string;
  /** The target users of the static role. */
  users: string[];
}

async function setUp(roles: { single?: boolean; alternating?: boolean }): Promise<Setup> {
  const target = await newTarget();
  const databaseUrl = await target.cluster.createDatabase();
  const b = await startBroker({ timeoutMs: 180_000, databaseUrl });
  await mountDatabase(b, target);
  const users: string[] = [];
  if (roles.single) {
    const u = uniq('solo');
    users.push(u);
    await createUsers(target, [u]);
    await must(b, 'POST', 'database/static-roles/solo', { db_name: 'main', username: u, rotation_period: '1h' });
  }
  if (roles.alternating) {
    const [a, z] = [uniq('alt_a'), uniq('alt_b')];
    users.push(a, z);
    await createUsers(target, [a, z]);
    await must(b, 'POST', 'database/static-roles/pair', { db_name: 'main', rotation_strategy: 'alternating', usernames: [a, z], rotation_period: '1h' });
  }
  await b.stop();
  return { target, databaseUrl, dataDir: b.dataDir, rootToken: b.rootToken, users };
}

const opts = (s: Setup, env: Record<string, string> = {}) => ({ databaseUrl: s.databaseUrl, dataDir: s.dataDir, rootToken: s.rootToken, env });

/** The claim a dead broker left on the rotation row (claim_until still ahead?), read from the broker's own database. */
async function deadClaim(s: Setup, id: string): Promise<{ until: Date | null; step: string | null }> {
  return withPgClient(s.databaseUrl, async (c) => {
    const r = await c.query<{ claim_until: Date | null; claim_id: string | null; step: string | null }>('SELECT claim_until, claim_id, step FROM rotations WHERE id = $1', [id]);
    const row = r.rows[0];
    return { until: row?.claim_id ? row.claim_until : null, step: row?.step ?? null };
  });
}

/**
 * Holds the target's roles of `users` still: an open transaction of the test updates their pg_authid rows (a no-op
 * ALTER ROLE … CONNECTION LIMIT -1, rolled back by `release`), so another ALTER ROLE of them (the resumed run's
 * `set`) waits until then. Logins as them are not held: they read the committed row.
 */
async function holdPasswords(target: Target, users: string[]): Promise<{ release(): Promise<void> }> {
  const c = new pg.Client({ connectionString: target.url });
  c.on('error', () => {});
  await c.connect();
  try {
    await c.query('BEGIN');
    for (const u of users) await c.query(`ALTER ROLE ${pg.escapeIdentifier(u)} CONNECTION LIMIT -1`);
  } catch (err) {
    await c.end().catch(() => undefined);
    throw err;
  }
  return {
    async release() {
      await c.query('ROLLBACK').finally(() => c.end().catch(() => undefined));
    },
  };
}

/**
 * After a kill: restart, read static-creds at once (must log in), wait for the run to end, and check it did not wait
 * for the dead claim to lapse (when the claim was still ahead once the broker was up).
 *
 * The restarted broker resumes the run at its first scheduler tick, and that may be while static-creds is answered
 * and logged in with. A single user's old password dies at `set` by design (for every holder), so when the resumed
 * run's ALTER ROLE commits between static-creds' check and the test's login, the current password it served rightly
 * (the target had not taken the pending one yet) no longer logs in: that is a rotation, not the crash's lockout,
 * and the promise (static-creds serves what the target accepts) says nothing of a login after a later `set`. So the
 * target's password is held still from before the restart until the test has logged in: the answer must then log
 * in, exactly, whatever the step the run was at (and whether or not the resumed run got as far as waiting on its
 * `set`). Then the run goes on, and must end before the dead claim would have lapsed.
 */
async function restartAndCheck(t: ExecutionContext, s: Setup, name: string, at: string): Promise<Broker> {
  const id = `database/static-roles/${name}`;
  const claim = await deadClaim(s, id);
  const hold = await holdPasswords(s.target, s.users);
  let again: Broker;
  let upAt: number;
  try {
    again = await startBroker({ ...opts(s), timeoutMs: 180_000 });
    upAt = Date.now();
    const creds = await staticCreds(again, name);
    t.true(await canLogin(s.target, creds), `static-creds right after the restart logs in (killed at ${at}; run was at ${claim.step ?? 'no step'})`);
  } finally {
    await hold.release();
  }
  const done = await waitFor('the run to end', async () => {
    const r = await rotation(again, id);
    return r.in_progress === null || r.in_progress.step === 'retire' ? r : null;
  });
  t.is(done.last_error, null);
  if (claim.until && claim.until.getTime() > upAt + 1000) {
    const runs = await history(again, id);
    const last = Date.parse(runs[0]?.finished_at ?? '') || Date.now();
    t.true(last < claim.until.getTime(), 'the resumed run ended before the dead claim would have lapsed');
  }
  const after = await staticCreds(again, name);
  t.true(await canLogin(s.target, after), 'the credentials after the resumed run log in');
  return again;
}

const HELD_LOCK = 0x5ea1b3;

/**
 * Kill points at the writes of a run to its `rotations` row: a trigger counts them, and the n-th (`arm(n)`) waits on
 * an advisory lock the test holds, so the broker is stopped right there, however fast or slow the machine. The wait
 * is seen in pg_stat_activity, re-checked as the server logs it (log_lock_waits). `release()` lets the held
 * statement go once the broker is dead (it commits if it was a statement of its own, or its transaction is rolled
 * back): a crash with the statement sent and never answered.
 */
async function killPoints(t: ExecutionContext, s: Setup) {
  const dbName = new URL(s.databaseUrl).pathname.slice(1);
  await withPgClient(s.databaseUrl, async (c) => {
    await c.query(`ALTER DATABASE ${pg.escapeIdentifier(dbName)} SET log_lock_waits = on`);
    await c.query(`ALTER DATABASE ${pg.escapeIdentifier(dbName)} SET deadlock_timeout = '50ms'`);
    await c.query('CREATE TABLE test_kill_at (n int NOT NULL)');
    await c.query('INSERT INTO test_kill_at VALUES (0)');
    await c.query('CREATE SEQUENCE test_kill_seq');
    await c.query(`CREATE FUNCTION test_kill_point() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF nextval('test_kill_seq') = (SELECT n FROM test_kill_at) THEN
          PERFORM pg_advisory_xact_lock(${HELD_LOCK});
        END IF;
        RETURN NEW;
      END $$`);
    await c.query('CREATE TRIGGER test_kill_point BEFORE INSERT OR UPDATE ON rotations FOR EACH ROW EXECUTE FUNCTION test_kill_point()');
  });
  const holder = new pg.Client({ connectionString: s.databaseUrl });
  holder.on('error', () => {});
  await holder.connect();
  t.teardown(() => holder.end().catch(() => undefined));
  await holder.query('SELECT pg_advisory_lock($1)', [HELD_LOCK]);
  const stopLog = (await startPostgres()).watchServerLog();
  t.teardown(stopLog);
  return {
    /** From now on, count the writes again and hold the n-th (0: none). */
    async arm(n: number): Promise<void> {
      await holder.query('UPDATE test_kill_at SET n = $1', [n]);
      await holder.query("SELECT setval('test_kill_seq', 1, false)");
    },
    /** Writes counted since arm(). */
    async count(): Promise<number> {
      return Number((await holder.query<{ n: string }>('SELECT CASE WHEN is_called THEN last_value ELSE 0 END::text AS n FROM test_kill_seq')).rows[0]?.n ?? 0);
    },
    /** Resolves once a statement of the broker waits on the held lock, or `settled()` turns true (no n-th write came). */
    async held(settled: () => boolean): Promise<boolean> {
      return pollUntil('a write to the rotation row to wait on the held lock', async () => {
        const waiting = ((await holder.query(`SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'`)).rowCount ?? 0) > 0;
        return waiting ? 'held' : settled() ? 'answered' : null;
      }, { timeoutMs: 120_000 }).then((r) => r === 'held');
    },
    /** Disarms, and lets a held statement go (its broker is dead): the lock is taken again once it is done. */
    async release(): Promise<void> {
      await holder.query('UPDATE test_kill_at SET n = 0');
      await holder.query('SELECT pg_advisory_unlock($1)', [HELD_LOCK]);
      await holder.query('SELECT pg_advisory_lock($1)', [HELD_LOCK]);
    },
  };
}

const FAILPOINTS = ['rotation:after-create', 'rotation:after-set-before-persist', 'rotation:after-set', 'rotation:after-test', 'rotation:after-finish-before-persist'];

for (const name of ['solo', 'pair']) {
  test(`${name}: SIGKILL at each failpoint; static-creds right after the restart logs in, and the run resumes at once`, async (t) => {
    t.timeout(900_000);
    const s = await setUp(name === 'solo' ? { single: true } : { alternating: true });
    for (const fp of FAILPOINTS) {
      const crashing = await startBroker({ timeoutMs: 180_000, ...opts(s, { SEALBOX_TEST_MODE: '1', SEALBOX_TEST_FAILPOINTS: fp }) });
      const died = await api(crashing, 'POST', `database/rotate-role/${name}`, { timeoutMs: 60_000 }).then(
        (r) => `answered ${r.status} ${r.text}`,
        (err: Error) => err,
      );
      t.true(died instanceof Error, `${fp}: the request dies with the process (${String(died)})`);
      await crashing.stop();
      t.is(crashing.proc.signalCode, 'SIGKILL', fp);
      const again = await restartAndCheck(t, s, name, fp);
      await again.stop();
    }
  });

  test(`${name}: SIGKILL at each write of rotate-role to its rotation row, and just after it; static-creds right after each restart logs in`, async (t) => {
    t.timeout(900_000);
    const s = await setUp(name === 'solo' ? { single: true } : { alternating: true });
    const kill = await killPoints(t, s);
    let b = await startBroker({ ...opts(s), timeoutMs: 180_000 });
    // How many writes one rotation makes to its row: the kill points (each one, then just after the answer).
    await kill.arm(0);
    await must(b, 'POST', `database/rotate-role/${name}`);
    const writes = await kill.count();
    t.true(writes >= 4, `${writes} writes to the rotation row in one rotate-role`);
    const heldAt: number[] = [];
    for (let i = 1; i <= writes + 1; i++) {
      await kill.arm(i <= writes ? i : 0);
      let settled = false;
      const request = api(b, 'POST', `database/rotate-role/${name}`, { timeoutMs: 60_000 })
        .catch((err: Error) => err)
        .finally(() => {
          settled = true;
          stir();
        });
      if (i <= writes) {
        if (await kill.held(() => settled)) heldAt.push(i);
      } else await request;
      b.proc.kill('SIGKILL');
      await request;
      await b.stop();
      await kill.release();
      b = await restartAndCheck(t, s, name, i <= writes ? `write ${i} of ${writes}` : 'after the answer');
    }
    await b.stop();
    t.log(`killed at writes ${heldAt.join(', ')} of ${writes}, and after the answer`);
    t.true(heldAt.length >= writes - 1, `the broker was held at ${heldAt.length} of ${writes} writes`);
  });
}

test.serial('a claim records its session; a live broker keeps its claims (another replica does not take a run in progress)', async (t) => {
  t.timeout(900_000);
  const s = await setUp({ single: true });
  const a = await startBroker({ ...opts(s), timeoutMs: 180_000 });
  t.teardown(() => a.stop());
  await must(a, 'POST', 'database/rotate-role/solo');
  const row = await withPgClient(s.databaseUrl, async (c) => (await c.query<{ claim_session: string | null }>(`SELECT claim_session FROM rotations WHERE id = 'database/static-roles/solo'`)).rows[0]);
  t.truthy(row?.claim_session, 'the claim names the session lock of its broker');
  const held = await withPgClient(s.databaseUrl, async (c) =>
    (await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 7002 AND objid = $1::bigint::oid AND granted`, [row?.claim_session])).rows[0]?.n,
  );
  t.is(held, 1, 'the broker holds that lock while it runs');
});
