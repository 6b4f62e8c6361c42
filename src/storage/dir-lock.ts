/**
 * An exclusive lock on the embedded store's data directory: PGlite is one process's files, and a second process
 * opening them splits the brain and corrupts them. The lock is a file created with O_EXCL that names its holder by
 * PID *and* process start time (and the kernel boot id), so that a lock left by a crashed holder is recognised as
 * stale even when its PID has since been reused by another process. Taking over a stale lock is itself serialised by
 * a second O_EXCL file, so two processes that find the same stale lock cannot both take it.
 */
import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export class DirLockedError extends Error {}

interface Holder {
  pid: number;
  /** Start time of the process in clock ticks since boot (field 22 of /proc/<pid>/stat); null where /proc is absent. */
  start: number | null;
  /** /proc/sys/kernel/random/boot_id: a start time means nothing after a reboot. */
  boot: string | null;
}

export interface DirLock {
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

const LOCK = 'sealbox.lock';
/** A take-over file older than this belongs to a process that died while taking over: it may be removed. */
const BREAK_STALE_MS = 10_000;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The start time of a live process, or null if there is no such process (or no /proc to ask). */
export function processStart(pid: number): number | null {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === null) return null;
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses: split after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : null;
}

const bootId = (): string | null => readText('/proc/sys/kernel/random/boot_id')?.trim() ?? null;

function self(): Holder {
  return { pid: process.pid, start: processStart(process.pid), boot: bootId() };
}

function parse(text: string | null): Holder | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Partial<Holder>;
    if (typeof v.pid !== 'number' || !Number.isInteger(v.pid) || v.pid <= 0) return null;
    return { pid: v.pid, start: typeof v.start === 'number' ? v.start : null, boot: typeof v.boot === 'string' ? v.boot : null };
  } catch {
    return null;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the recorded holder is still the very process that wrote the lock. */
function alive(h: Holder): boolean {
  const me = self();
  if (h.boot !== null && me.boot !== null && h.boot !== me.boot) return false;
  // Our own PID: either this very process holds it already, or a dead process had our PID before us.
  if (h.pid === process.pid) return h.start !== null && h.start === me.start;
  if (me.start !== null) {
    // With /proc: the PID must exist and have started when the holder did (a reused PID started later).
    const start = processStart(h.pid);
    return start !== null && (h.start === null || start === h.start);
  }
  return pidExists(h.pid);
}

function createExclusive(path: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function heldMessage(dir: string, h: Holder | null): string {
  const who = h ? `process ${h.pid}` : 'another process';
  return `the data directory ${dir} is in use by ${who} (lock file ${join(dir, LOCK)}); the embedded store serves one process only: stop that process, or use PostgreSQL (SEALBOX_DATABASE_URL) for replicas`;
}

/** Replaces a stale lock under the take-over file; false when another process is taking over right now. */
function takeOver(path: string, staleText: string, mine: string): boolean {
  const breaker = `${path}.takeover`;
  if (!createExclusive(breaker, mine)) {
    try {
      if (Date.now() - statSync(breaker).mtimeMs > BREAK_STALE_MS) unlinkSync(breaker);
    } catch {
      // gone meanwhile
    }
    return false;
  }
  try {
    // Under the take-over file nobody else replaces the lock; check it is still the stale one we judged.
    if (readText(path) !== staleText) return false;
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, mine, { mode: 0o600 });
    renameSync(tmp, path);
    return true;
  } finally {
    unlinkSync(breaker);
  }
}

/** Takes the lock on `dir` or throws DirLockedError naming the directory and the holder's PID. */
export function lockDataDir(dir: string): DirLock {
  const path = join(dir, LOCK);
  const mine = `${JSON.stringify(self())}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    if (createExclusive(path, mine)) return { release: () => releaseIfMine(path, mine) };
    const text = readText(path);
    if (text === null) continue; // released meanwhile
    const holder = parse(text);
    if (holder && alive(holder)) throw new DirLockedError(heldMessage(dir, holder));
    if (takeOver(path, text, mine)) return { release: () => releaseIfMine(path, mine) };
  }
  throw new DirLockedError(heldMessage(dir, parse(readText(path))));
}

function releaseIfMine(path: string, mine: string): void {
  try {
    if (readText(path) === mine) unlinkSync(path);
  } catch {
    // already gone
  }
}
