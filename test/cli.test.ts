// The Vault-like `sealbox` client commands (status, operator, kv, read/write/list/delete, lease, token, policy), run as
// real CLI processes (node bin/sealbox.mjs) against one real broker with a shamir seal, initialised and unsealed by the
// CLI itself. Secrets must reach stdout when asked for, and never stderr or the broker's logs.
import test from 'ava';
import { runCli, type CliOptions, type CliRun } from './helpers/cli.ts';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBroker, type Broker } from './helpers/broker.ts';

let b: Broker;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-cli-'));
const secret = (label: string): string => `${label}-${randomBytes(8).toString('hex')}`;

type Run = CliRun;

const cli = (args: string[], o: CliOptions = {}): Promise<Run> => runCli(b, args, o);

/** Runs and insists on exit 0; returns stdout. */
async function ok(args: string[], o: CliOptions = {}): Promise<string> {
  const r = await cli(args, o);
  if (r.code !== 0) throw new Error(`sealbox ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}`);
  return r.stdout;
}

/** The value of a key in a `Key  Value` table. */
function cell(table: string, key: string): string | undefined {
  for (const line of table.split('\n')) {
    const m = /^(\S(?:.*?\S)?)\s{2,}(.*)$/.exec(line);
    if (m && m[1] === key) return m[2];
  }
  return undefined;
}

interface InitAnswer {
  keys: string[];
  keys_base64: string[];
  root_token: string;
}

let preInit: Run;
let initStatusBefore: Run;
let init: InitAnswer;
let unsealFirst: Run;
let unsealSecond: Run;

test.before(async () => {
  const configFile = path.join(tmp, 'config.json');
  fs.writeFileSync(configFile, JSON.stringify({ listen: '127.0.0.1:0', data_dir: tmp, seal: { type: 'shamir' } }));
  b = await startBroker({ configFile, dataDir: tmp });
  preInit = await cli(['status'], { token: null });
  initStatusBefore = await cli(['operator', 'init', '-status'], { token: null });
  init = JSON.parse(await ok(['operator', 'init', '-key-shares=3', '-key-threshold', '2', '-format=json'], { token: null })) as InitAnswer;
  b.rootToken = init.root_token;
  // A share from stdin: with no argument (piped), then with "-".
  unsealFirst = await cli(['operator', 'unseal'], { token: null, input: `${init.keys_base64[0] ?? ''}\n` });
  unsealSecond = await cli(['operator', 'unseal', '-'], { token: null, input: init.keys[1] ?? '' });
  await ok(['write', 'sys/mounts/secret', 'type=kv-v2']);
});

