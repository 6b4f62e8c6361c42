// Credential lineage (issue 19): sys/audit-log/lineage and `sealbox audit lineage`, end to end against a real broker on
// PostgreSQL. An agent logged in with Kubernetes auth mints database credentials and reads a static role; the static
// role is rotated; a second service account reads it afterwards; a certificate is issued. Lineage must name the
// right service account, token accessor, lease and audit sequence numbers, as the audit search (an independent
// path to the same entries) shows them. A token without sudo gets 403; the index holds no plain value.
import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import pg from 'pg';
import { mountDatabase, newTarget, parseEnv, runAgent, tempDir, writeConfig, type Target } from '../agent/test/helpers.ts';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { runCli } from './helpers/cli.ts';
import { withPgClient } from './helpers/postgres.ts';

interface Entry {
  seq: number;
  accessor: string | null;
  path: string;
  time: string;
  response: { auth: { accessor: string } | null } | null;
}
type Obj = Record<string, unknown>;

let b: Broker;
let target: Target;
let brokerDb: string;
let key: { publicKey: CryptoKey; privateKey: CryptoKey };
let auditor: string;
const STATIC_USER = `lineage_report_${process.pid}`;

const data = <T = Obj>(r: { json: unknown }): T => (r.json as { data: T }).data;
async function ok(method: string, p: string, body?: unknown, token?: string): Promise<{ json: unknown }> {
  const r = await api(b, method, p, { body, ...(token ? { token } : {}) });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r;
}

async function saToken(namespace: string, name: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: 'kubernetes/serviceaccount',
    sub: `system:serviceaccount:${namespace}:${name}`,
    'kubernetes.io/serviceaccount/namespace': namespace,
    'kubernetes.io/serviceaccount/service-account.name': name,
    'kubernetes.io/serviceaccount/service-account.uid': randomUUID(),
    iat: now,
  })
    .setProtectedHeader({ alg: 'RS256' })
    .sign(key.privateKey);
}

/** Runs the agent once as a pod of `namespace/name` fetching `secrets`; returns the files it wrote. */
async function agentOnce(namespace: string, name: string, secrets: { path: string; template: string }[]): Promise<string[]> {
  const dir = await tempDir('lineage-');
  await fsp.writeFile(path.join(dir, 'sa-token'), await saToken(namespace, name));
  const config = await writeConfig(dir, {
    broker: { address: b.address },
    auth: { method: 'kubernetes', role: name, token_file: path.join(dir, 'sa-token') },
    secrets: secrets.map((s, i) => ({ path: s.path, destination: path.join(dir, `out-${i}`), template: s.template })),
  });
  const agent = runAgent(config, ['--once']);
  const code = await agent.exited;
  if (code !== 0) throw new Error(`agent exited ${code}: ${agent.logs()}`);
  return Promise.all(secrets.map((_, i) => fsp.readFile(path.join(dir, `out-${i}`), 'utf8')));
}

async function search(q: Record<string, string>): Promise<Entry[]> {
  const r = await api(b, 'GET', `sys/audit-log?${new URLSearchParams(q).toString()}`);
  return data<{ entries: Entry[] }>(r).entries;
}

async function lineage(q: Record<string, string>, token = auditor) {
  return api(b, 'GET', `sys/audit-log/lineage?${new URLSearchParams(q).toString()}`, { token });
}

let minted = { username: '', accessor: '', leaseId: '', issueSeq: 0, loginSeq: 0 };
let before = '';
let after = '';
let serial = '';
let certSeq = 0;
let certAccessor = '';
let webStaticAccessor = '';
let workerStaticAccessor = '';
let webStaticSeq = 0;
let workerStaticSeq = 0;

