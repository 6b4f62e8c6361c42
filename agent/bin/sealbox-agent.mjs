#!/usr/bin/env node
// The `sealbox-agent` command: the compiled agent in agent/dist/ (made by `npm ci` through the root `prepare` script,
// or `npm run build`). No TypeScript loader at run time. Run this file directly (bin/sealbox-agent links to it), not
// through npx: npx does not pass SIGTERM on, and the agent revokes its leases only when it gets it.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

// The bundle (agent/dist/bundle/, made with agent/dist/ by scripts/build.mjs) when it is there: zod/mini is tree-shaken
// into it, which costs a fraction of the memory of loading its modules from node_modules.
const bundled = new URL('../dist/bundle/main.js', import.meta.url);
const entry = existsSync(bundled) ? bundled : new URL('../dist/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('sealbox-agent: agent/dist/ is missing: run "npm run build" in the repository root (npm ci runs it too)\n');
  process.exit(1);
}
// dist/ has source maps; `NODE_OPTIONS=--enable-source-maps` makes stack traces name the TypeScript sources (off by
// default: loading the maps of every module costs about a third of a second at start).
await import(entry.href);
