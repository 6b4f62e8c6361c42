#!/usr/bin/env node
// Run ava in TAP mode, stream its output, and print a summary as the very last line:
//   "N passed, N failed"  or  "N passed, N failed, N skipped"  (skipped only when > 0; todo counts as skipped)
// Exit status is non-zero when any test failed, ava exited non-zero, or no test ran at all.
// Extra CLI args are passed to ava, e.g. `npm test -- test/harness.test.ts --match 'postgres*'`.
// No type checking here: that is `npm run typecheck`. The build (scripts/build.mjs: dist/, agent/dist/, the PGlite
// template) runs first and is skipped when it is up to date, so the broker and agent processes the tests start never
// run a stale dist/: they run what the sources say now.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const avaBin = path.join(root, 'node_modules', '.bin', 'ava');

const counts = { passed: 0, failed: 0, skipped: 0 };

/** Count one line of ava's TAP output. */
function countLine(line) {
  const m = /^(not )?ok\b(.*)$/.exec(line);
  if (!m) return;
  const rest = m[2] ?? '';
  // supertap appends the directive at the very end: "ok 3 - title # SKIP", "not ok 4 - title # TODO"
  const directive = /\s#\s*(SKIP|TODO)\b[^#]*$/i.exec(rest);
  if (directive) counts.skipped++;
  else if (m[1]) counts.failed++;
  else counts.passed++;
}

const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (build.status !== 0) {
  process.stderr.write('test-run: the build failed (scripts/build.mjs); no test was run\n');
  process.exitCode = 1;
  process.stdout.write('0 passed, 1 failed\n');
  process.exit();
}

const child = spawn(avaBin, ['--tap', ...process.argv.slice(2)], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'pipe'],
  env: process.env,
});

let spawnError;
child.on('error', (err) => {
  spawnError = err;
});

let rest = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  rest += chunk.toString('utf8');
  let nl;
  while ((nl = rest.indexOf('\n')) >= 0) {
    countLine(rest.slice(0, nl).replace(/\r$/, ''));
    rest = rest.slice(nl + 1);
  }
});
child.stderr.on('data', (chunk) => {
  process.stderr.write(chunk);
});

// Forward interrupts to ava so it can stop its workers; we still print the summary afterwards.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  });
}

const exit = await new Promise((resolve) => {
  child.on('exit', (code, signal) => resolve({ code, signal }));
  child.on('error', () => resolve({ code: null, signal: null }));
});

// 'exit' can come before the pipes are drained. Wait for them to close, but not forever: a grandchild that
// inherited ava's stdout (a stray broker) could keep them open.
const streamsClosed = Promise.all(
  [child.stdout, child.stderr].map(
    (s) => new Promise((resolve) => (s.closed || s.destroyed ? resolve() : s.once('close', resolve))),
  ),
);
let timer;
const drained = await Promise.race([
  streamsClosed.then(() => true),
  new Promise((resolve) => {
    timer = setTimeout(() => resolve(false), 3000);
  }),
]);
clearTimeout(timer);
if (!drained) {
  child.stdout.destroy();
  child.stderr.destroy();
}
if (rest.length > 0) {
  countLine(rest.replace(/\r$/, ''));
  rest = '';
}

const avaFailed = spawnError !== undefined || exit.code !== 0;
if (spawnError) process.stderr.write(`test-run: could not start ${avaBin}: ${spawnError.message}\n`);
if (avaFailed && counts.failed === 0) {
  process.stderr.write(
    `test-run: ava exited with ${exit.signal ? `signal ${exit.signal}` : `code ${String(exit.code)}`} without a failing test line; counting it as 1 failure\n`,
  );
  counts.failed = 1;
}
if (counts.passed + counts.failed === 0) {
  process.stderr.write('test-run: no tests ran; counting that as 1 failure\n');
  counts.failed = 1;
}

let summary = `${counts.passed} passed, ${counts.failed} failed`;
if (counts.skipped > 0) summary += `, ${counts.skipped} skipped`;

// Last line of output. Let Node flush stdout and exit on its own (process.exit() could truncate a pipe).
process.exitCode = counts.failed > 0 ? 1 : 0;
process.stdout.write(`${summary}\n`);
