/**
 * What to do when a file's content changed: run a command (no shell, with a timeout) or send a signal to the
 * PID in a pid file. Runs for one destination are serialised; changes that arrive while one runs coalesce into
 * one more run afterwards (the app then reads the newest file).
 */
import fsp from 'node:fs/promises';
import process from 'node:process';
import type { Logger } from './log.ts';
import type { OnChange } from './config.ts';

async function runCommand(cmd: { command: string[]; timeoutMs: number }, env: Record<string, string>, log: Logger): Promise<boolean> {
  const [file, ...args] = cmd.command;
  if (!file) return true;
  // node:child_process only when a command is configured and runs (about 2 MB of RSS otherwise: issue 18).
  const { spawn } = process.getBuiltinModule('node:child_process');
  return new Promise<boolean>((resolve) => {
    const child = spawn(file, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      log.warn({ command: file, timeout_ms: cmd.timeoutMs }, 'on_change command timed out; terminating it');
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), 2000);
    }, cmd.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      log.error({ command: file, err: err.message }, 'on_change command could not start');
      resolve(false);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (killer) clearTimeout(killer);
      if (code === 0) log.info({ command: file }, 'on_change command finished');
      else log.warn({ command: file, code, signal }, 'on_change command failed');
      resolve(code === 0);
    });
  });
}

async function sendSignal(sig: { signal: NodeJS.Signals; pidFile: string }, log: Logger): Promise<boolean> {
  try {
    const pid = Number.parseInt((await fsp.readFile(sig.pidFile, 'utf8')).trim(), 10);
    if (!Number.isInteger(pid) || pid <= 1) throw new Error(`no valid PID in ${sig.pidFile}`);
    process.kill(pid, sig.signal);
    log.info({ pid, signal: sig.signal }, 'on_change signal sent');
    return true;
  } catch (err) {
    log.warn({ pid_file: sig.pidFile, err: (err as Error).message }, 'on_change signal not sent');
    return false;
  }
}

export interface ChangeNotifier {
  /** Ask for one run (coalesced with a pending one). */
  notify(): void;
  /** Resolves when nothing is running or pending (bounded by the caller). */
  idle(): Promise<void>;
  /** Whether the last run succeeded (true before any run, and without an on_change). */
  readonly lastOk: boolean;
}

export function createChangeNotifier(onChange: OnChange | undefined, env: Record<string, string>, log: Logger): ChangeNotifier {
  let running: Promise<void> | undefined;
  let pending = false;
  let lastOk = true;
  const runOnce = async (): Promise<void> => {
    if (!onChange) return;
    lastOk = await (onChange.kind === 'command' ? runCommand(onChange, env, log) : sendSignal(onChange, log));
  };
  const loop = async (): Promise<void> => {
    while (pending) {
      pending = false;
      await runOnce();
    }
    running = undefined;
  };
  return {
    notify() {
      if (!onChange) return;
      pending = true;
      running ??= loop();
    },
    async idle() {
      while (running) await running;
    },
    get lastOk() {
      return lastOk;
    },
  };
}
