// Bundles the web console (ui/src/ -> ui/dist/): one script, one stylesheet and index.html, with Preact and uPlot
// inside the bundle (dev dependencies: the broker itself only serves these files, src/http/ui-static.ts).
// Called by scripts/build.mjs; rebuilt only when a file under ui/src/ (or this script) is newer than the last build.
import fs from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { URL } from 'node:url';

const STAMP = '.build-stamp.json';

function newest(dir) {
  let n = 0;
  const files = [];
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        files.push(p);
        n = Math.max(n, fs.statSync(p).mtimeMs);
      }
    }
  };
  walk(dir);
  return { n, files: files.sort() };
}

/** Returns true when ui/dist/ is up to date (built now or before); false when it cannot be built. */
export async function buildUi({ root, esbuild, force, say }) {
  const src = path.join(root, 'ui', 'src');
  const out = path.join(root, 'ui', 'dist');
  if (!fs.existsSync(src)) return true;
  const { n, files } = newest(src);
  const inputsNewest = Math.max(n, fs.statSync(new URL(import.meta.url)).mtimeMs);
  const rel = files.map((f) => path.relative(root, f));
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(out, STAMP), 'utf8'));
    if (!force && stamp.builtAt >= inputsNewest && JSON.stringify(stamp.files) === JSON.stringify(rel)) return true;
  } catch {
    // not built yet
  }
  if (!esbuild) return fs.existsSync(out);
  const started = Date.now();
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  try {
    await esbuild.build({
      entryPoints: { app: path.join(src, 'main.tsx') },
      outdir: out,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['chrome110', 'firefox110', 'safari16'],
      minify: true,
      sourcemap: true,
      jsx: 'automatic',
      jsxImportSource: 'preact',
      legalComments: 'linked',
      logLevel: 'silent',
    });
  } catch (err) {
    process.stderr.write(`build: ui/src/ does not compile:\n${err.message}\n`);
    return false;
  }
  fs.copyFileSync(path.join(src, 'index.html'), path.join(out, 'index.html'));
  fs.writeFileSync(path.join(out, STAMP), `${JSON.stringify({ builtAt: started, files: rel })}\n`);
  say(`ui: ui/src/ -> ui/dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return true;
}