test.after.always(async () => {
  await b.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// Serial tests run first, before the others: they seal the broker.

test.serial('status, operator init and unseal: shares from stdin, progress, exit 2 while sealed', async (t) => {
  t.is(preInit.code, 2);
  t.is(cell(preInit.stdout, 'Initialized'), 'false');
  t.is(initStatusBefore.code, 2);
  t.regex(initStatusBefore.stdout, /not initialized/);
  t.is(init.keys_base64.length, 3);
  t.regex(init.root_token, /\S{20,}/);

  t.is(unsealFirst.code, 0, unsealFirst.stderr);
  t.is(cell(unsealFirst.stdout, 'Sealed'), 'true');
  t.is(cell(unsealFirst.stdout, 'Unseal Progress'), '1/2');
  t.is(unsealSecond.code, 0, unsealSecond.stderr);
  t.is(cell(unsealSecond.stdout, 'Sealed'), 'false');
  t.is(unsealSecond.stderr, '');

  const status = await cli(['status']);
  t.is(status.code, 0);
  t.is(cell(status.stdout, 'Total Shares'), '3');
  t.is(cell(status.stdout, 'Threshold'), '2');
  const json = JSON.parse(await ok(['status', '-format=json'])) as { sealed: boolean; initialized: boolean; t: number };
  t.like(json, { sealed: false, initialized: true, t: 2 });

  const again = await cli(['operator', 'init', '-key-shares=1', '-key-threshold=1'], { token: null });
  t.is(again.code, 2);
  t.regex(again.stderr, /^Error: .*already initialized \(HTTP 400\)/);
  t.is((await cli(['operator', 'init', '-status'])).code, 0);
  const badThreshold = await cli(['operator', 'init', '-key-shares=2', '-key-threshold=3']);
  t.is(badThreshold.code, 1);
  t.regex(badThreshold.stderr, /cannot be more than[\s\S]*usage: sealbox operator init/);
  const noKey = await cli(['operator', 'unseal'], { token: null });
  t.is(noKey.code, 1);
  t.regex(noKey.stderr, /no unseal key given on stdin/);

  const logs = b.logs();
  for (const k of [...init.keys, ...init.keys_base64, init.root_token]) t.false(logs.includes(k), 'no share or root token in the broker logs');
});

test.serial('operator key-status, rotate, seal and unseal', async (t) => {
  const before = JSON.parse(await ok(['operator', 'key-status', '-format=json'])) as { data: { term: number; install_time: string } };
  t.true(before.data.term >= 1);
  const rotated = await ok(['operator', 'rotate']);
  t.regex(rotated, /^Success! Rotated key/);
  t.is(cell(rotated, 'Key Term'), String(before.data.term + 1));
  t.is(cell(await ok(['operator', 'key-status']), 'Key Term'), String(before.data.term + 1));

  // A token without sudo cannot seal.
  const plain = JSON.parse(await ok(['token', 'create', '-policy=default', '-format=json'])) as { auth: { client_token: string } };
  const denied = await cli(['operator', 'seal'], { token: plain.auth.client_token });
  t.is(denied.code, 2);
  t.regex(denied.stderr, /permission denied \(HTTP 403\)/);

  t.is(await ok(['operator', 'seal']), 'Success! Sealbox is sealed.\n');
  const sealed = await cli(['status']);
  t.is(sealed.code, 2);
  t.is(cell(sealed.stdout, 'Sealed'), 'true');
  t.is(cell(sealed.stdout, 'Unseal Progress'), '0/2');
  const read = await cli(['kv', 'get', 'secret/anything']);
  t.is(read.code, 2);
  t.regex(read.stderr, /sealed \(HTTP 503\)/);

  // A share as an argument still works (vault compatibility), with a warning about shell history.
  const first = await cli(['operator', 'unseal', init.keys[2] ?? '']);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stderr, /shell history/);
  t.false(first.stderr.includes(init.keys[2] ?? '-'), 'the warning does not repeat the key');
  const second = await cli(['operator', 'unseal', '-format=json'], { input: `${init.keys_base64[0] ?? ''}\n` });
  t.like(JSON.parse(second.stdout) as object, { sealed: false, progress: 0 });
  t.is((await cli(['status'])).code, 0);
  const after = JSON.parse(await ok(['kv', 'put', '-format=json', 'secret/after-unseal', 'a=b'])) as { data: { version: number } };
  t.is(after.data.version, 1);
});

test('kv put and get: key=value with "=" in values, key=@file, key=- from stdin, JSON, -field and -version', async (t) => {
  const pw = secret('pw');
  const dsn = `postgres://app@db/prod?sslmode=require&options=-c%20x=1`;
  const certFile = path.join(tmp, 'cert.pem');
  const cert = `-----BEGIN CERTIFICATE-----\n${secret('MIIB')}\n-----END CERTIFICATE-----\n`;
  fs.writeFileSync(certFile, cert);
  const put = await cli(['kv', 'put', 'secret/cli/app', 'user=admin', `dsn=${dsn}`, `cert=@${certFile}`, 'password=-', 'empty='], { input: `${pw}\n` });
  t.is(put.code, 0, put.stderr);
  t.is(cell(put.stdout, 'version'), '1');
  t.regex(put.stdout, /Secret Path[\s\S]*secret\/data\/cli\/app/);
  t.is(put.stderr, '');

  const json = JSON.parse(await ok(['kv', 'get', '-format=json', 'secret/cli/app'])) as { data: { data: Record<string, string>; metadata: { version: number } } };
  t.deepEqual(json.data.data, { user: 'admin', dsn, cert, password: pw, empty: '' });
  t.is(json.data.metadata.version, 1);

  const table = await cli(['kv', 'get', 'secret/cli/app']);
  t.is(table.code, 0);
  t.is(cell(table.stdout, 'user'), 'admin');
  t.is(cell(table.stdout, 'dsn'), dsn);
  t.is(cell(table.stdout, 'password'), pw);
  t.is(table.stderr, '');
  t.is(await ok(['kv', 'get', '-field=password', 'secret/cli/app']), pw, 'the value alone, no newline when not a terminal');
  t.is(await ok(['kv', 'get', '-field', 'cert', 'secret/cli/app']), cert, 'a file value comes back byte for byte');

  // patch changes one key; -version reads the old one; -cas guards writes.
  const patched = await cli(['kv', 'patch', 'secret/cli/app', 'password=-'], { input: 'rotated' });
  t.is(patched.code, 0, patched.stderr);
  t.is(cell(patched.stdout, 'version'), '2');
  const v2 = JSON.parse(await ok(['kv', 'get', '-format=json', 'secret/cli/app'])) as { data: { data: Record<string, string> } };
  t.deepEqual(v2.data.data, { user: 'admin', dsn, cert, password: 'rotated', empty: '' });
  t.is(await ok(['kv', 'get', '-version=1', '-field=password', 'secret/cli/app']), pw);
  const cas = await cli(['kv', 'put', '-cas=1', 'secret/cli/app', 'a=b']);
  t.is(cas.code, 2);
  t.regex(cas.stderr, /^Error: PUT secret\/data\/cli\/app: .*(check-and-set|cas).*\(HTTP 400\)/i);
  t.is(cell(await ok(['kv', 'put', '-cas=2', 'secret/cli/app', 'only=this']), 'version'), '3');

  // A JSON object on stdin ("-" alone), -mount, and a repeated key becoming a list.
  const fromJson = await cli(['kv', 'put', '-mount=secret', 'cli/json', '-', 'tag=a', 'tag=b'], { input: '{"nested":{"n":1},"flag":true}' });
  t.is(fromJson.code, 0, fromJson.stderr);
  const nested = JSON.parse(await ok(['kv', 'get', '-format=json', 'secret/cli/json'])) as { data: { data: unknown } };
  t.deepEqual(nested.data.data, { nested: { n: 1 }, flag: true, tag: ['a', 'b'] });
  t.is(await ok(['kv', 'get', '-field=nested', 'secret/cli/json']), '{"n":1}');

  const missingField = await cli(['kv', 'get', '-field=nope', 'secret/cli/json']);
  t.is(missingField.code, 1);
  t.regex(missingField.stderr, /field "nope" not present/);
  const missing = await cli(['kv', 'get', 'secret/cli/none']);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /No value found at secret\/cli\/none/);
  const noData = await cli(['kv', 'put', 'secret/cli/x']);
  t.is(noData.code, 1);
  t.regex(noData.stderr, /missing DATA[\s\S]*usage: sealbox kv put/);
  const noKey = await cli(['kv', 'put', 'secret/cli/x', pw]);
  t.is(noKey.code, 1);
  t.false(noKey.stderr.includes(pw), 'a value typed without its key is not echoed');
  const twoStdin = await cli(['kv', 'put', 'secret/cli/x', 'a=-', 'b=-'], { input: 'x' });
  t.is(twoStdin.code, 1);
  t.regex(twoStdin.stderr, /only one argument may be "-"/);

  t.false(b.logs().includes(pw), 'secret values never reach the broker logs');
});

