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
// dist/ has source maps; `NODE_OPTIONS=--enable-source-maps` makes stack traces name the TypeScript sources (off by
// default: loading the maps of every module costs about a third of a second at start).
await import(entry.href);
