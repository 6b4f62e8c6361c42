/**
 * A pre-initialised PGlite data directory, made once at build time (scripts/build.mjs) in `dist/pglite-template/`.
 * PGlite's first open of an empty directory runs initdb in WASM (2.5–4.6 s on a quiet 2-core machine, far more under
 * load); copying the template's files instead turns the first start into a reopen (about 0.2 s). The template holds an
 * empty cluster with the migrations of its build applied (they are half of what is left of a first start); the broker
 * still runs `migrate` at boot as on every start, which applies any migration newer than the template.
 *
 * The template is used only when it was made by the PGlite version that is installed now; otherwise (or when it is
 * missing: a source checkout that was never built) the broker falls back to PGlite's own initdb.
 */
import { cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** `<repo>/dist/pglite-template`, from both `src/storage/` (tsx) and `dist/storage/` (compiled). */
const TEMPLATE_DIR = fileURLToPath(new URL('../../dist/pglite-template/', import.meta.url));
const MARKER = fileURLToPath(new URL('../../dist/pglite-template.json', import.meta.url));

interface Marker {
  pglite: string;
  /** The migration files applied to the template. */
  migrations: string[];
}

/** The installed @electric-sql/pglite version, read from its package.json next to its entry point. */
async function installedPgliteVersion(): Promise<string> {
  const entry = import.meta.resolve('@electric-sql/pglite');
  const pkg = JSON.parse(await readFile(new URL('../package.json', entry), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

async function readMarker(): Promise<Marker | null> {
  try {
    const m = JSON.parse(await readFile(MARKER, 'utf8')) as Partial<Marker>;
    if (typeof m.pglite !== 'string' || !Array.isArray(m.migrations)) return null;
    return { pglite: m.pglite, migrations: m.migrations.filter((x): x is string => typeof x === 'string') };
  } catch {
    return null;
  }
}

async function isEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length === 0;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

/**
 * Fills an empty (or absent) PGlite data directory from the template. Returns false, touching nothing, when the
 * directory already has files or no usable template exists.
 */
export async function seedFromTemplate(dir: string): Promise<boolean> {
  if (!(await isEmptyDir(dir))) return false;
  const marker = await readMarker();
  if (marker === null || marker.pglite !== (await installedPgliteVersion())) return false;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await cp(TEMPLATE_DIR, dir, { recursive: true, errorOnExist: true, force: false });
  return true;
}

export interface TemplateBuild {
  /** The migration files that exist now (their names), which the template must have applied. */
  migrations: string[];
  /** Opens `dir` as a new PGlite data directory, applies the migrations and closes it. */
  initialise(dir: string): Promise<void>;
  force?: boolean;
}

/**
 * Makes `dist/pglite-template/` unless a template for the installed PGlite version and these migrations is there
 * already. Returns how long it took and the version, or null when nothing had to be done.
 */
export async function buildPgliteTemplate(opts: TemplateBuild): Promise<{ ms: number; version: string } | null> {
  const version = await installedPgliteVersion();
  const marker = await readMarker();
  const current = marker?.pglite === version && JSON.stringify(marker.migrations) === JSON.stringify(opts.migrations);
  if (!opts.force && current && !(await isEmptyDir(TEMPLATE_DIR))) return null;
  const started = Date.now();
  // Without a marker, seedFromTemplate ignores the old template, so `initialise` runs a real initdb.
  await rm(MARKER, { force: true });
  const tmp = `${TEMPLATE_DIR.replace(/\/$/, '')}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await opts.initialise(tmp);
  await rm(TEMPLATE_DIR, { recursive: true, force: true });
  await rename(tmp, TEMPLATE_DIR);
  await writeFile(MARKER, `${JSON.stringify({ pglite: version, migrations: opts.migrations } satisfies Marker)}\n`);
  return { ms: Date.now() - started, version };
}
