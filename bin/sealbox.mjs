#!/usr/bin/env node
// The `sealbox` command: the compiled CLI in dist/ (made by `npm ci` through the `prepare` script, or `npm run build`).
// No TypeScript loader at run time. Run this file directly (bin/sealbox links to it), not through npx: npx does not
// pass SIGTERM on to the broker.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

// The bundle (dist/bundle/, made with dist/ by scripts/build.mjs) when it is there: it starts faster than dist/cli/.
const bundled = new URL('../dist/bundle/main.js', import.meta.url);
const entry = existsSync(bundled) ? bundled : new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('sealbox: dist/ is missing: run "npm run build" (npm ci runs it too)\n');
  process.exit(1);
}
// `sealbox server` on the embedded database spends most of its start in PGlite's WASM start: its worker thread
// starts here, before the broker's modules load, and opens the data directory once the configuration names it
// (src/storage/pglite-thread-db.ts takes it; a broker on PostgreSQL ends it).
const pgliteWorker = new URL('../dist/storage/pglite-worker.js', import.meta.url);
if (process.argv[2] === 'server' && existsSync(pgliteWorker)) {
  const { Worker } = await import('node:worker_threads');
  const w = new Worker(pgliteWorker);
  w.unref();
  w.on('error', () => undefined); // reported by the broker when it takes the worker
  globalThis[Symbol.for('sealbox.pglite-worker')] = w;
}
// dist/ has source maps; `NODE_OPTIONS=--enable-source-maps` makes stack traces name the TypeScript sources (off by
// default: loading the maps of every module costs about a third of a second at start).
await import(entry.href);
