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
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** `<repo>/dist/pglite-template`, from both `src/storage/` (tsx) and `dist/storage/` (compiled). */
const TEMPLATE_DIR = fileURLToPath(new URL('../../dist/pglite-template/', import.meta.url));
const MARKER = fileURLToPath(new URL('../../dist/pglite-template.json', import.meta.url));
/** The same cluster as one tar file (PGlite's `dumpDataDir`), loaded into an in-memory PGlite without touching disk. */
const TARBALL = fileURLToPath(new URL('../../dist/pglite-template.tar', import.meta.url));

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

/** The template as a tarball for `new PGlite('memory://', { loadDataDir })`, or null when none matches this PGlite. */
export async function templateTarball(): Promise<Blob | null> {
  const marker = await readMarker();
  if (marker === null || marker.pglite !== (await installedPgliteVersion())) return null;
  try {
    return new Blob([await readFile(TARBALL)], { type: 'application/x-tar' });
  } catch {
    return null;
  }
}

const TEMPLATE_DATABASE_OIDS = [1, 4];

/**
 * Writes `dist/pglite-template.tar` from the template directory unless it is there and newer than the marker.
 * `dump` opens a copy of the template and returns PGlite's `dumpDataDir('none')` of it.
 */
export async function buildPgliteTarball(dump: (dir: string) => Promise<Uint8Array>, force = false): Promise<boolean> {
  const [tar, marker] = await Promise.all([stat(TARBALL).catch(() => null), stat(MARKER).catch(() => null)]);
  if (marker === null) return false;
  if (!force && tar !== null && tar.mtimeMs >= marker.mtimeMs) return false;
  const copy = `${TEMPLATE_DIR.replace(/\/$/, '')}.dump-${process.pid}`;
  await rm(copy, { recursive: true, force: true });
  try {
    await cp(TEMPLATE_DIR, copy, { recursive: true });
    // Without template1 and template0 (base/1, base/4: fixed OIDs since PostgreSQL 15): an in-memory cluster never
    // runs CREATE DATABASE, and their 600 files were half of what each load copies into memory (~0.35 CPU-s a start).
    for (const oid of TEMPLATE_DATABASE_OIDS) await rm(`${copy}/base/${oid}`, { recursive: true, force: true });
    const bytes = await dump(copy);
    await writeFile(`${TARBALL}.tmp`, bytes);
    await rename(`${TARBALL}.tmp`, TARBALL);
  } finally {
    await rm(copy, { recursive: true, force: true });
  }
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
  await rm(TARBALL, { force: true });
  const tmp = `${TEMPLATE_DIR.replace(/\/$/, '')}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await opts.initialise(tmp);
  await rm(TEMPLATE_DIR, { recursive: true, force: true });
  await rename(tmp, TEMPLATE_DIR);
  await writeFile(MARKER, `${JSON.stringify({ pglite: version, migrations: opts.migrations } satisfies Marker)}\n`);
  return { ms: Date.now() - started, version };
}
