#!/usr/bin/env node
// Compiles the TypeScript sources to JavaScript and prepares the PGlite data-directory template:
//   src/       -> dist/        (tsconfig.build.json: the broker and the `sealbox` CLI)
//   agent/src/ -> agent/dist/  (agent/tsconfig.build.json: `sealbox-agent`)
//   dist/pglite-template/      an initialised, empty PGlite data directory that the broker copies into a new
//                              data directory instead of running initdb in WASM on first start (seconds saved)
// Run by `npm ci` / `npm install` (the `prepare` script), `npm run build`, and scripts/test-run.mjs before every test
// run, so that the tests never run a stale dist/. A target is compiled again only when a source file, its tsconfig or the
// package.json is newer than its last build, or a file was added or removed; `--force` rebuilds everything.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argv = process.argv.slice(2);
const force = argv.includes('--force');
const quiet = argv.includes('--quiet');
// `--only broker` or `--only agent` (the container images); `--no-template` skips the PGlite template.
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
const withTemplate = !argv.includes('--no-template') && only !== 'agent';
const say = (msg) => {
  if (!quiet) process.stderr.write(`build: ${msg}\n`);
};

const targets = [
  { name: 'broker', tsconfig: 'tsconfig.build.json', src: 'src', out: 'dist', extra: ['tsconfig.json', 'package.json'] },
  { name: 'agent', tsconfig: 'agent/tsconfig.build.json', src: 'agent/src', out: 'agent/dist', extra: ['tsconfig.json', 'agent/tsconfig.json', 'agent/package.json'] },
];
const STAMP = '.build-stamp.json';

function listFiles(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** What a build depends on: the sources and the config files, with the newest modification time among them. */
function inputs(t) {
  const files = [...listFiles(path.join(root, t.src)), ...[t.tsconfig, ...t.extra].map((f) => path.join(root, f))];
  let newest = 0;
  for (const f of files) newest = Math.max(newest, fs.statSync(f).mtimeMs);
  return { files: files.map((f) => path.relative(root, f)), newest };
}

function upToDate(t, now) {
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(root, t.out, STAMP), 'utf8'));
    return stamp.builtAt >= now.newest && JSON.stringify(stamp.files) === JSON.stringify(now.files);
  } catch {
    return false;
  }
}

function tscPath() {
  const p = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  return fs.existsSync(p) ? p : null;
}

function compile(t) {
  const now = inputs(t);
  if (!force && upToDate(t, now)) return true;
  const tsc = tscPath();
  if (!tsc) {
    // `npm ci --omit=dev` has no compiler: keep a dist/ that is there, fail only when there is none.
    if (fs.existsSync(path.join(root, t.out))) return true;
    process.stderr.write(`build: typescript is not installed and ${t.out}/ is missing: run "npm ci" (with dev dependencies)\n`);
    return false;
  }
  const started = Date.now();
  // A clean output directory: a source file that was removed must not live on as a stale .js file.
  for (const e of fs.existsSync(path.join(root, t.out)) ? fs.readdirSync(path.join(root, t.out)) : []) {
    if (e !== 'pglite-template' && e !== 'pglite-template.json') fs.rmSync(path.join(root, t.out, e), { recursive: true, force: true });
  }
  const r = spawnSync(process.execPath, [tsc, '-p', t.tsconfig], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`build: tsc -p ${t.tsconfig} failed\n`);
    return false;
  }
  fs.writeFileSync(path.join(root, t.out, STAMP), `${JSON.stringify({ builtAt: started, files: now.files })}\n`);
  say(`${t.name}: ${t.src}/ -> ${t.out}/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

let ok = true;
for (const t of targets) if (!only || t.name === only) ok = compile(t) && ok;
if (!ok) process.exit(1);
if (!withTemplate) process.exit(0);

// The PGlite template, made by the compiled modules so that the broker and this script agree on layout and schema.
const template = await import(new URL('../dist/storage/pglite-template.js', import.meta.url).href);
const { createPgliteDb } = await import(new URL('../dist/storage/pglite-db.js', import.meta.url).href);
const { migrate } = await import(new URL('../dist/storage/migrate.js', import.meta.url).href);
const migrationsDir = path.join(root, 'migrations');
const made = await template.buildPgliteTemplate({
  force,
  migrations: fs.readdirSync(migrationsDir).filter((f) => f.endsWith('.sql')).sort(),
  async initialise(dir) {
    const db = await createPgliteDb(dir);
    try {
      await migrate(db, migrationsDir);
    } finally {
      await db.close();
    }
  },
});
if (made) say(`PGlite data-directory template ready in ${(made.ms / 1000).toFixed(1)} s (${made.version})`);
