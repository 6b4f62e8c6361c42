// The example configs in agent/examples/ are loaded with the agent's real parser (loadConfig), so they cannot rot;
// the README's complete config is the same text as agent/examples/complete.yaml; --help lists the flags.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { AUTH_METHODS, loadConfig } from '../src/config.ts';
import { checkTemplate } from '../src/render.ts';

const AGENT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const EXAMPLES = path.join(AGENT, 'examples');
const files = fs.readdirSync(EXAMPLES).filter((f) => /\.(ya?ml|json)$/.test(f)).sort();

test('there is an example for every auth method, plus the complete config and an init container', (t) => {
  t.true(files.includes('complete.yaml'));
  t.true(files.includes('init-once.yaml'));
  const methods = new Set<string>();
  for (const f of files) methods.add(/^\s*(?:method:|auth: \{ method:)\s*(\w+)/m.exec(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'))?.[1] ?? '');
  for (const m of AUTH_METHODS) t.true(methods.has(m), `no example uses auth method ${m}`);
});

for (const f of files) {
  test(`agent/examples/${f} loads with the agent's config parser and its templates check`, async (t) => {
    const cfg = await loadConfig(path.join(EXAMPLES, f));
    t.true(cfg.secrets.length > 0);
    for (const s of cfg.secrets) if (s.template !== undefined) t.notThrows(() => checkTemplate(s.template ?? ''), `${f}: ${s.path}`);
  });
}

test('complete.yaml sets every top-level and auth field the parser knows', async (t) => {
  const text = fs.readFileSync(path.join(EXAMPLES, 'complete.yaml'), 'utf8');
  for (const key of ['broker', 'listen', 'auth', 'secrets', 'exit_after_auth', 'revoke_on_shutdown', 'poll_interval', 'events', 'retry', 'log_level']) {
    t.regex(text, new RegExp(`^${key}:`, 'm'), key);
  }
  for (const key of ['address', 'ca_file', 'tls_skip_verify', 'timeout', 'method', 'mount', 'path', 'params', 'destination', 'mode', 'uid', 'gid', 'template', 'on_change', 'command', 'signal', 'pid_file']) {
    t.regex(text, new RegExp(`\\b${key}:`), key);
  }
  const cfg = await loadConfig(path.join(EXAMPLES, 'complete.yaml'));
  t.is(cfg.auth.method, 'approle');
  t.is(cfg.revokeOnShutdown, false);
  t.deepEqual(cfg.retry, { initialMs: 500, maxMs: 30_000 });
});

test("the README's complete agent config is agent/examples/complete.yaml, word for word", (t) => {
  const readme = fs.readFileSync(path.join(AGENT, '..', 'README.md'), 'utf8');
  const m = /<!-- agent-example: agent\/examples\/complete\.yaml -->\n```yaml\n([\s\S]*?)```/.exec(readme);
  t.truthy(m, 'README has no agent-example block for complete.yaml');
  t.is(m?.[1], fs.readFileSync(path.join(EXAMPLES, 'complete.yaml'), 'utf8'));
});

test('sealbox-agent --help lists the flags and points to the docs', (t) => {
  const r = spawnSync(process.execPath, [path.join(AGENT, 'bin', 'sealbox-agent.mjs'), '--help'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  for (const s of ['--config FILE', '--once', '--help', 'revoke_on_shutdown', 'README', 'agent/examples/complete.yaml']) t.true(r.stdout.includes(s), s);
});
