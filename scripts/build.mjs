#!/usr/bin/env node
// Compiles the TypeScript sources to JavaScript (esbuild, one .js and .js.map per .ts file, `.ts` import specifiers
// rewritten to `.js`) and prepares the PGlite data-directory template:
//   src/       -> dist/        the broker and the `sealbox` CLI
//   src/cli/main.ts -> dist/bundle/  the same, bundled (what bin/sealbox.mjs runs: fewer files to load at start)
//   agent/src/ -> agent/dist/  `sealbox-agent`
//   agent/src/main.ts -> agent/dist/bundle/  the same, bundled (what agent/bin/sealbox-agent.mjs and the image run:
//                              zod/mini tree-shaken into it, a fraction of the memory of its whole modules)
//   ui/src/    -> ui/dist/     the web console (scripts/build-ui.mjs: one bundle with Preact and uPlot)
//   dist/pglite-template/      an initialised, empty PGlite data directory that the broker copies into a new
//                              data directory instead of running initdb in WASM on first start (seconds saved)
// Run by `npm ci` / `npm install` (the `prepare` script), `npm run build`, and scripts/test-run.mjs before every test
// run, so that the tests never run a stale dist/. A target is compiled again only when a source file, its
// package.json (or this script) is newer than its last build, or a file was added or removed; `--force` rebuilds everything.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { URL, fileURLToPath } from 'node:url';

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
  { name: 'broker', src: 'src', out: 'dist', extra: ['package.json', 'scripts/build.mjs'], bundle: { entry: 'src/cli/main.ts', out: 'dist/bundle' } },
  { name: 'agent', src: 'agent/src', out: 'agent/dist', extra: ['agent/package.json', 'scripts/build.mjs'], bundle: { entry: 'agent/src/main.ts', out: 'agent/dist/bundle' } },
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
  const files = [...listFiles(path.join(root, t.src)).filter((f) => !f.endsWith('.test.ts')), ...t.extra.map((f) => path.join(root, f))];
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

/** esbuild (a dependency of tsx; a dev dependency), or null under `npm ci --omit=dev`. */
async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch {
    return null;
  }
}

// The sources import each other with `.ts` extensions (run as they are by tsx). In the output they name `.js` files:
// the same length, so the source maps stay exact. esbuild always prints module specifiers in double quotes.
const TS_SPECIFIER = /(\b(?:from|import)\s*\(?\s*)"(\.{1,2}\/[^"\n]*?)\.ts"/g;

