// Issue 20, PKI: a database writer cannot keep a retired issuer signing. The previous issuer signs a leaf only while
// the rotation is in its retire step with the deadline sealed in its pending value still ahead, and not once
// ca/previous (barrier-encrypted) says it was retired. The broker runs in-process on a real PostgreSQL that the test
// also writes to by SQL, as an attacker with database access would; time moves by the fake clock.
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, type ApiResponse } from './helpers/broker.ts';
import { startPostgres, withPgClient } from './helpers/postgres.ts';
import type { RotationWire, RunWire } from './consumers/kit.ts';

let b: Broker;
let url = '';
test.before(async () => {
  url = await (await startPostgres()).createDatabase();
  b = await startApp({ databaseUrl: url, env: { SEALBOX_CONSUMER_LIVE_WINDOW: '1h' } });
});
test.after.always(async () => {
  await b.stop();
});

const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;
async function ok(method: string, p: string, body?: unknown): Promise<ApiResponse> {
  const r = await api(b, method, p, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r;
}
const rotation = async (mount: string): Promise<RotationWire> => dataOf<RotationWire>(await ok('GET', `sys/rotations/${mount}/issuer/default`));
const lastRun = async (mount: string): Promise<RunWire | undefined> => dataOf<{ runs: RunWire[] }>(await ok('GET', `sys/rotations/${mount}/issuer/default/history`)).runs[0];
const ack = (mount: string, version: number) => ok('PUT', 'sys/consumers/ack', { path: `${mount}/cert/ca_chain`, version });
const signPrevious = (mount: string) => api(b, 'POST', `${mount}/issuer/previous/issue/web`, { body: { common_name: 'x.example.com', ttl: '1h' } });

/** A mount whose rotation waits in its retire step for one consumer (the root token) on generation 1. */
async function waitingRotation(mount: string): Promise<void> {
  await ok('POST', `sys/mounts/${mount}`, { type: 'pki' });
  await ok('POST', `${mount}/root/generate/internal`, { common_name: `${mount} Root`, ttl: '8760h' });
  await ok('POST', `${mount}/roles/web`, { allowed_domains: ['example.com'], allow_subdomains: true });
  await ok('POST', `${mount}/config/issuer-rotation`, { ttl: '17520h' });
  await ack(mount, 1);
  await ok('PUT', `sys/rotations/${mount}/issuer/default`, { grace: '10m' });
  await ok('POST', `sys/rotations/${mount}/issuer/default/run`);
  if ((await rotation(mount)).in_progress?.step !== 'retire') throw new Error('the run does not wait in its retire step');
}

const COLUMNS = 'run_id, run_slot, run_kind, step, pending, retire_at, retire_path';

test.serial('retire_at and claim_until moved 30 days ahead by SQL: the previous issuer refuses when the sealed grace ends', async (t) => {
  await waitingRotation('pki-t1');
  t.is((await signPrevious('pki-t1')).status, 200, 'the previous issuer signs during the grace');
  await withPgClient(url, async (c) => {
    const r = await c.query(`UPDATE rotations SET retire_at = now() + interval '30 days', claim_until = now() + interval '30 days' WHERE id = $1`, ['pki-t1/issuer/default']);
    t.is(r.rowCount, 1);
  });
  b.clock.advance(10 * 60_000 + 1000);
  const refused = await signPrevious('pki-t1');
  t.is(refused.status, 400, refused.text);
  t.regex(refused.text, /retired/);
  await b.kick('rotations');
  t.is((await rotation('pki-t1')).in_progress, null, 'the run retired the issuer whatever the columns said');
  t.is((await lastRun('pki-t1'))?.consumers?.reason, 'grace');
});

test.serial('a rotation row put back in its retire step by SQL does not bring a retired issuer back', async (t) => {
  await waitingRotation('pki-t2');
  // What an attacker copies while the run waits: its step, run and sealed pending value (not covered by the row MAC).
  const saved = await withPgClient(url, async (c) => (await c.query(`SELECT ${COLUMNS} FROM rotations WHERE id = $1`, ['pki-t2/issuer/default'])).rows[0] as Record<string, unknown>);
  await ack('pki-t2', 2);
  await b.kick('rotations');
  t.is((await rotation('pki-t2')).in_progress, null);
  t.is((await lastRun('pki-t2'))?.consumers?.reason, 'acknowledged');
  t.is((await signPrevious('pki-t2')).status, 400);

  // Restored within the sealed grace: only ca/previous's retired mark (sealed by the barrier) stands in the way.
  await withPgClient(url, async (c) => {
    const r = await c.query(
      `UPDATE rotations SET run_id = $2, run_slot = $3, run_kind = $4, step = $5, pending = $6, retire_at = $7, retire_path = $8 WHERE id = $1`,
      ['pki-t2/issuer/default', saved.run_id, saved.run_slot, saved.run_kind, saved.step, saved.pending, saved.retire_at, saved.retire_path],
    );
    t.is(r.rowCount, 1);
  });
  t.is((await rotation('pki-t2')).in_progress?.step, 'retire', 'the row says the run waits again');
  const refused = await signPrevious('pki-t2');
  t.is(refused.status, 400, refused.text);
  t.regex(refused.text, /was retired at/);
});
