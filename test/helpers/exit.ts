// Process-exit cleanup shared by the test helpers.
//
// ava runs every test file in its own child process. Resources started by the helpers (a PostgreSQL
// cluster, broker processes, temp dirs) must not outlive that process, whichever way it ends:
//   - normal end / process.exit():  the 'exit' event runs the synchronous cleanups;
//   - SIGTERM/SIGINT/SIGHUP (ava kills workers on timeout, Ctrl-C): same cleanups, then the signal is re-raised;
//   - SIGKILL: nothing in-process can run, so each resource also gets a tiny detached shell "watchdog" that
//     polls this pid and runs the cleanup command once the process is gone.
import { spawn } from 'node:child_process';
import process from 'node:process';

type SyncCleanup = () => void;

const cleanups = new Set<SyncCleanup>();
let installed = false;

function runAll(): void {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      // best effort: the process is going away
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      runAll();
      process.removeListener(sig, handler);
      if (process.listenerCount(sig) === 0) {
        process.kill(process.pid, sig); // default action: terminate with that signal
      } else {
        // Somebody else listens too; give them a moment, then make sure we go.
        setTimeout(() => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1)), 2000).unref();
      }
    };
    process.on(sig, handler);
  }
}

/** Register a synchronous cleanup for process exit. Returns an unregister function. */
export function onExitSync(fn: SyncCleanup): () => void {
  install();
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** Quote a string for /bin/sh. */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export interface Watchdog {
  cancel(): void;
}

/**
 * Start a detached `sh` that waits for this process to disappear (even by SIGKILL) and then runs `script`.
 * Call cancel() once the resource has been cleaned up normally.
 */
export function startWatchdog(script: string): Watchdog {
  const child = spawn('/bin/sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${script}`], {
    detached: true,
    stdio: 'ignore',
    cwd: '/',
  });
  child.on('error', () => {
    /* no /bin/sh: no watchdog, in-process cleanup still applies */
  });
  child.unref();
  let cancelled = false;
  return {
    cancel(): void {
      if (cancelled) return;
      cancelled = true;
      if (child.pid !== undefined && child.exitCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}
