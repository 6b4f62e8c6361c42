#!/usr/bin/env node
// Runs the compiled agent when `npm run build` made dist/ and it is newer than every source file (smaller and
// faster to start), else the TypeScript sources through tsx's loader, so `npx sealbox-agent` works right after
// `npm ci` with no build step.
import { readdirSync, statSync } from 'node:fs';
import { URL, fileURLToPath } from 'node:url';

const compiled = new URL('../dist/main.js', import.meta.url);
const srcDir = fileURLToPath(new URL('../src/', import.meta.url));

function builtAndFresh() {
  try {
    const built = statSync(compiled).mtimeMs;
    return readdirSync(srcDir).every((f) => statSync(srcDir + f).mtimeMs <= built);
  } catch {
    return false;
  }
}

if (builtAndFresh()) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/main.ts');
}