async function compile(t, esbuild) {
  const now = inputs(t);
  if (!force && upToDate(t, now)) return true;
  const outDir = path.join(root, t.out);
  if (!esbuild) {
    // `npm ci --omit=dev` has no compiler: keep a dist/ that is there, fail only when there is none.
    if (fs.existsSync(outDir)) return true;
    process.stderr.write(`build: esbuild is not installed and ${t.out}/ is missing: run "npm ci" (with dev dependencies)\n`);
    return false;
  }
  const started = Date.now();
  const srcDir = path.join(root, t.src);
  // Unit tests beside their modules (`*.test.ts`) run from the sources under tsx; they are not part of dist/.
  const entryPoints = now.files
    .filter((f) => f.startsWith(`${t.src}/`) && f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.endsWith('.test.ts'))
    .map((f) => path.join(root, f));
  let result;
  try {
    // One output file per source file, the same layout as the sources (so `new URL('../migrations/', import.meta.url)`
    // and friends resolve alike from src/ and dist/). Types are checked by `npm run typecheck`, not here.
    result = await esbuild.build({
      entryPoints,
      outdir: outDir,
      outbase: srcDir,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: true,
      bundle: false,
      write: false,
      logLevel: 'silent',
    });
  } catch (err) {
    process.stderr.write(`build: ${t.src}/ does not compile:\n${err.message}\n`);
    return false;
  }
  // A clean output directory: a source file that was removed must not live on as a stale .js file.
  for (const e of fs.existsSync(outDir) ? fs.readdirSync(outDir) : []) {
    if (e !== 'pglite-template' && e !== 'pglite-template.json' && e !== 'pglite-template.tar') fs.rmSync(path.join(outDir, e), { recursive: true, force: true });
  }
  for (const o of result.outputFiles) {
    fs.mkdirSync(path.dirname(o.path), { recursive: true });
    fs.writeFileSync(o.path, o.path.endsWith('.js') ? o.text.replace(TS_SPECIFIER, '$1"$2.js"') : o.contents);
  }
  if (t.bundle && !(await bundle(t, esbuild))) return false;
  fs.writeFileSync(path.join(outDir, STAMP), `${JSON.stringify({ builtAt: started, files: now.files })}\n`);
  say(`${t.name}: ${t.src}/ -> ${t.out}/ (${entryPoints.length} files) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}

// What stays outside the bundle: PGlite finds its .wasm and .data beside its own module; pino's transports start
// worker threads from their own files; OpenTelemetry is imported only when tracing is on; pg-native is optional.
const BUNDLE_EXTERNAL = ['@electric-sql/pglite', 'pino', 'pg-native', '@opentelemetry/*'];

/**
 * The `sealbox` command as one ES module and its lazily loaded chunks (`bin/sealbox.mjs` runs it): Node then reads and
 * compiles a few large files instead of about 260 of ours and the many of koa, zod, pg and friends (broker start-up,
 * issue 17). The agent likewise (`agent/bin/sealbox-agent.mjs` and the image run it): there the point is memory, since
 * only the parts of zod/mini the agent calls are in it (zod/mini from node_modules loads all of zod's core: in
 * `npm run bench:agent` 52.5 MB of RSS file by file, 49.4 MB bundled); yaml (CommonJS, so whole) is a chunk loaded only
 * for a YAML config. Each `import.meta.url` in a source file is rewritten to the URL its per-file output in dist/ has, so that
 * `new URL('../migrations/', import.meta.url)` and friends resolve the same from the bundle as from dist/ and src/.
 */
async function bundle(t, esbuild) {
  const outdir = path.join(root, t.bundle.out);
  const srcDir = path.join(root, t.src);
  const metaUrl = {
    name: 'sealbox-import-meta-url',
    setup(b) {
      b.onLoad({ filter: /\.ts$/ }, async (args) => {
        let contents = await fs.promises.readFile(args.path, 'utf8');
        if (contents.includes('import.meta.url') && args.path.startsWith(srcDir + path.sep)) {
          const asDist = path.join(root, t.out, path.relative(srcDir, args.path)).replace(/\.ts$/, '.js');
          const rel = path.relative(outdir, asDist).split(path.sep).join('/');
          contents = contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
        }
        return { contents, loader: 'ts' };
      });
    },
  };
  try {
    await esbuild.build({
      entryPoints: { main: path.join(root, t.bundle.entry) },
      outdir,
      bundle: true,
      splitting: true,
      chunkNames: 'chunk-[hash]',
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: true,
      external: BUNDLE_EXTERNAL,
      // CommonJS dependencies inside an ES module bundle still call require() for Node's built-in modules.
      banner: { js: "import { createRequire as __sealboxCreateRequire } from 'node:module'; const require = __sealboxCreateRequire(import.meta.url);" },
      plugins: [metaUrl],
      logLevel: 'silent',
    });
  } catch (err) {
    process.stderr.write(`build: ${t.bundle.entry} does not bundle:\n${err.message}\n`);
    return false;
  }
  return true;
}

// One build at a time per checkout: two `npm test` runs started together must not both rewrite dist/.
const LOCK = path.join(root, 'node_modules', '.cache', 'sealbox-build.lock');
function lock() {
  fs.mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      fs.writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      return;
    } catch (e) {
      if (e.code !== 'EEXIST') throw e;
    }
    let holder = NaN;
    try {
      holder = Number(fs.readFileSync(path.join(LOCK, 'pid'), 'utf8'));
    } catch {
      // being created or removed
    }
    let alive = true;
    if (Number.isInteger(holder) && holder > 0) {
      try {
        process.kill(holder, 0);
      } catch {
        alive = false;
      }
    }
    if (!alive) fs.rmSync(LOCK, { recursive: true, force: true });
    else if (Date.now() > deadline) throw new Error(`build: ${LOCK} is held by PID ${holder}`);
    else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}
lock();
process.on('exit', () => fs.rmSync(LOCK, { recursive: true, force: true }));

const esbuild = await loadEsbuild();
let ok = true;
for (const t of targets) if (!only || t.name === only) ok = (await compile(t, esbuild)) && ok;
// The web console's bundle (ui/dist/), beside the broker.
if (!only || only === 'broker') ok = (await (await import('./build-ui.mjs')).buildUi({ root, esbuild, force, say })) && ok;
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
    // The lock file goes beside the new directory (released on close), not into the template itself.
    const db = await createPgliteDb(dir, path.dirname(dir));
    try {
      await migrate(db, migrationsDir);
    } finally {
      await db.close();
    }
  },
});
if (made) say(`PGlite data-directory template ready in ${(made.ms / 1000).toFixed(1)} s (${made.version})`);
// The same template as one tarball, for in-memory clusters (the test harness's default).
const { PGlite } = await import('@electric-sql/pglite');
const tarred = await template.buildPgliteTarball(async (dir) => {
  const pg = await PGlite.create(dir);
  try {
    return new Uint8Array(await (await pg.dumpDataDir('none')).arrayBuffer());
  } finally {
    await pg.close();
  }
}, force);
if (tarred) say('PGlite template tarball ready (dist/pglite-template.tar)');
