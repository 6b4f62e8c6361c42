// The README runs as written: every fenced block preceded by `<!-- readme-test -->` (```sh or ```js) runs, in the
// README's order, against ONE fresh dev broker (root token dev-root) and a throwaway PostgreSQL, in one scratch
// directory, so each example works from an empty store after the ones before it.
//
// What the harness changes, and nothing else:
//   - the addresses the README assumes are replaced by the real ones: http://127.0.0.1:8200 -> the broker,
//     127.0.0.1:5432 and `port: 5432` -> the PostgreSQL cluster;
//   - the environment has VAULT_ADDR, VAULT_TOKEN (as after the Quickstart), bin/ on PATH (as "Set up"
//     says), and PGHOST/PGPORT/PGUSER/PGPASSWORD for psql (as "Dynamic database credentials" says);
//   - sh blocks run under `set -euo pipefail` with `curl` meaning `curl --fail-with-body`, so an HTTP error fails;
//   - js blocks are ES modules run with node from a directory inside the project (so `node-vault` and `pg` resolve).
// SEALBOX_README=FILE runs another file's blocks (to show that a broken example fails this test).
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { PROJECT_ROOT, startBroker } from './helpers/broker.ts';
import { startPostgres } from './helpers/postgres.ts';

interface Block {
  lang: 'sh' | 'js';
  line: number;
  code: string;
}

const README = process.env.SEALBOX_README ?? path.join(PROJECT_ROOT, 'README.md');

/** The marked blocks, in order. */
export function markedBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '<!-- readme-test -->') continue;
    const fence = /^```(sh|js)\s*$/.exec(lines[i + 1] ?? '');
    if (!fence) throw new Error(`README.md:${i + 1}: <!-- readme-test --> must be followed by a \`\`\`sh or \`\`\`js fence`);
    const end = lines.findIndex((l, j) => j > i + 1 && l.startsWith('```'));
    if (end < 0) throw new Error(`README.md:${i + 2}: unterminated code block`);
    blocks.push({ lang: fence[1] as 'sh' | 'js', line: i + 2, code: lines.slice(i + 2, end).join('\n') });
    i = end;
  }
  return blocks;
}

function run(cmd: string, args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const timer = setTimeout(() => {
      out += `\n[killed after ${opts.timeoutMs} ms]`;
      p.kill('SIGKILL');
    }, opts.timeoutMs);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const hasPsql = ['/usr/bin', ...(process.env.PATH ?? '').split(':')].some((d) => d && fs.existsSync(path.join(d, 'psql')));
const hasTools = hasPsql && ['openssl', 'jq'].every((t) => (process.env.PATH ?? '/usr/bin').split(':').some((d) => d && fs.existsSync(path.join(d, t))));

(hasTools ? test : test.skip)('the README examples marked readme-test run in order against a fresh broker and PostgreSQL', async (t) => {
  const blocks = markedBlocks(await fsp.readFile(README, 'utf8'));
  t.true(blocks.length >= 8, `only ${blocks.length} marked blocks in ${README}`);
  const pg = await startPostgres();
  const b = await startBroker({ rootToken: 'dev-root' });
  t.teardown(() => b.stop());
  // Inside the project, so that `import 'node-vault'` in a js block resolves from node_modules.
  const cacheDir = path.join(PROJECT_ROOT, 'node_modules', '.cache');
  await fsp.mkdir(cacheDir, { recursive: true });
  const work = await fsp.mkdtemp(path.join(cacheDir, 'readme-test-'));
  t.teardown(() => fsp.rm(work, { recursive: true, force: true }));

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    VAULT_ADDR: b.address,
    VAULT_TOKEN: 'dev-root',
    PATH: `${path.join(PROJECT_ROOT, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    PGHOST: pg.host,
    PGPORT: String(pg.port),
    PGUSER: pg.user,
    PGPASSWORD: pg.password,
  };
  for (const k of ['SEALBOX_ADDR', 'SEALBOX_TOKEN', 'SEALBOX_CACERT', 'VAULT_CACERT', 'PGDATABASE']) delete env[k];
  const localize = (code: string): string =>
    code
      .replaceAll('http://127.0.0.1:8200', b.address)
      .replaceAll('127.0.0.1:5432', `${pg.host}:${pg.port}`)
      .replaceAll('port: 5432', `port: ${pg.port}`);

  for (const [i, block] of blocks.entries()) {
    const code = localize(block.code);
    let r;
    if (block.lang === 'sh') {
      const script = `set -euo pipefail\ncurl() { command curl --fail-with-body --show-error "$@"; }\n${code}\n`;
      r = await run('bash', ['-c', script], { cwd: work, env, timeoutMs: 90_000 });
    } else {
      const file = path.join(work, `block-${i + 1}.mjs`);
      await fsp.writeFile(file, `${code}\n`);
      r = await run(process.execPath, [file], { cwd: work, env, timeoutMs: 90_000 });
    }
    t.log(`${path.basename(README)}:${block.line} (${block.lang}) exit ${String(r.code)}`);
    if (r.code !== 0) {
      t.fail(`the ${block.lang} block at ${path.basename(README)}:${block.line} failed (exit ${String(r.code)}):\n${code}\n--- output ---\n${r.out}`);
      return;
    }
  }
  t.pass();
});

test('markedBlocks finds marked sh and js blocks only, and rejects a marker without a block', (t) => {
  const md = ['text', '<!-- readme-test -->', '```sh', 'echo a', '```', '```sh', 'echo unmarked', '```', '<!-- readme-test -->', '```js', 'x()', '```'].join('\n');
  t.deepEqual(markedBlocks(md), [
    { lang: 'sh', line: 3, code: 'echo a' },
    { lang: 'js', line: 10, code: 'x()' },
  ]);
  t.throws(() => markedBlocks('<!-- readme-test -->\nno fence'), { message: /must be followed by/ });
});
