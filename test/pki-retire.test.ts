// Issue 20 item 2 for PKI: an issuer rotation gains the retire step. Consumers acknowledge the issuer generation they
// applied at <mount>/cert/ca_chain (its `version`); until every live consumer acknowledged the new one, or the grace
// ended, the previous issuer still signs leaves (issuer/previous/issue|sign/:role); then it refuses, while its CRL is
// still served and signed. In-process broker with a fake clock: time moves by clock.advance and kick('rotations').
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, type ApiResponse } from './helpers/broker.ts';
import type { RotationWire, RunWire } from './consumers/kit.ts';

let b: Broker;
let dir = '';
test.before(async () => {
  // Consumers stay live across the grace the tests move the clock through.
  b = await startApp({ env: { SEALBOX_CONSUMER_LIVE_WINDOW: '1h' } });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pki-retire-'));
});
test.after.always(async () => {
  await b.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;
const errorOf = (r: ApiResponse): string => (r.json as { errors?: string[] } | undefined)?.errors?.join('; ') ?? '';
async function ok(method: string, p: string, body?: unknown, token?: string): Promise<ApiResponse> {
  const r = await api(b, method, p, { ...(body === undefined ? {} : { body }), ...(token ? { token } : {}) });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r;
}
const ack = (mount: string, version: unknown, token?: string): Promise<ApiResponse> =>
  api(b, 'PUT', 'sys/consumers/ack', { body: { path: `${mount}/cert/ca_chain`, version }, ...(token ? { token } : {}) });
const rotation = async (mount: string): Promise<RotationWire> => dataOf<RotationWire>(await ok('GET', `sys/rotations/${mount}/issuer/default`));
const history = async (mount: string): Promise<RunWire[]> => dataOf<{ runs: RunWire[] }>(await ok('GET', `sys/rotations/${mount}/issuer/default/history`)).runs;
interface Issued {
  certificate: string;
  issuing_ca: string;
  ca_chain: string[];
}
const issueWith = (mount: string, ref: string, cn: string): Promise<ApiResponse> => api(b, 'POST', `${mount}/issuer/${ref}/issue/web`, { body: { common_name: cn, ttl: '1h' } });

function openssl(args: string[]): { code: number; out: string } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
const put = (name: string, content: string): string => (fs.writeFileSync(path.join(dir, name), content), name);

/** A PKI mount with a root, a role, an on-demand issuer rotation with `grace`, and `consumers` tokens that acknowledged generation 1. */
async function setUp(mount: string, grace: string, consumers: number): Promise<{ oldRoot: string; tokens: string[] }> {
  await ok('POST', `sys/mounts/${mount}`, { type: 'pki' });
  await ok('POST', `${mount}/root/generate/internal`, { common_name: `${mount} Root`, ttl: '8760h' });
  await ok('POST', `${mount}/roles/web`, { allowed_domains: ['example.com'], allow_subdomains: true });
  await ok('POST', `${mount}/config/issuer-rotation`, { ttl: '17520h' });
  await ok('PUT', `sys/policies/acl/${mount}-trust`, { policy: JSON.stringify({ path: { [`${mount}/cert/ca_chain`]: { capabilities: ['read'] } } }) });
  const tokens: string[] = [];
  for (let i = 0; i < consumers; i++) {
    const r = await ok('POST', 'auth/token/create', { policies: [`${mount}-trust`] });
    tokens.push((r.json as { auth: { client_token: string } }).auth.client_token);
  }
  const chain = dataOf<{ ca_chain: string; version: number }>(await ok('GET', `${mount}/cert/ca_chain`));
  for (const token of tokens) {
    const r = await ack(mount, chain.version, token);
    if (r.status !== 200) throw new Error(`ack: ${r.status} ${r.text}`);
  }
  await ok('PUT', `sys/rotations/${mount}/issuer/default`, { grace });
  return { oldRoot: (await ok('GET', `${mount}/ca/pem`)).text, tokens };
}

test.serial('with a grace and two consumers the previous issuer signs until both acknowledged the new chain, then it refuses; its CRL stays', async (t) => {
  const { oldRoot, tokens } = await setUp('pki-a', '10m', 2);
  const [first, second] = tokens as [string, string];
  t.is(dataOf<{ version: number }>(await ok('GET', 'pki-a/cert/ca_chain')).version, 1);
  const before = b.clock.now().getTime();
  const run = await ok('POST', 'sys/rotations/pki-a/issuer/default/run');
  t.is(dataOf<{ status: string }>(run).status, 'ok');

  // Waiting in the retire step: sys/rotations shows both consumers pending and when retirement happens.
  const waiting = await rotation('pki-a');
  t.is(waiting.in_progress?.step, 'retire', JSON.stringify(waiting));
  t.is(waiting.consumers?.path, 'pki-a/cert/ca_chain');
  t.is(waiting.consumers?.version, 2);
  t.is(waiting.pending.length, 2, JSON.stringify(waiting));
  t.is(Date.parse(waiting.retire_at ?? '') - before, 10 * 60_000, 'retire_at is the end of the grace');
  const chain = dataOf<{ ca_chain: string; version: number }>(await ok('GET', 'pki-a/cert/ca_chain'));
  t.is(chain.version, 2, 'cert/ca_chain names the new generation');

  // Both issuers sign: the default one (issue/:role, issuer/default/...) and the previous one during the overlap.
  const newLeaf = dataOf<Issued>(await ok('POST', 'pki-a/issue/web', { common_name: 'new.example.com', ttl: '1h' }));
  const viaDefault = await issueWith('pki-a', 'default', 'default.example.com');
  t.is(viaDefault.status, 200, viaDefault.text);
  const oldLeafRes = await issueWith('pki-a', 'previous', 'old.example.com');
  t.is(oldLeafRes.status, 200, oldLeafRes.text);
  const oldLeaf = dataOf<Issued>(oldLeafRes);
  t.is(oldLeaf.issuing_ca.trim(), oldRoot.trim(), 'signed by the previous issuer');
  put('a-old-root.pem', oldRoot);
  put('a-chain.pem', chain.ca_chain);
  put('a-new.pem', newLeaf.certificate);
  put('a-old.pem', oldLeaf.certificate);
  const vNew = openssl(['verify', '-CAfile', 'a-old-root.pem', '-untrusted', 'a-chain.pem', 'a-new.pem']);
  t.is(vNew.code, 0, `a new leaf verifies through the acknowledged chain: ${vNew.out}`);
  const vOld = openssl(['verify', '-CAfile', 'a-old-root.pem', 'a-old.pem']);
  t.is(vOld.code, 0, `a leaf of the previous issuer verifies against the old root: ${vOld.out}`);

  // One consumer acknowledges: the other still holds the run (and the previous issuer) back.
  t.is((await ack('pki-a', 2, first)).status, 200);
  await b.kick('rotations');
  t.is((await rotation('pki-a')).in_progress?.step, 'retire');
  t.is((await rotation('pki-a')).pending.length, 1);
  t.is((await issueWith('pki-a', 'previous', 'still.example.com')).status, 200);

  t.is((await ack('pki-a', 2, second)).status, 200);
  await b.kick('rotations');
  const done = await rotation('pki-a');
  t.is(done.in_progress, null, JSON.stringify(done));
  const last = (await history('pki-a'))[0];
  t.is(last?.consumers?.reason, 'acknowledged', JSON.stringify(last));
  t.is(last?.consumers?.acknowledged.length, 2);

  const refused = await issueWith('pki-a', 'previous', 'late.example.com');
  t.is(refused.status, 400, refused.text);
  t.regex(errorOf(refused), /previous issuer\) was retired/);
  const signRefused = await api(b, 'POST', 'pki-a/issuer/previous/sign/web', { body: { common_name: 'late.example.com', csr: 'not a csr' } });
  t.is(signRefused.status, 400, signRefused.text);
  t.regex(errorOf(signRefused), /retired/);
  t.is((await issueWith('pki-a', 'default', 'after.example.com')).status, 200, 'the new issuer signs on');

  // The retired issuer still signs its CRL, so what it issued can be checked for revocation.
  const crl = await ok('GET', 'pki-a/issuer/previous/crl/pem');
  put('a-old-crl.pem', crl.text);
  t.is(openssl(['crl', '-noout', '-CAfile', 'a-old-root.pem', '-in', 'a-old-crl.pem']).code, 0, 'the CRL is signed by the old root');
  const checked = openssl(['verify', '-crl_check', '-CAfile', 'a-old-root.pem', '-CRLfile', 'a-old-crl.pem', 'a-old.pem']);
  t.is(checked.code, 0, checked.out);
});

test.serial('a consumer that never acknowledges holds the previous issuer only until the grace ends', async (t) => {
  const { tokens } = await setUp('pki-b', '10m', 2);
  await ok('POST', 'sys/rotations/pki-b/issuer/default/run');
  t.is((await ack('pki-b', 2, tokens[0])).status, 200);
  await b.kick('rotations');
  t.is((await rotation('pki-b')).in_progress?.step, 'retire');

  b.clock.advance(9 * 60_000);
  await b.kick('rotations');
  t.is((await rotation('pki-b')).in_progress?.step, 'retire', 'still in its grace');
  t.is((await issueWith('pki-b', 'previous', 'grace.example.com')).status, 200);

  // Past the sealed deadline the previous issuer refuses at once, before the job has even run.
  b.clock.advance(60_000 + 1000);
  const refused = await issueWith('pki-b', 'previous', 'over.example.com');
  t.is(refused.status, 400, refused.text);
  t.regex(errorOf(refused), /retired/);
  await b.kick('rotations');
  t.is((await rotation('pki-b')).in_progress, null);
  const last = (await history('pki-b'))[0];
  t.is(last?.consumers?.reason, 'grace', JSON.stringify(last));
  t.is(last?.consumers?.pending.length, 1, 'the consumer that never acknowledged is on record');
  t.is(last?.consumers?.acknowledged.length, 1);
  t.regex(errorOf(await issueWith('pki-b', 'previous', 'x.example.com')), /was retired at/);
  t.is((await api(b, 'GET', 'pki-b/issuer/previous/crl/pem')).status, 200);
});

test.serial('grace 0: the run ends at finish and the previous issuer signs only its CRL, as before the retire step', async (t) => {
  await setUp('pki-c', '0', 1);
  await ok('POST', 'sys/rotations/pki-c/issuer/default/run');
  const r = await rotation('pki-c');
  t.is(r.in_progress, null, JSON.stringify(r));
  t.is(r.retire_at, null);
  t.is((await history('pki-c'))[0]?.consumers, null);
  const refused = await issueWith('pki-c', 'previous', 'old.example.com');
  t.is(refused.status, 400, refused.text);
  t.regex(errorOf(refused), /retired/);
  t.is((await api(b, 'GET', 'pki-c/issuer/previous/crl/pem')).status, 200);
  t.is((await issueWith('pki-c', 'default', 'new.example.com')).status, 200);
});

test.serial('acknowledgements of cert/ca_chain: unknown version or path 400, a token that cannot read it 403; bad issuer references 400', async (t) => {
  const { tokens } = await setUp('pki-d', '10m', 1);
  const token = tokens[0] as string;
  for (const v of [2, 0, -1, 1.5, 'two']) {
    const r = await ack('pki-d', v, token);
    t.is(r.status, 400, `${String(v)}: ${r.text}`);
  }
  t.regex(errorOf(await ack('pki-d', 2, token)), /current version is 1/);
  const otherPath = await api(b, 'PUT', 'sys/consumers/ack', { body: { path: 'pki-d/ca_chain', version: 1 } });
  t.is(otherPath.status, 400, otherPath.text);
  const empty = await ok('POST', 'auth/token/create', { policies: ['default'] });
  const stranger = (empty.json as { auth: { client_token: string } }).auth.client_token;
  const denied = await ack('pki-d', 1, stranger);
  t.is(denied.status, 403, denied.text);
  t.is((await ack('pki-d', 1, 'not-a-token')).status, 403);
  const noPrevious = await issueWith('pki-d', 'previous', 'a.example.com');
  t.is(noPrevious.status, 400, noPrevious.text);
  t.regex(errorOf(noPrevious), /no previous issuer/);
  const unknownRef = await issueWith('pki-d', 'nope', 'a.example.com');
  t.is(unknownRef.status, 400, unknownRef.text);
  t.regex(errorOf(unknownRef), /unable to resolve issuer/);
  const unknownRole = await api(b, 'POST', 'pki-d/issuer/default/issue/none', { body: { common_name: 'a.example.com' } });
  t.is(unknownRole.status, 400, unknownRole.text);
});
