// PKI issuer rotation (issue 7): a new root with the same subject plus a cross-signed copy signed by the old root.
// After the rotation new leaves come from the new key; clients that trust only the old root still verify them
// through ca_chain (the overlap window), and the old issuer keeps signing the CRL for what it issued.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, type ApiResponse } from './helpers/broker.ts';

let b: Broker;
let dir = '';
test.before(async () => {
  b = await startApp();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pki-rotation-'));
});
test.after.always(async () => {
  await b.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;
const errorOf = (r: ApiResponse): string => (r.json as { errors?: string[] } | undefined)?.errors?.[0] ?? '';
async function ok(method: string, p: string, body?: unknown): Promise<ApiResponse> {
  const r = await api(b, method, p, { body });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r;
}
function put(name: string, content: string): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
}
function openssl(args: string[]): { code: number; out: string } {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
interface Issued {
  certificate: string;
  serial_number: string;
  issuing_ca: string;
  private_key: string;
}
const issue = async (cn: string): Promise<Issued> => dataOf<Issued>(await ok('POST', 'pki/issue/web', { common_name: cn, ttl: '1h' }));

test('rotating the issuer: new leaves come from the new key and verify against the old root (overlap) and the new one', async (t) => {
  t.timeout(120_000);
  await ok('POST', 'sys/mounts/pki', { type: 'pki' });
  await ok('POST', 'pki/root/generate/internal', { common_name: 'Rotating Root', ttl: '8760h' });
  await ok('POST', 'pki/roles/web', { allowed_domains: ['example.com'], allow_subdomains: true });
  const oldRoot = (await ok('GET', 'pki/ca/pem')).text;
  put('old-root.pem', oldRoot);
  const a = await issue('a.example.com');

  // Bad input first: each a 400 with a clear error, and nothing registered.
  const badCron = await api(b, 'POST', 'pki/config/issuer-rotation', { body: { schedule: 'not a cron', ttl: '8760h' } });
  t.is(badCron.status, 400, badCron.text);
  t.regex(errorOf(badCron), /cron/);
  const badKey = await api(b, 'POST', 'pki/config/issuer-rotation', { body: { ttl: '8760h', key_type: 'dsa' } });
  t.is(badKey.status, 400, badKey.text);
  t.regex(errorOf(badKey), /key_type/);
  const badTtl = await api(b, 'POST', 'pki/config/issuer-rotation', { body: { ttl: 'forever' } });
  t.is(badTtl.status, 400, badTtl.text);
  t.is((await api(b, 'GET', 'pki/config/issuer-rotation')).status, 404);
  t.is((await api(b, 'GET', 'sys/rotations/pki/issuer/default')).status, 404);

  await ok('POST', 'pki/config/issuer-rotation', { schedule: '0 0 1 1 *', ttl: '17520h' });
  t.deepEqual(dataOf(await ok('GET', 'pki/config/issuer-rotation')), { schedule: '0 0 1 1 *', period: null, ttl: 17520 * 3600, key_type: 'ec', key_bits: 256 });
  const listed = dataOf<{ schedule: string }>(await ok('GET', 'sys/rotations/pki/issuer/default'));
  t.is(listed.schedule, '0 0 1 1 *');

  const run = await api(b, 'POST', 'sys/rotations/pki/issuer/default/run');
  t.true(run.status < 300, run.text);

  const newRoot = (await ok('GET', 'pki/ca/pem')).text;
  t.not(newRoot.trim(), oldRoot.trim(), 'ca/pem serves the new default issuer');
  put('new-root.pem', newRoot);
  t.is(openssl(['x509', '-noout', '-subject', '-in', 'new-root.pem']).out, openssl(['x509', '-noout', '-subject', '-in', 'old-root.pem']).out, 'same subject');
  const chain = (await ok('GET', 'pki/ca_chain')).text;
  t.is((chain.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'ca_chain: the new root and its cross-signed copy');
  put('chain.pem', chain);

  const bLeaf = await issue('b.example.com');
  t.is(bLeaf.issuing_ca.trim(), newRoot.trim(), 'new leaves are signed by the new issuer');
  put('a.pem', a.certificate);
  put('b.pem', bLeaf.certificate);
  const vOld = openssl(['verify', '-CAfile', 'old-root.pem', '-untrusted', 'chain.pem', 'b.pem']);
  t.is(vOld.code, 0, `B verifies against the old root through the cross-signed cert: ${vOld.out}`);
  const vNew = openssl(['verify', '-CAfile', 'new-root.pem', 'b.pem']);
  t.is(vNew.code, 0, vNew.out);
  t.is(openssl(['verify', '-CAfile', 'old-root.pem', 'a.pem']).code, 0, 'A still verifies against the old root');
  t.not(openssl(['verify', '-CAfile', 'old-root.pem', 'b.pem']).code, 0, 'without the cross-signed cert B does not verify against the old root');

  // Revoking A lands in the old issuer's CRL, signed by the old key.
  put('crl-before.pem', (await ok('GET', 'pki/issuer/previous/crl/pem')).text);
  t.is(openssl(['verify', '-crl_check', '-CAfile', 'old-root.pem', '-CRLfile', 'crl-before.pem', 'a.pem']).code, 0);
  await ok('POST', 'pki/revoke', { serial_number: a.serial_number });
  const oldCrl = (await ok('GET', 'pki/issuer/previous/crl/pem')).text;
  put('old-crl.pem', oldCrl);
  t.is(openssl(['crl', '-noout', '-CAfile', 'old-root.pem', '-in', 'old-crl.pem']).code, 0, 'the CRL is signed by the old root');
  const revoked = openssl(['verify', '-crl_check', '-CAfile', 'old-root.pem', '-CRLfile', 'old-crl.pem', 'a.pem']);
  t.not(revoked.code, 0);
  t.regex(revoked.out, /revoked/);
  // The default CRL (crl/pem, issuer/default/crl/pem) is signed by the new issuer and still honoured for B.
  put('new-crl.pem', (await ok('GET', 'pki/crl/pem')).text);
  t.is(openssl(['verify', '-crl_check', '-CAfile', 'new-root.pem', '-CRLfile', 'new-crl.pem', 'b.pem']).code, 0);
  t.is((await api(b, 'GET', 'pki/issuer/nope/crl/pem')).status, 400);

  // Run history shows one successful run, and no CA private key ever reaches the logs.
  const history = dataOf<{ runs: { status: string }[] }>(await ok('GET', 'sys/rotations/pki/issuer/default/history'));
  t.is(history.runs.filter((r) => r.status === 'ok').length, 1);
  const logs = b.logs();
  t.false(/PRIVATE KEY|privateKey/.test(logs));

  // DELETE unregisters the rotation.
  t.is((await api(b, 'DELETE', 'pki/config/issuer-rotation')).status, 204);
  t.is((await api(b, 'GET', 'sys/rotations/pki/issuer/default')).status, 404);
});

test('issuer rotation needs a root on the mount', async (t) => {
  await ok('POST', 'sys/mounts/empty-pki', { type: 'pki' });
  const r = await api(b, 'POST', 'empty-pki/config/issuer-rotation', { body: { ttl: '8760h' } });
  t.is(r.status, 400, r.text);
  t.regex(errorOf(r), /root/);
});