test('kv delete, undelete, destroy, list and metadata get/put/delete', async (t) => {
  await ok(['kv', 'put', 'secret/cli/life/one', 'v=1']);
  await ok(['kv', 'put', 'secret/cli/life/one', 'v=2']);
  await ok(['kv', 'put', 'secret/cli/life/sub/two', 'v=1']);

  t.is(await ok(['kv', 'list', 'secret/cli/life']), 'Keys\n----\none\nsub/\n');
  t.deepEqual(JSON.parse(await ok(['kv', 'list', '-format=json', 'secret/cli/life/'])), ['one', 'sub/']);

  t.regex(await ok(['kv', 'delete', 'secret/cli/life/one']), /^Success! Data deleted \(if it existed\) at: secret\/data\/cli\/life\/one/);
  t.is((await cli(['kv', 'get', 'secret/cli/life/one'])).code, 2);
  t.is(await ok(['kv', 'get', '-version=1', '-field=v', 'secret/cli/life/one']), '1');
  await ok(['kv', 'undelete', '-versions=2', 'secret/cli/life/one']);
  t.is(await ok(['kv', 'get', '-field=v', 'secret/cli/life/one']), '2');
  await ok(['kv', 'delete', '-versions=1', 'secret/cli/life/one']);
  await ok(['kv', 'destroy', '-versions', '1,2', 'secret/cli/life/one']);
  const noVersions = await cli(['kv', 'destroy', 'secret/cli/life/one']);
  t.is(noVersions.code, 1);
  t.regex(noVersions.stderr, /missing -versions/);

  const meta = await ok(['kv', 'metadata', 'get', 'secret/cli/life/one']);
  t.is(cell(meta, 'current_version'), '2');
  t.regex(meta, /Version 1 =+\n[\s\S]*destroyed\s+true/);
  t.regex(meta, /Version 2 =+\n[\s\S]*destroyed\s+true/);

  t.regex(
    await ok(['kv', 'metadata', 'put', '-max-versions=4', '-cas-required', '-custom-metadata', 'owner=team=a', '-custom-metadata=env=prod', 'secret/cli/life/one']),
    /^Success! Data written to: secret\/metadata\/cli\/life\/one/,
  );
  const mj = JSON.parse(await ok(['kv', 'metadata', 'get', '-format=json', 'secret/cli/life/one'])) as { data: Record<string, unknown> };
  t.like(mj.data, { max_versions: 4, cas_required: true, custom_metadata: { owner: 'team=a', env: 'prod' } });
  const noCas = await cli(['kv', 'put', 'secret/cli/life/one', 'v=3']);
  t.is(noCas.code, 2, 'cas_required: a write without -cas is refused');

  await ok(['kv', 'metadata', 'delete', 'secret/cli/life/one']);
  t.is((await cli(['kv', 'metadata', 'get', 'secret/cli/life/one'])).code, 2);
  t.deepEqual(JSON.parse(await ok(['kv', 'list', '-format=json', 'secret/cli/life'])), ['sub/']);
});

