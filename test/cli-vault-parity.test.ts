// The Vault commands a user types first (issue 15), as real CLI processes against one real broker: secrets
// enable|disable|list|tune, auth enable|disable|list, login (token and approle, stored in the token file), token
// lookup|renew -self, unwrap; and an unknown subcommand is a usage error (exit 1), never a crash.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { api, startBroker, type Broker } from './helpers/broker.ts';
import { runCli, type CliOptions, type CliRun } from './helpers/cli.ts';

let b: Broker;
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-cli-home-'));
test.before(async () => {
  b = await startBroker();
});
test.after.always(async () => {
  await b?.stop();
  fs.rmSync(home, { recursive: true, force: true });
});

const cli = (args: string[], o: CliOptions = {}): Promise<CliRun> => runCli(b, args, { ...o, env: { HOME: home, ...o.env } });
async function ok(args: string[], o: CliOptions = {}): Promise<string> {
  const r = await cli(args, o);
  if (r.code !== 0) throw new Error(`sealbox ${args.join(' ')} exited ${String(r.code)}: ${r.stderr}`);
  return r.stdout;
}
const must = async (method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<unknown> => {
  const r = await api(b, method, p, { body, headers });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
};

test.serial('secrets enable, list, tune and disable', async (t) => {
  t.is(await ok(['secrets', 'enable', '-path=team-kv', '-version=2', '-description=team secrets', '-default-lease-ttl=1h', 'kv']), 'Success! Enabled the kv secrets engine at: team-kv/\n');
  const mounts = (await must('GET', 'sys/mounts')) as { data: Record<string, { type: string; description: string; options: { version: string } | null; config: { default_lease_ttl: number } }> };
  t.like(mounts.data['team-kv/'], { type: 'kv', description: 'team secrets', options: { version: '2' }, config: { default_lease_ttl: 3600 } });

  const table = await ok(['secrets', 'list']);
  t.regex(table, /^Path\s+Type\s+Accessor\s+Description/m);
  t.regex(table, /^team-kv\/\s+kv\s+kv_\S+\s+team secrets$/m);
  const listed = JSON.parse(await ok(['secrets', 'list', '-format=json'])) as Record<string, { type: string }>;
  t.is(listed['team-kv/']?.type, 'kv');
  t.regex(await ok(['secrets', 'list', '-detailed']), /Default TTL/);

  t.is(await ok(['secrets', 'tune', '-max-lease-ttl=48h', '-description=tuned', 'team-kv']), 'Success! Tuned the secrets engine at: team-kv/\n');
  const tuned = (await must('GET', 'sys/mounts/team-kv/tune')) as { data: { max_lease_ttl: number; description: string } };
  t.like(tuned.data, { max_lease_ttl: 172800, description: 'tuned' });

  t.is(await ok(['secrets', 'disable', 'team-kv/']), 'Success! Disabled the secrets engine (if it existed) at: team-kv/\n');
  t.false('team-kv/' in ((await must('GET', 'sys/mounts')) as { data: Record<string, unknown> }).data);

  const bad = await cli(['secrets', 'enable', '-path=x', 'no-such-engine']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /unknown secrets engine type/);
  t.is((await cli(['secrets', 'enable'])).code, 1, 'TYPE is required');
  t.is((await cli(['secrets', 'tune', '-ttl=1h', 'secret'])).code, 1, 'unknown flag');
});

test.serial('auth enable, list, disable; login with -method=approle stores the token, which later commands use', async (t) => {
  t.is(await ok(['auth', 'enable', '-path=ci-approle', 'approle']), 'Success! Enabled approle auth method at: ci-approle/\n');
  t.regex(await ok(['auth', 'list']), /^ci-approle\/\s+approle\s+approle_\S+/m);
  await must('POST', 'auth/ci-approle/role/deploy', { token_policies: ['default'], token_ttl: '20m' });
  const roleId = ((await must('GET', 'auth/ci-approle/role/deploy/role-id')) as { data: { role_id: string } }).data.role_id;
  const secretId = ((await must('POST', 'auth/ci-approle/role/deploy/secret-id', {})) as { data: { secret_id: string } }).data.secret_id;
  const tokenFile = path.join(home, 'approle-token');

  const out = await ok(['login', '-method=approle', '-path=ci-approle', `role_id=${roleId}`, 'secret_id=-'], { token: null, input: `${secretId}\n`, env: { SEALBOX_TOKEN_FILE: tokenFile } });
  t.regex(out, /^Success! You are now authenticated/);
  t.regex(out, /^token_duration\s+20m/m);
  const stored = fs.readFileSync(tokenFile, 'utf8');
  t.is(fs.statSync(tokenFile).mode & 0o777, 0o600);
  t.true(out.includes(stored));

  // No SEALBOX_TOKEN: the stored token is used; lookup -self and renew -self, as "vault token lookup|renew -self".
  const self = JSON.parse(await ok(['token', 'lookup', '-self', '-format=json'], { token: null, env: { SEALBOX_TOKEN_FILE: tokenFile } })) as { data: { path: string } };
  t.is(self.data.path, 'auth/ci-approle/login');
  const renewed = JSON.parse(await ok(['token', 'renew', '-self', '-increment=10m', '-format=json'], { token: null, env: { SEALBOX_TOKEN_FILE: tokenFile } })) as { auth: { lease_duration: number } };
  t.is(renewed.auth.lease_duration, 600);
  t.is((await cli(['token', 'lookup', '-self', 'extra'])).code, 1);

  t.is(await ok(['auth', 'disable', 'ci-approle']), 'Success! Disabled the auth method (if it existed) at: ci-approle/\n');
  const failed = await cli(['login', '-method=approle', '-path=ci-approle', `role_id=${roleId}`, 'secret_id=x'], { token: null, env: { SEALBOX_TOKEN_FILE: tokenFile } });
  t.is(failed.code, 2);
});

test.serial('login with a token checks it, -token-only prints it, a bad token is refused', async (t) => {
  const created = (await must('POST', 'auth/token/create', { policies: ['default'], ttl: '1h' })) as { auth: { client_token: string } };
  const token = created.auth.client_token;
  t.is(await ok(['login', '-token-only', '-'], { token: null, input: `${token}\n` }), token);
  t.false(fs.existsSync(path.join(home, '.sealbox-token')), '-token-only does not store');
  const out = await ok(['login', token], { token: null });
  t.regex(out, /^token_policies\s+\["default"\]/m);
  t.is(fs.readFileSync(path.join(home, '.sealbox-token'), 'utf8'), token);
  const bad = await cli(['login', 'sbx.not-a-token'], { token: null });
  t.is(bad.code, 2);
  t.false(bad.stderr.includes(token));
  fs.rmSync(path.join(home, '.sealbox-token'));
});

test.serial('unwrap: with the wrapping token as the client token, or as an argument; once', async (t) => {
  await must('POST', 'secret/data/cli-wrap', { data: { pw: 'cli-wrapped-value' } });
  const first = ((await must('GET', 'secret/data/cli-wrap', undefined, { 'X-Vault-Wrap-TTL': '5m' })) as { wrap_info: { token: string } }).wrap_info.token;
  const out = await ok(['unwrap', '-format=json'], { token: first });
  t.is((JSON.parse(out) as { data: { data: { pw: string } } }).data.data.pw, 'cli-wrapped-value');
  const again = await cli(['unwrap'], { token: first });
  t.is(again.code, 2);
  t.regex(again.stderr, /wrapping token is not valid or does not exist/);

  const second = ((await must('POST', 'sys/wrapping/wrap', { pw: 'cli-wrapped-value' }, { 'X-Vault-Wrap-TTL': '5m' })) as { wrap_info: { token: string } }).wrap_info.token;
  t.is(await ok(['unwrap', '-field=pw', second]), 'cli-wrapped-value');
});

test.serial('unknown subcommands are usage errors (exit 1), not crashes', async (t) => {
  for (const args of [['audit', 'toString'], ['audit', 'constructor'], ['token', 'toString'], ['secrets', '__proto__'], ['auth', 'tune'], ['toString']]) {
    const r = await cli(args);
    t.is(r.code, 1, args.join(' '));
    t.regex(r.stderr, /unknown command/, args.join(' '));
    t.false(r.stderr.includes('is not a function'), args.join(' '));
  }
});