test.before(async () => {
  target = await newTarget('lineage_readers');
  brokerDb = await target.cluster.createDatabase();
  b = await startBroker({ databaseUrl: brokerDb });
  key = await generateKeyPair('RS256', { extractable: true });
  await mountDatabase(b, target, 'lineage_readers', { default_ttl: '1h', max_ttl: '2h' });
  await withPgClient(target.url, (c) => c.query(`CREATE ROLE ${STATIC_USER} LOGIN PASSWORD 'initial'`));
  await ok('POST', 'database/static-roles/report', { db_name: 'main', username: STATIC_USER, rotation_period: '24h' });

  await ok('POST', 'sys/auth/kubernetes', { type: 'kubernetes' });
  await ok('POST', 'auth/kubernetes/config', { pem_keys: [await exportSPKI(key.publicKey)] });
  await ok('POST', 'sys/policies/acl/app', {
    policy: 'path "database/creds/app" { capabilities = ["read"] }\npath "database/static-creds/report" { capabilities = ["read"] }\npath "pki/issue/svc" { capabilities = ["update"] }',
  });
  for (const [name, ns] of [['web', 'shop'], ['worker', 'batch']] as const) {
    await ok('POST', `auth/kubernetes/role/${name}`, { bound_service_account_names: name, bound_service_account_namespaces: ns, alias_name_source: 'serviceaccount_name', token_policies: ['app'] });
  }
  await ok('POST', 'sys/mounts/pki', { type: 'pki' });
  await ok('POST', 'pki/root/generate/internal', { common_name: 'Lineage Test Root', ttl: '87600h' });
  await ok('POST', 'pki/roles/svc', { allowed_domains: ['example.com'], allow_subdomains: true, ttl: '1h' });
  await ok('POST', 'sys/policies/acl/auditor', { policy: 'path "sys/audit-log/lineage" { capabilities = ["read", "sudo"] }' });
  await ok('POST', 'sys/policies/acl/peeker', { policy: 'path "sys/audit-log/lineage" { capabilities = ["read"] }' });
  auditor = ((await ok('POST', 'auth/token/create', { policies: ['auditor'] })).json as { auth: { client_token: string } }).auth.client_token;

  // The web pod: a dynamic database user and the static role's password.
  const [dyn, stat] = await agentOnce('shop', 'web', [
    { path: 'database/creds/app', template: 'PGUSER={{username}}\n' },
    { path: 'database/static-creds/report', template: 'PGUSER={{username}}\n' },
  ]);
  minted.username = parseEnv(dyn ?? '').PGUSER ?? '';
  if (parseEnv(stat ?? '').PGUSER !== STATIC_USER) throw new Error(`static creds for ${stat}`);
  await ok('POST', 'database/rotate-role/report');
  const [stat2] = await agentOnce('batch', 'worker', [{ path: 'database/static-creds/report', template: 'PGUSER={{username}}\n' }]);
  if (parseEnv(stat2 ?? '').PGUSER !== STATIC_USER) throw new Error(`static creds for ${stat2}`);

  // A certificate issued to the web pod's own login.
  const login = await api(b, 'POST', 'auth/kubernetes/login', { token: null, body: { role: 'web', jwt: await saToken('shop', 'web') } });
  const webToken = (login.json as { auth: { client_token: string; accessor: string } }).auth.client_token;
  certAccessor = (login.json as { auth: { accessor: string } }).auth.accessor;
  serial = data<{ serial_number: string }>(await ok('POST', 'pki/issue/svc', { common_name: 'web.example.com' }, webToken)).serial_number;

  // The same facts through the audit search: what lineage must agree with.
  const [issue] = await search({ path_prefix: 'database/creds/app', outcome: 'success' });
  if (!issue?.accessor) throw new Error('no issue entry');
  const logins = await search({ path_prefix: 'auth/kubernetes/login', outcome: 'success' });
  const loginEntry = logins.find((e) => e.response?.auth?.accessor === issue.accessor);
  const leases = data<{ keys: string[] }>(await ok('LIST', 'sys/leases/lookup/database/creds/app/'));
  minted = { ...minted, accessor: issue.accessor, leaseId: `database/creds/app/${leases.keys[0] ?? ''}`, issueSeq: issue.seq, loginSeq: loginEntry?.seq ?? -1 };
  certSeq = (await search({ path_prefix: 'pki/issue/svc', outcome: 'success' }))[0]?.seq ?? -1;
  const statics = await search({ path_prefix: 'database/static-creds/report', outcome: 'success' });
  webStaticSeq = statics[0]?.seq ?? -1;
  workerStaticSeq = statics[1]?.seq ?? -1;
  webStaticAccessor = statics[0]?.accessor ?? '';
  workerStaticAccessor = statics[1]?.accessor ?? '';
  if (!webStaticAccessor || !workerStaticAccessor || webStaticAccessor === workerStaticAccessor) throw new Error('static reads by two tokens expected');
  // "Before the rotation" is the moment of the web pod's read, "after" the moment of the worker pod's.
  before = statics[0]?.time ?? '';
  after = statics[1]?.time ?? '';
});
test.after.always(async () => {
  await b?.stop();
});

