// --once (init-container mode): AppRole from files, a KV secret through a template and a database credential as
// an env file, both mode 0400; a wrong secret ID and bad configs fail with a clear message and write nothing.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import pg from 'pg';
import { startBroker, type Broker } from '../../test/helpers/broker.ts';
import { mountDatabase, newTarget, ok, parseEnv, runAgent, setupAppRole, tempDir, writeConfig, type Target } from './helpers.ts';

let b: Broker;
let target: Target;

test.before(async () => {
  target = await newTarget('agent_once_readers');
  b = await startBroker();
  await mountDatabase(b, target, 'agent_once_readers', { default_ttl: '5m', max_ttl: '10m' });
  await ok(b, 'POST', 'secret/data/app/config', { data: { api_key: 'k-123', greeting: 'hello "world" $HOME' } });
});
test.after.always(async () => {
  await b?.stop();
});

test.serial('--once with AppRole files writes a KV template and a database env file (0400) and exits 0', async (t) => {
  const dir = await tempDir();
  const out = path.join(dir, 'out');
  await fsp.mkdir(out);
  const files = await setupAppRole(b, dir, ['secret/data/app/*', 'database/creds/app']);
  const config = await writeConfig(
    dir,
    [
      `broker: { address: "${b.address}" }`,
      'auth:',
      '  method: approle',
      `  role_id_file: ${files.roleIdFile}`,
      `  secret_id_file: ${files.secretIdFile}`,
      'secrets:',
      '  - path: secret/data/app/config',
      `    destination: ${out}/app.conf`,
      '    template: "key={{api_key}}\\ngreeting={{env greeting}}\\n"',
      '  - path: database/creds/app',
      `    destination: ${out}/db.env`,
      `    template: "PGUSER={{username}}\\nPGPASSWORD={{env password}}\\nDATABASE_URL=postgres://{{url username}}:{{url password}}@127.0.0.1:${target.cluster.port}/${target.dbName}\\n"`,
      '',
    ].join('\n'),
    'agent.yaml',
  );
  const agent = runAgent(config, ['--once']);
  const code = await agent.exited;
  t.is(code, 0, agent.logs());

  t.is(await fsp.readFile(path.join(out, 'app.conf'), 'utf8'), 'key=k-123\ngreeting="hello \\"world\\" \\$HOME"\n');
  for (const f of ['app.conf', 'db.env']) t.is(fs.statSync(path.join(out, f)).mode & 0o777, 0o400, f);
  // No temp files left behind.
  t.deepEqual((await fsp.readdir(out)).sort(), ['app.conf', 'db.env']);

  const env = parseEnv(await fsp.readFile(path.join(out, 'db.env'), 'utf8'));
  t.truthy(env.PGUSER);
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  t.is((await client.query('SELECT name FROM items WHERE id = 1')).rows[0].name, 'one');
  await client.end();
  t.is(env.PGPASSWORD?.length, 20);

  // No secret value in the agent's output.
  t.false(agent.logs().includes('k-123'));
  t.false(agent.logs().includes(env.PGPASSWORD ?? '-'));
});

test.serial('--once with a wrong secret ID exits non-zero, names the problem, and writes nothing', async (t) => {
  const dir = await tempDir();
  const files = await setupAppRole(b, dir, ['secret/data/app/*']);
  await fsp.writeFile(files.secretIdFile, '00000000-0000-0000-0000-000000000000\n');
  const config = await writeConfig(dir, {
    broker: { address: b.address },
    auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
    secrets: [{ path: 'secret/data/app/config', destination: path.join(dir, 'app.json') }],
  });
  const agent = runAgent(config, ['--once']);
  t.not(await agent.exited, 0);
  t.regex(agent.logs(), /approle login at auth\/approle\/login failed: invalid credentials.*secret_id_file/);
  t.false(fs.existsSync(path.join(dir, 'app.json')));
});

