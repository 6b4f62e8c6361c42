// A data directory made by `initdb` once per machine, copied for each throwaway cluster (issue 16: the suite's time).
// initdb's bootstrap costs about a second of CPU on a quiet machine, and many times that under load; each test
// process used to pay it. Copying the template's 39 MB costs a tenth of it. Each cluster still gets its own copy,
// its own port, socket directory and log, so nothing is shared at run time.
//
// The first process to need the template builds it under a lock directory (mkdir is atomic); a process that finds
// the lock taken does not wait for it: it runs its own initdb, as before. A lock left by a process that died is
// taken over after STALE_MS. The template records the superuser password it was made with.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface PgTemplate {
  /** The template's data directory (owned by the postgres OS user when we are root). */
  readonly dataDir: string;
  readonly password: string;
}

export interface TemplateDeps {
  /** Where templates live (`/tmp` as root, so that the postgres user can read them). */
  base: string;
  /** Server major version: part of the template's name. */
  major: number;
  /** Run initdb for `dataDir` with this password file (as the postgres OS user when root). */
  initdb(dataDir: string, pwFile: string): Promise<void>;
  /** Make `dir` (and what is in it) usable by the postgres OS user. */
  own(dir: string): Promise<void>;
  randomHex(bytes: number): string;
}

const VERSION = 1; // bump when the initdb flags change
const STALE_MS = 5 * 60_000;

/** The machine's template, building it if no other process is doing so; undefined means "run initdb yourself". */
export async function pgTemplate(deps: TemplateDeps): Promise<PgTemplate | undefined> {
  const dir = path.join(deps.base, `sealbox-pg-template-${deps.major}-v${VERSION}`);
  const ready = await readTemplate(dir);
  if (ready) return ready;
  const lock = `${dir}.lock`;
  if (!(await takeLock(lock))) return undefined;
  const build = `${dir}.build-${process.pid}`;
  try {
    // Another process may have finished between our read and our lock.
    const again = await readTemplate(dir);
    if (again) return again;
    await fsp.rm(build, { recursive: true, force: true });
    await fsp.mkdir(build, { mode: 0o755 });
    await fsp.chmod(build, 0o755);
    const password = deps.randomHex(16);
    const pwFile = path.join(build, 'pwfile');
    await fsp.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    for (const p of [build, pwFile]) await deps.own(p);
    await deps.initdb(path.join(build, 'data'), pwFile);
    await fsp.rm(pwFile, { force: true });
    await fsp.writeFile(path.join(build, 'password'), password, { mode: 0o600 });
    await fsp.rm(dir, { recursive: true, force: true });
    await fsp.rename(build, dir);
    return await readTemplate(dir);
  } catch {
    await fsp.rm(build, { recursive: true, force: true }).catch(() => {});
    return undefined;
  } finally {
    await fsp.rm(lock, { recursive: true, force: true }).catch(() => {});
  }
}

async function readTemplate(dir: string): Promise<PgTemplate | undefined> {
  try {
    const password = await fsp.readFile(path.join(dir, 'password'), 'utf8');
    const dataDir = path.join(dir, 'data');
    if (!password || !fs.existsSync(path.join(dataDir, 'PG_VERSION'))) return undefined;
    return { dataDir, password };
  } catch {
    return undefined;
  }
}

async function takeLock(lock: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fsp.mkdir(lock);
      return true;
    } catch {
      const st = await fsp.stat(lock).catch(() => undefined);
      if (!st || Date.now() - st.mtimeMs < STALE_MS) return false;
      await fsp.rm(lock, { recursive: true, force: true }).catch(() => {});
    }
  }
  return false;
}
