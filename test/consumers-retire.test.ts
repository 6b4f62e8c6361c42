// Issue 20 items 1, 2 and 5: consumers acknowledge the version they applied (real sealbox-agent processes with
// `ack: true`), and an alternating static role's rotation keeps the previous user working until every live consumer
// acknowledged the new version, or until the grace ends (one agent is SIGSTOPped); then the previous user is refused.
// Across 20 rotations a client that reconnects its pool when its file changes never fails a login. Targets are real
// PostgreSQL databases; no sleep stands in for an event (the tests poll what the broker and the target report).
import fsp from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import pg from 'pg';
import { runAgent, setupAppRole, tempDir, writeConfig, type AgentProc } from '../agent/test/helpers.ts';
import { stir } from './helpers/activity.ts';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { pollUntil } from './helpers/poll.ts';
import { newTarget, type Target } from './helpers/pg-target.ts';
import { canLogin, createUsers, history, mountDatabase, must, rotation, runClosed, staticCreds, uniq, waitFor, type Creds } from './consumers/kit.ts';

process.env.SEALBOX_ROTATION_MIN_INTERVAL = '1s';
const PATH = 'database/static-creds/pair';
const ID = 'database/static-roles/pair';

interface ConsumerWire {
  accessor: string;
  identity: string | null;
  version: number;
  live: boolean;
}
const consumers = async (b: Broker): Promise<ConsumerWire[]> => ((await must(b, 'GET', `sys/consumers?path=${PATH}`)) as { data: { consumers: ConsumerWire[] } }).data.consumers;
const ackedAt = async (b: Broker, version: number): Promise<number> => (await consumers(b)).filter((c) => c.version >= version).length;

async function setUp(): Promise<{ b: Broker; target: Target; users: string[] }> {
  const target = await newTarget();
  const b = await startBroker({ timeoutMs: 180_000, env: { SEALBOX_CONSUMER_LIVE_WINDOW: '5m' } });
  await mountDatabase(b, target);
  const users = [uniq('pair_a'), uniq('pair_b')];
  await createUsers(target, users);
  await must(b, 'POST', 'database/static-roles/pair', { db_name: 'main', rotation_strategy: 'alternating', usernames: users, rotation_period: '1h' });
  return { b, target, users };
}

async function startAgents(b: Broker, n: number): Promise<{ agents: AgentProc[]; files: string[] }> {
  const made = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const dir = await tempDir(`consumer-${i}-`);
      const files = await setupAppRole(b, dir, [PATH]);
      const destination = path.join(dir, 'db.json');
      const config = await writeConfig(dir, {
        broker: { address: b.address },
        auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
        secrets: [{ path: PATH, destination, ack: true, ack_interval: '2s' }],
        poll_interval: '1h',
      });
      return { agent: runAgent(config), destination };
    }),
  );
  return { agents: made.map((m) => m.agent), files: made.map((m) => m.destination) };
}

const readCreds = async (file: string): Promise<Creds> => JSON.parse(await fsp.readFile(file, 'utf8')) as Creds;

test.serial('5 agent consumers, one SIGSTOPped: the old user works until it acknowledges (or the grace ends), then it is refused', async (t) => {
  t.timeout(900_000);
  const { b, target } = await setUp();
  t.teardown(() => b.stop());
  const { agents } = await startAgents(b, 5);
  t.teardown(async () => {
    for (const a of agents) {
      a.proc.kill('SIGCONT');
      await a.stop();
    }
  });
  const v1 = await staticCreds(b, 'pair');
  await waitFor('5 consumers to acknowledge version 1', async () => (await ackedAt(b, v1.version)) === 5, 60_000);
  const listed = await consumers(b);
  t.true(listed.every((c) => c.live && c.identity !== null && c.identity.includes(':')), JSON.stringify(listed));

  // One consumer stops before the rotation: the old user must keep working for it.
  const stopped = agents[4] as AgentProc;
  stopped.proc.kill('SIGSTOP');
  await must(b, 'PUT', `sys/rotations/${ID}`, { grace: '10m' });
  await must(b, 'POST', 'database/rotate-role/pair');
  const v2 = await staticCreds(b, 'pair');
  t.is(v2.version, v1.version + 1);
  await waitFor('4 consumers to acknowledge version 2', async () => (await ackedAt(b, v2.version)) === 4, 60_000);
  const waiting = await rotation(b, ID);
  t.is(waiting.in_progress?.step, 'retire', 'the run waits in its retire step');
  t.truthy(waiting.retire_at);
  t.is(waiting.pending.length, 1, `one consumer is pending: ${JSON.stringify(waiting.consumers)}`);
  t.is(waiting.consumers?.acknowledged.length, 4);
  t.true(await canLogin(target, v1), 'the previous user still logs in while a live consumer has not acknowledged');

  // It resumes, gets the event, writes the file, acknowledges: the previous user is retired.
  stopped.proc.kill('SIGCONT');
  await runClosed(b, ID, 'the run to retire the previous user', 60_000);
  t.false(await canLogin(target, v1), 'the previous user is refused once every consumer acknowledged');
  t.true(await canLogin(target, await staticCreds(b, 'pair')));
  const runs = await history(b, ID);
  t.is(runs[0]?.consumers?.reason, 'acknowledged');
  t.is(runs[0]?.consumers?.acknowledged.length, 5);

  // It stops again and never comes back within the grace: the grace decides.
  stopped.proc.kill('SIGSTOP');
  await must(b, 'PUT', `sys/rotations/${ID}`, { grace: '3s' });
  await must(b, 'POST', 'database/rotate-role/pair');
  const v3 = await staticCreds(b, 'pair');
  const v2creds = v2;
  await runClosed(b, ID, 'the grace to end and the run to retire', 60_000);
  const graced = await history(b, ID);
  t.is(graced[0]?.consumers?.reason, 'grace');
  t.is(graced[0]?.consumers?.pending.length, 1);
  t.false(await canLogin(target, v2creds), 'after the grace the previous user is refused');
  t.true(await canLogin(target, v3));
});