test.serial('--once: a secret the token may not read fails the run and writes nothing, not even the readable one', async (t) => {
  const dir = await tempDir();
  const files = await setupAppRole(b, dir, ['secret/data/app/*']);
  const config = await writeConfig(dir, {
    broker: { address: b.address },
    exit_after_auth: true,
    auth: { method: 'approle', role_id_file: files.roleIdFile, secret_id_file: files.secretIdFile },
    secrets: [
      { path: 'secret/data/app/config', destination: path.join(dir, 'app.json') },
      { path: 'secret/data/other/x', destination: path.join(dir, 'other.json') },
    ],
  });
  const agent = runAgent(config);
  t.is(await agent.exited, 1);
  t.regex(agent.logs(), /nothing written: secrets\[1\] \(secret\/data\/other\/x\): permission denied/);
  t.deepEqual((await fsp.readdir(dir)).sort(), ['agent.json', 'role-id', 'secret-id']);
});

const badConfigs: [string, (dir: string) => unknown, RegExp][] = [
  ['a missing field', (dir) => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'approle', role_id_file: 'x' }, secrets: [{ path: 'secret/data/a', destination: `${dir}/a` }] }), /config error: auth\.secret_id_file: is required/],
  ['a secret without destination', () => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'token', token_file: 't' }, secrets: [{ path: 'secret/data/a' }] }), /config error: secrets\[0\]\.destination: is required/],
  ['an unknown auth method', (dir) => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'ldap' }, secrets: [{ path: 'secret/data/a', destination: `${dir}/a` }] }), /config error: auth\.method: unknown auth method "ldap" \(expected one of: approle, kubernetes, jwt, token, cert\)/],
  ['an unwritable destination', (dir) => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'token', token_file: 't' }, secrets: [{ path: 'secret/data/a', destination: `${dir}/a` }, { path: 'secret/data/b', destination: `${dir}/agent.json/b` }] }), /config error: secrets\[1\]\.destination: .*agent\.json is not a directory/],
  ['a destination in a missing directory', (dir) => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'token', token_file: 't' }, secrets: [{ path: 'secret/data/a', destination: `${dir}/nope/a` }] }), /config error: secrets\[0\]\.destination: directory .*nope does not exist/],
  ['a misspelt field', (dir) => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'token', token_file: 't' }, secrets: [{ path: 'secret/data/a', destinaton: `${dir}/a` }] }), /config error: secrets\[0\]\.destination: is required|secrets\[0\]\.destinaton: unknown field/],
  ['a bad mode', (dir) => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'token', token_file: 't' }, secrets: [{ path: 'secret/data/a', destination: `${dir}/a`, mode: '0999' }] }), /config error: secrets\[0\]\.mode: must be an octal file mode/],
  ['a bad template', (dir) => ({ broker: { address: 'http://127.0.0.1:1' }, auth: { method: 'token', token_file: 't' }, secrets: [{ path: 'secret/data/a', destination: `${dir}/a`, template: '{{ nope x }}' }] }), /config error: secrets\[0\]\.template: unknown helper "nope"/],
];

for (const [what, make, message] of badConfigs) {
  test(`bad config (${what}) exits non-zero with a clear message and writes nothing`, async (t) => {
    const dir = await tempDir();
    const config = await writeConfig(dir, make(dir));
    for (const args of [['--once'], []]) {
      const agent = runAgent(config, args);
      t.is(await agent.exited, 2, agent.logs());
      t.regex(agent.logs(), message);
      t.deepEqual(await fsp.readdir(dir), ['agent.json']);
    }
  });
}

test('a config that is not YAML, and a missing config file, are clear errors', async (t) => {
  const dir = await tempDir();
  const bad = await writeConfig(dir, 'broker: [unclosed', 'bad.yaml');
  const a = runAgent(bad, ['--once']);
  t.is(await a.exited, 2);
  t.regex(a.logs(), /config error: config file .*bad\.yaml is not valid YAML\/JSON/);
  const b2 = runAgent(path.join(dir, 'missing.yaml'), ['--once']);
  t.is(await b2.exited, 2);
  t.regex(b2.logs(), /config error: cannot read config file .*missing\.yaml: ENOENT/);
});