test('read, write, list and delete any path', async (t) => {
  const w = await cli(['write', 'secret/data/cli/raw', '-'], { input: JSON.stringify({ data: { a: 'x=y', b: 'two' } }) });
  t.is(w.code, 0, w.stderr);
  t.is(cell(w.stdout, 'version'), '1');
  const r = await ok(['read', 'secret/data/cli/raw']);
  t.is(cell(r, 'data'), 'map[a:x=y b:two]');
  const rj = JSON.parse(await ok(['read', '-format=json', '/secret/data/cli/raw'])) as { data: { data: unknown } };
  t.deepEqual(rj.data.data, { a: 'x=y', b: 'two' });
  t.is(await ok(['read', '-field=data', '-format=json', 'secret/data/cli/raw']), `${JSON.stringify({ a: 'x=y', b: 'two' }, null, 2)}\n`);
  t.is(cell(await ok(['read', 'secret/data/cli/raw', 'version=1']), 'data'), 'map[a:x=y b:two]', 'key=value on read: query parameters');

  t.regex(await ok(['list', 'secret/metadata/cli/']), /^Keys\n----\n[\s\S]*^raw$/m);
  t.true((JSON.parse(await ok(['list', '-format=json', 'secret/metadata/cli'])) as string[]).includes('raw'));

  t.regex(await ok(['write', 'sys/policies/acl/cli-raw', 'policy=path "secret/data/x" { capabilities = ["read"] }']), /^Success! Data written to: sys\/policies\/acl\/cli-raw\n$/);
  t.regex(await ok(['delete', 'sys/policies/acl/cli-raw']), /^Success! Data deleted \(if it existed\) at: sys\/policies\/acl\/cli-raw\n$/);
  const gone = await cli(['read', 'sys/policies/acl/cli-raw']);
  t.is(gone.code, 2);
  t.regex(gone.stderr, /No value found at sys\/policies\/acl\/cli-raw/);
  const emptyList = await cli(['list', 'secret/metadata/nothing-here']);
  t.is(emptyList.code, 2);

  const noData = await cli(['write', 'sys/rotate']);
  t.is(noData.code, 1);
  t.regex(noData.stderr, /-force/);
  t.is(await ok(['write', '-f', 'sys/rotate']), 'Success! Data written to: sys/rotate\n');
  const bad = await cli(['write', 'sys/mounts/cli-bad', 'type=no-such-engine']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^Error: PUT sys\/mounts\/cli-bad: .+ \(HTTP 400\)\n$/);
});

