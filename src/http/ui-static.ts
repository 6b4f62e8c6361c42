import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Middleware } from 'koa';

/**
 * The web console's Content-Security-Policy: only this origin's script and stylesheet, API calls to this origin,
 * no inline script, no framing, no plugins. The bundle has no inline code (esbuild writes app.js and app.css).
 */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** ui/dist/, beside src/ and dist/ alike (this file is src/http/ or dist/http/). */
export const UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'ui', 'dist');

/**
 * GET /ui/ and /ui/<file>: the console's built files (scripts/build-ui.mjs), nothing else. Unknown names and
 * anything outside ui/dist/ are 404; a missing build is a 404 that says how to build it.
 */
export function createUiStatic(dir: string = UI_DIR): Middleware {
  return async (ctx) => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      ctx.body = { errors: ['method not allowed'] };
      return;
    }
    if (ctx.path === '/ui') {
      ctx.redirect('/ui/');
      return;
    }
    const name = ctx.path === '/ui/' ? 'index.html' : ctx.path.slice('/ui/'.length);
    // Flat names only: the build writes no subdirectories, so "/", "\\" and ".." never name a file here.
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,100}$/.test(name) || name.includes('..') || name.startsWith('.')) {
      ctx.status = 404;
      ctx.body = { errors: [] };
      return;
    }
    const type = TYPES[path.extname(name)];
    let body: Buffer;
    try {
      if (!type) throw new Error('type');
      body = await fs.readFile(path.join(dir, name));
    } catch {
      ctx.status = 404;
      ctx.body = { errors: name === 'index.html' ? ['the console is not built: run "npm run build"'] : [] };
      return;
    }
    ctx.set('Content-Security-Policy', UI_CSP);
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.type = type;
    ctx.body = body;
  };
}