test.serial('a minted username: the dynamic credential, its lease, the agent token, and the Kubernetes login that made it', async (t) => {
  const r = await lineage({ username: minted.username });
  t.is(r.status, 200, r.text);
  const d = data<Obj>(r);
  t.like(d.credential as Obj, { type: 'dynamic', engine: 'database', mount: 'database/', role: 'app', path: 'database/creds/app', issued_seq: minted.issueSeq, lease_id: minted.leaseId });
  t.like(d.lease as Obj, { id: minted.leaseId, state: 'active', issued_seq: minted.issueSeq });
  t.like(d.token as Obj, { accessor: minted.accessor, state: 'live', display_name: 'kubernetes-shop-web' });
  t.true(((d.token as Obj).policies as string[]).includes('app'));
  t.like(d.login as Obj, {
    seq: minted.loginSeq,
    path: 'auth/kubernetes/login',
    mount: 'auth/kubernetes/',
    method: 'kubernetes',
    role: 'web',
    alias_name: 'shop/web',
    alias_metadata: { role: 'web', service_account_name: 'web', service_account_namespace: 'shop' },
  });
  const seqs = d.audit_seqs as number[];
  for (const s of [minted.issueSeq, minted.loginSeq, webStaticSeq]) t.true(seqs.includes(s), `seq ${s} in ${seqs.join(',')}`);
  t.false(seqs.includes(workerStaticSeq), 'the other pod’s request is not in this chain');
  // At a time before the rotation and after it, the dynamic user's chain is the same.
  for (const at of [before, after]) {
    const d2 = data<Obj>(await lineage({ username: minted.username, at }));
    t.like(d2.token as Obj, { accessor: minted.accessor });
    // The agent fetches its two secrets at once, so "before" (the web pod's static read) may precede the issue.
    const lease2 = d2.lease as Obj;
    t.is(lease2.id, minted.leaseId);
    t.is(lease2.live_at, new Date(at) >= new Date(String(lease2.issued_at)), `at ${at}, issued ${String(lease2.issued_at)}`);
    t.like(d2.login as Obj, { seq: minted.loginSeq, alias_metadata: { service_account_name: 'web', service_account_namespace: 'shop' } });
    t.true((d2.audit_seqs as number[]).includes(minted.issueSeq));
  }
  // The same chain from the lease ID and from the accessor.
  const byLease = data<Obj>(await lineage({ lease_id: minted.leaseId }));
  t.like(byLease.login as Obj, { alias_name: 'shop/web', seq: minted.loginSeq });
  const byAccessor = data<Obj>(await lineage({ accessor: minted.accessor }));
  t.like(byAccessor.login as Obj, { alias_name: 'shop/web' });
  t.true((byAccessor.leases as { lease_id: string }[]).some((l) => l.lease_id === minted.leaseId));
});

test.serial('a revoked lease names who revoked it, and at a time before the issue it was not live', async (t) => {
  await ok('POST', 'sys/leases/revoke', { lease_id: minted.leaseId });
  const d = data<Obj>(await lineage({ username: minted.username, at: '2001-01-01T00:00:00Z' }));
  const lease = d.lease as Obj;
  t.is(lease.state, 'revoked');
  t.is(lease.live_at, false);
  const by = lease.revoked_by as Obj;
  t.is(by.path, 'sys/leases/revoke');
  t.is(by.display_name, 'root');
  t.true((d.audit_seqs as number[]).includes(by.seq as number));
});

test.serial('the rotated static user: before the rotation the web pod held it, after it the worker pod, from the manual run', async (t) => {
  const pre = data<Obj>(await lineage({ username: STATIC_USER, at: before }));
  t.like(pre.credential as Obj, { type: 'static', engine: 'database', role: 'report' });
  const preHolders = pre.holders as { reads: number[]; token: Obj }[];
  t.is(preHolders.length, 1, JSON.stringify(preHolders));
  t.like((preHolders[0]?.token as Obj).login as Obj, { alias_name: 'shop/web', alias_metadata: { service_account_name: 'web', service_account_namespace: 'shop', role: 'web' } });
  t.deepEqual(preHolders[0]?.reads, [webStaticSeq]);
  t.is((preHolders[0]?.token as Obj).accessor, webStaticAccessor);
  const rotation = pre.rotation as { in_force: Obj | null; next: Obj | null; id: string };
  t.is(rotation.id, 'database/static-roles/report');
  t.like(rotation.next as Obj, { kind: 'manual', status: 'ok' });

  const post = data<Obj>(await lineage({ username: STATIC_USER, at: after }));
  const postHolders = post.holders as { reads: number[]; token: Obj }[];
  t.is(postHolders.length, 1, JSON.stringify(postHolders));
  t.like((postHolders[0]?.token as Obj).login as Obj, { alias_name: 'batch/worker', alias_metadata: { service_account_name: 'worker' } });
  t.deepEqual(postHolders[0]?.reads, [workerStaticSeq]);
  t.is((postHolders[0]?.token as Obj).accessor, workerStaticAccessor);
  const inForce = (post.rotation as { in_force: Obj }).in_force;
  t.like(inForce, { kind: 'manual', status: 'ok', run_id: (rotation.next as Obj).run_id });
  t.like(inForce.triggered_by as Obj, { path: 'database/rotate-role/report', display_name: 'root' });
  t.true((post.audit_seqs as number[]).includes((inForce.triggered_by as Obj).seq as number));
});