test.serial('20 rotations with 3 acknowledging agents: a client that reconnects its pool on the file change never fails a login', async (t) => {
  t.timeout(900_000);
  const { b, target } = await setUp();
  t.teardown(() => b.stop());
  await must(b, 'PUT', `sys/rotations/${ID}`, { grace: '10m' });
  const { agents, files } = await startAgents(b, 3);
  t.teardown(async () => {
    for (const a of agents) await a.stop();
  });
  const first = await staticCreds(b, 'pair');
  await waitFor('3 consumers to acknowledge', async () => (await ackedAt(b, first.version)) === 3, 60_000);

  // Each client: one pooled connection made from its file; when the file changes it connects anew with what it reads.
  let failedLogins = 0;
  let logins = 0;
  let queries = 0;
  let stop = false;
  // A client acts when something happens (test/helpers/poll.ts: its file changed, an agent or the broker logged),
  // not in a loop of its own: it reads its file, connects anew if it changed, and runs a query.
  const clients = files.map(async (file) => {
    let seen = '';
    let conn = null as pg.Client | null;
    const ended = await pollUntil<true | Error>(`client of ${file} to stop`, async () => {
      // What fails here fails the test, as in a loop of its own (pollUntil would take a throw for "not yet").
      try {
        const text = await fsp.readFile(file, 'utf8');
        if (text !== seen) {
          seen = text;
          const c = await readCreds(file);
          const next = new pg.Client({ host: '127.0.0.1', port: target.cluster.port, database: target.dbName, user: c.username, password: c.password });
          next.on('error', () => {});
          logins++;
          try {
            await next.connect();
            await conn?.end().catch(() => {});
            conn = next;
          } catch {
            failedLogins++;
          }
        }
        if (conn) {
          await conn.query('SELECT 1');
          queries++;
        }
        return stop;
      } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
      }
    }, { timeoutMs: 900_000 });
    await conn?.end().catch(() => {});
    if (ended instanceof Error) throw ended;
  });
  for (let i = 0; i < 20; i++) {
    await must(b, 'POST', 'database/rotate-role/pair');
    const v = (await staticCreds(b, 'pair')).version;
    await runClosed(b, ID, `rotation ${i + 1} to be acknowledged and retired`, 60_000);
    t.is(await ackedAt(b, v), 3);
  }
  stop = true;
  stir();
  await Promise.all(clients);
  t.is(failedLogins, 0, `${failedLogins} of ${logins} logins failed`);
  t.true(logins >= 3 + 20, `each client reconnected on every change (${logins} logins, ${queries} queries)`);
  const runs = await history(b, ID);
  t.true(runs.slice(0, 20).every((r) => r.status === 'ok' && r.consumers?.reason === 'acknowledged'), JSON.stringify(runs.slice(0, 3)));
});

test.serial('acknowledgements: bad input is a 400, a token that cannot read the path gets 403, and nothing is recorded', async (t) => {
  t.timeout(900_000);
  const { b } = await setUp();
  t.teardown(() => b.stop());
  const ack = (body: unknown, token?: string) => api(b, 'PUT', 'sys/consumers/ack', { body, ...(token ? { token } : {}) });
  const v = (await staticCreds(b, 'pair')).version;
  for (const [body, why] of [
    [{ path: 'database/static-creds/nope', version: 1 }, 'unknown static role'],
    [{ path: 'nomount/thing', version: 1 }, 'unknown mount'],
    [{ path: 'database/creds/x', version: 1 }, 'not a versioned path'],
    [{ path: PATH, version: v + 1 }, 'a version that does not exist'],
    [{ path: PATH, version: 0 }, 'version 0'],
    [{ path: PATH, version: 'abc' }, 'not a number'],
    [{ path: PATH }, 'no version'],
    [{ version: 1 }, 'no path'],
  ] as const) {
    const r = await ack(body);
    t.is(r.status, 400, `${why}: ${r.text}`);
    t.true(Array.isArray((r.json as { errors?: unknown }).errors), why);
  }
  await must(b, 'PUT', 'sys/policies/acl/other', { policy: 'path "secret/*" { capabilities = ["read"] }' });
  const other = ((await must(b, 'POST', 'auth/token/create', { policies: ['other'] })) as { auth: { client_token: string } }).auth.client_token;
  const denied = await ack({ path: PATH, version: v }, other);
  t.is(denied.status, 403, denied.text);
  t.is((await consumers(b)).length, 0, 'nothing was recorded');
  const noPath = await api(b, 'GET', 'sys/consumers');
  t.is(noPath.status, 400);
  const badGrace = await api(b, 'PUT', `sys/rotations/${ID}`, { body: { grace: 'soon' } });
  t.is(badGrace.status, 400, badGrace.text);
  const ok = await ack({ path: PATH, version: v });
  t.is(ok.status, 200, ok.text);
  t.is((await consumers(b)).length, 1);
});