test('lease lookup, renew and revoke, on leased PKI certificates', async (t) => {
  await ok(['write', 'sys/mounts/pki', 'type=pki']);
  await ok(['write', 'pki/root/generate/internal', 'common_name=CLI Root', 'key_type=ec', 'ttl=87600h']);
  await ok(['write', 'pki/roles/r', 'allow_any_name=true', 'generate_lease=true', 'key_type=ec', 'ttl=1h']);
  const issued = JSON.parse(await ok(['write', '-format=json', 'pki/issue/r', 'common_name=one.example'])) as { lease_id: string; lease_duration: number; data: { serial_number: string } };
  t.regex(issued.lease_id, /^pki\/issue\/r\/\S+$/);
  const table = await ok(['write', 'pki/issue/r', 'common_name=two.example']);
  t.regex(cell(table, 'lease_id') ?? '', /^pki\/issue\/r\//);
  t.is(cell(table, 'lease_duration'), '1h');
  t.is(cell(table, 'lease_renewable'), 'false');
  t.is(await ok(['write', '-field=lease_id', 'pki/issue/r', 'common_name=three.example']).then((s) => s.startsWith('pki/issue/r/')), true);

  const look = await ok(['lease', 'lookup', issued.lease_id]);
  t.is(cell(look, 'id'), issued.lease_id);
  t.is(cell(look, 'state'), 'active');
  t.regex(cell(look, 'ttl') ?? '', /^(59m\d+s|1h)$/);
  const lj = JSON.parse(await ok(['lease', 'lookup', '-format=json', issued.lease_id])) as { data: { id: string; renewable: boolean; ttl: number } };
  t.like(lj.data, { id: issued.lease_id, renewable: false });

  const renew = await cli(['lease', 'renew', '-increment=2h', issued.lease_id]);
  t.is(renew.code, 2);
  t.regex(renew.stderr, /^Error: PUT sys\/leases\/renew: lease is not renewable \(HTTP 400\)/);

  t.is(await ok(['lease', 'revoke', issued.lease_id]), `Success! Revoked lease: ${issued.lease_id}\n`);
  const cert = JSON.parse(await ok(['read', '-format=json', `pki/cert/${issued.data.serial_number}`])) as { data: { revocation_time: number } };
  t.true(cert.data.revocation_time > 0, 'revoking the lease revoked the certificate');

  const listed = JSON.parse(await ok(['list', '-format=json', 'sys/leases/lookup/pki/issue/r/'])) as string[];
  t.is(listed.length, 2);
  t.regex(await ok(['lease', 'revoke', '-prefix', 'pki/issue/r']), /^Success! Revoked any leases with prefix: pki\/issue\/r/);
  t.is((await cli(['list', 'sys/leases/lookup/pki/issue/r/'])).code, 2, 'no leases left under the prefix');

  const bogus = await cli(['lease', 'lookup', 'pki/issue/r/nope']);
  t.is(bogus.code, 2);
  t.regex(bogus.stderr, /invalid lease \(HTTP 400\)/);
  t.is((await cli(['lease', 'revoke', '-force', issued.lease_id])).code, 1, '-force needs -prefix');
  t.is((await cli(['lease', 'lookup'])).code, 1);
});

test('token create, lookup, renew and revoke; the token goes to stdout only', async (t) => {
  const created = await cli(['token', 'create', '-policy=cli-a', '-policy', 'cli-b,cli-c', '-ttl=1h', '-display-name=ci', '-metadata', 'team=x=y', '-field=token']);
  t.is(created.code, 0, created.stderr);
  const token = created.stdout;
  t.regex(token, /^\S{20,}$/, 'only the token, no newline');
  t.is(created.stderr, '');

  const self = await cli(['token', 'lookup'], { token });
  t.is(self.code, 0, self.stderr);
  t.is(cell(self.stdout, 'policies'), '[cli-a cli-b cli-c default]');
  t.is(cell(self.stdout, 'display_name'), 'token-ci');
  t.regex(cell(self.stdout, 'ttl') ?? '', /^(59m\d+s|1h)$/);
  const viaStdin = JSON.parse(await ok(['token', 'lookup', '-format=json', '-'], { input: `${token}\n` })) as { data: { accessor: string; meta: Record<string, string> } };
  t.deepEqual(viaStdin.data.meta, { team: 'x=y' });
  const accessor = viaStdin.data.accessor;
  t.is(await ok(['token', 'lookup', '-accessor', accessor, '-field=display_name']), 'token-ci');

  const renewed = JSON.parse(await ok(['token', 'renew', '-increment=30m', '-format=json', '-'], { input: token })) as { auth: { lease_duration: number } };
  t.true(renewed.auth.lease_duration > 1700 && renewed.auth.lease_duration <= 1800);
  const renewSelf = await cli(['token', 'renew'], { token });
  t.is(renewSelf.code, 0, renewSelf.stderr);
  t.is(cell(renewSelf.stdout, 'token_accessor'), accessor);

  // The full answer in JSON; -orphan and -period; VAULT_ADDR/VAULT_TOKEN work as fallbacks.
  await ok(['write', 'sys/policies/acl/cli-tokens', 'policy=path "auth/token/create" { capabilities = ["update"] }']);
  const orphan = JSON.parse(
    await ok(['token', 'create', '-orphan', '-period=2h', '-policy=cli-tokens', '-format=json'], { token: null, env: { SEALBOX_ADDR: '', VAULT_ADDR: b.address, VAULT_TOKEN: b.rootToken } }),
  ) as { auth: { client_token: string; accessor: string; policies: string[]; renewable: boolean } };
  t.deepEqual(orphan.auth.policies, ['cli-tokens', 'default']);
  const orphanLook = JSON.parse(await ok(['token', 'lookup', '-format=json', '-'], { input: orphan.auth.client_token })) as { data: { orphan: boolean; period: number } };
  t.like(orphanLook.data, { orphan: true, period: 7200 });
  const child = JSON.parse(await ok(['token', 'create', '-format=json'], { token: orphan.auth.client_token })) as { auth: { client_token: string } };
  const notSudo = await cli(['token', 'create', '-orphan'], { token: orphan.auth.client_token });
  t.is(notSudo.code, 2);
  t.regex(notSudo.stderr, /permission denied \(HTTP 403\)/);

  t.is(await ok(['token', 'revoke', '-accessor', accessor]), 'Success! Revoked token (if it existed)\n');
  const revoked = await cli(['token', 'lookup'], { token });
  t.is(revoked.code, 2);
  t.regex(revoked.stderr, /permission denied/);
  t.is(await ok(['token', 'revoke', '-self'], { token: orphan.auth.client_token }), 'Success! Revoked token (if it existed)\n');
  t.is((await cli(['token', 'lookup'], { token: child.auth.client_token })).code, 2, 'revoking a token revokes its children');
  t.is(await ok(['token', 'revoke', '-'], { input: 'not-a-token' }), 'Success! Revoked token (if it existed)\n');
  t.is((await cli(['token', 'revoke'])).code, 1);

  const logs = b.logs();
  for (const v of [token, orphan.auth.client_token, child.auth.client_token]) t.false(logs.includes(v), 'no token in the broker logs');
});

test('policy write (file and stdin), read, list, delete, and a token held to its policy', async (t) => {
  const hcl = `# read-only access to the app's secrets\npath "secret/data/cli/pol/*" {\n  capabilities = ["read"]\n}\n`;
  const file = path.join(tmp, 'app.hcl');
  fs.writeFileSync(file, hcl);
  t.is(await ok(['policy', 'write', 'cli-app', file]), 'Success! Uploaded policy: cli-app\n');
  t.is(await ok(['policy', 'read', 'cli-app']), hcl);
  const jsonDoc = JSON.stringify({ path: { 'secret/data/cli/pol/*': { capabilities: ['create', 'update'] } } });
  t.is(await ok(['policy', 'write', 'cli-writer', '-'], { input: jsonDoc }), 'Success! Uploaded policy: cli-writer\n');
  const read = JSON.parse(await ok(['policy', 'read', '-format=json', 'cli-writer'])) as { data: { name: string; policy: string } };
  t.is(read.data.name, 'cli-writer');
  t.deepEqual(JSON.parse(read.data.policy), JSON.parse(jsonDoc));
  const names = JSON.parse(await ok(['policy', 'list', '-format=json'])) as string[];
  t.true(names.includes('cli-app') && names.includes('cli-writer') && names.includes('default'));
  t.regex(await ok(['policy', 'list']), /^cli-app$/m);

  const bad = await cli(['policy', 'write', 'cli-bad', '-'], { input: 'path "x" { capabilities = read }' });
  t.is(bad.code, 2);
  t.regex(bad.stderr, /^Error: PUT sys\/policies\/acl\/cli-bad: policy.+\(HTTP 400\)\n$/);

  await ok(['kv', 'put', 'secret/cli/pol/db', 'password=p1']);
  const token = await ok(['token', 'create', '-policy=cli-app', '-field=token']);
  t.is(await ok(['kv', 'get', '-field=password', 'secret/cli/pol/db'], { token }), 'p1');
  const write = await cli(['kv', 'put', 'secret/cli/pol/db', 'password=p2'], { token });
  t.is(write.code, 2);
  t.regex(write.stderr, /^Error: PUT secret\/data\/cli\/pol\/db: permission denied \(HTTP 403\)\n$/);

  t.is(await ok(['policy', 'delete', 'cli-app']), 'Success! Deleted policy: cli-app\n');
  const gone = await cli(['policy', 'read', 'cli-app']);
  t.is(gone.code, 2);
  t.regex(gone.stderr, /No policy named: cli-app/);
  t.is((await cli(['kv', 'get', 'secret/cli/pol/db'], { token })).code, 2, 'the deleted policy no longer grants anything');
  t.is((await cli(['policy', 'write', 'cli-app'])).code, 1);
});

test('errors: a bad token is exit 2 with "permission denied", usage mistakes are exit 1, an unreachable broker is exit 2', async (t) => {
  const denied = await cli(['kv', 'get', 'secret/cli/app'], { token: 'not-a-real-token' });
  t.is(denied.code, 2);
  t.regex(denied.stderr, /^Error: GET secret\/data\/cli\/app: permission denied \(HTTP 403\)\n$/);
  t.is(denied.stdout, '');
  const deniedRead = await cli(['read', '-format=json', 'sys/mounts'], { token: 'not-a-real-token' });
  t.is(deniedRead.code, 2);
  t.regex(deniedRead.stderr, /permission denied \(HTTP 403\)/);

  const unknown = await cli(['frobnicate']);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /unknown command "frobnicate"[\s\S]*usage: sealbox/);
  const unknownSub = await cli(['kv', 'frob']);
  t.is(unknownSub.code, 1);
  t.regex(unknownSub.stderr, /sealbox kv: unknown command "frob"[\s\S]*Commands:/);
  const flag = await cli(['kv', 'get', '-bogus', 'secret/x']);
  t.is(flag.code, 1);
  t.regex(flag.stderr, /unknown flag "-bogus"[\s\S]*usage: sealbox kv get/);
  const format = await cli(['status', '-format=yaml']);
  t.is(format.code, 1);
  t.regex(format.stderr, /-format must be "table" or "json"/);
  const rotation = await cli(['rotation', 'frob']);
  t.is(rotation.code, 1);
  t.regex(rotation.stderr, /sealbox rotation: unknown command "frob"[\s\S]*Commands:/);
  const help = await cli(['kv', 'put', '-help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /^usage: sealbox kv put/);

  const down = await cli(['status'], { env: { SEALBOX_ADDR: 'http://127.0.0.1:1' } });
  t.is(down.code, 2);
  t.regex(down.stderr, /cannot reach http:\/\/127\.0\.0\.1:1/);
});