test.serial('a certificate serial: the issuing token and its Kubernetes login; any serial form works', async (t) => {
  for (const form of [serial, serial.toUpperCase(), serial.replace(/:/g, '-'), serial.replace(/:/g, '')]) {
    const r = await lineage({ serial: form });
    t.is(r.status, 200, r.text);
    const d = data<Obj>(r);
    t.like(d.credential as Obj, { type: 'certificate', engine: 'pki', role: 'svc', issued_seq: certSeq });
    t.like(d.login as Obj, { alias_name: 'shop/web', method: 'kubernetes', alias_metadata: { service_account_name: 'web', service_account_namespace: 'shop' } });
    t.is((d.token as Obj).accessor, certAccessor);
    t.true((d.audit_seqs as number[]).includes(certSeq));
  }
  // value_hmac, from sys/audit-hash, finds the same credential.
  const hash = data<{ hash: string }>(await ok('POST', 'sys/audit-hash/x', { input: serial })).hash;
  t.like(data<Obj>(await lineage({ value_hmac: hash })).credential as Obj, { type: 'certificate', issued_seq: certSeq });
});

test.serial('without sudo: 403; bad input: 400; an unknown name: 404', async (t) => {
  const peeker = ((await ok('POST', 'auth/token/create', { policies: ['peeker'] })).json as { auth: { client_token: string } }).auth.client_token;
  const denied = await lineage({ username: minted.username }, peeker);
  t.is(denied.status, 403);
  t.deepEqual(denied.json, { errors: ['permission denied'] });
  const bad: Record<string, string>[] = [{}, { username: 'a', serial: 'b' }, { username: minted.username, at: 'yesterday' }, { value_hmac: 'nope' }, { serial: 'zz' }, { username: '' }];
  for (const q of bad) {
    const r = await lineage(q);
    t.is(r.status, 400, `${JSON.stringify(q)}: ${r.text}`);
    t.true(Array.isArray((r.json as { errors: unknown }).errors));
  }
  const none = await lineage({ username: 'no_such_user' });
  t.is(none.status, 404);
});

test.serial('the index holds keyed HMACs only: no username, no audit HMAC of one', async (t) => {
  const hash = data<{ hash: string }>(await ok('POST', 'sys/audit-hash/x', { input: minted.username })).hash;
  const hex = hash.replace(/^hmac-sha256:/, '');
  const client = new pg.Client({ connectionString: brokerDb });
  await client.connect();
  try {
    const n = await client.query<{ n: string }>('SELECT count(*) AS n FROM audit_lineage_keys');
    t.true(Number(n.rows[0]?.n) > 0);
    const leaks = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM audit_lineage_keys WHERE position(convert_to($1, 'UTF8') IN key) > 0 OR encode(key, 'hex') = $2 OR position(convert_to($3, 'UTF8') IN key) > 0`,
      [minted.username, hex, STATIC_USER],
    );
    t.is(Number(leaks.rows[0]?.n), 0);
  } finally {
    await client.end();
  }
});

test.serial('sealbox audit lineage prints the timeline, and -format json the API data', async (t) => {
  const r = await runCli(b, ['audit', 'lineage', `-username=${STATIC_USER}`, `-at=${after}`], { token: auditor });
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /credential {2}static database\/static-creds\/report/);
  t.regex(r.stdout, /alias batch\/worker .*service_account_name=worker/);
  t.regex(r.stdout, new RegExp(`audit seqs .*\\b${workerStaticSeq}\\b`));
  const j = await runCli(b, ['audit', 'lineage', `-serial=${serial}`, '-format=json'], { token: auditor });
  t.is(j.code, 0, j.stderr);
  t.like((JSON.parse(j.stdout) as Obj).credential as Obj, { type: 'certificate', issued_seq: certSeq });
  const bad = await runCli(b, ['audit', 'lineage'], { token: auditor });
  t.not(bad.code, 0);
  t.regex(bad.stderr, /exactly one of -username/);
});
