/**
 * Atomic file writes: a temp file in the destination's directory, created exclusively and never more permissive
 * than the final mode (then fchmod to exactly that mode and fchown), written, fsynced, renamed over the
 * destination, and the directory fsynced. A reader sees the old file or the new one, never a partial or
 * briefly world-readable one.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

export interface WriteSpec {
  destination: string;
  mode: number;
  uid: number | undefined;
  gid: number | undefined;
}

function tempName(destination: string): string {
  return path.join(path.dirname(destination), `.${path.basename(destination)}.tmp-${randomBytes(6).toString('hex')}`);
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, fs.constants.O_RDONLY);
  try {
    await h.sync();
  } catch (err) {
    // Some file systems refuse fsync on a directory; the rename itself already happened.
    if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
  } finally {
    await h.close();
  }
}

export async function writeFileAtomic(spec: WriteSpec, content: string | Uint8Array): Promise<void> {
  const tmp = tempName(spec.destination);
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;
  // Created with the final mode (the umask can only remove bits), so it is never more readable than it ends up.
  const h = await fsp.open(tmp, flags, spec.mode);
  let renamed = false;
  try {
    if (spec.uid !== undefined || spec.gid !== undefined) await h.chown(spec.uid ?? -1, spec.gid ?? -1);
    await h.chmod(spec.mode);
    await h.writeFile(content);
    await h.sync();
    await h.close();
    await fsp.rename(tmp, spec.destination);
    renamed = true;
    await fsyncDir(path.dirname(spec.destination));
  } finally {
    if (!renamed) {
      await h.close().catch(() => {});
      await fsp.unlink(tmp).catch(() => {});
    }
  }
}

/** Remove the destination (an expired credential must not linger), fsync the directory. */
export async function removeFile(destination: string): Promise<boolean> {
  try {
    await fsp.unlink(destination);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await fsyncDir(path.dirname(destination)).catch(() => {});
  return true;
}

/** Current content of the destination, or undefined if there is none. */
export async function readCurrent(destination: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(destination);
  } catch {
    return undefined;
  }
}

/**
 * Start-up check that a destination can be written: its directory exists and accepts a file (probed with an
 * empty temp file that is removed at once), and the destination itself is not a directory. Throws a message
 * that says what is wrong.
 */
export async function checkDestination(spec: WriteSpec): Promise<void> {
  const dir = path.dirname(spec.destination);
  let st: fs.Stats;
  try {
    st = await fsp.stat(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`directory ${dir} ${code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a directory' : `cannot be used (${code ?? 'error'})`}`);
  }
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  const existing = await fsp.lstat(spec.destination).catch(() => undefined);
  if (existing?.isDirectory()) throw new Error(`${spec.destination} is a directory`);
  const probe = tempName(spec.destination);
  try {
    const h = await fsp.open(probe, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o400);
    try {
      if (spec.uid !== undefined || spec.gid !== undefined) await h.chown(spec.uid ?? -1, spec.gid ?? -1);
    } finally {
      await h.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`cannot write in ${dir} (${code ?? (err as Error).message})`);
  } finally {
    await fsp.unlink(probe).catch(() => {});
  }
}
