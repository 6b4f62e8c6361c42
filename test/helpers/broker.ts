// Start a REAL sealbox broker process for a test.
//
//   const b = await startBroker();                                  // dev mode, embedded PGlite, temp data dir
//   const b = await startBroker({ databaseUrl: await pg.createDatabase() });   // dev mode on PostgreSQL
//   const v = vaultClient(b);  await v.write('secret/data/x', { data: { a: 1 } });
//   const r = await api(b, 'GET', 'sys/health', { token: null });
//   t.teardown(() => b.stop());
//
// Brokers still running when the test process exits are killed, and temp data dirs are removed.
import { stir } from './activity.ts';
import { createLogWaiters } from './log-waiters.ts';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import vault from 'node-vault';
import { onExitSync, startWatchdog } from './exit.ts';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BROKER_ENTRY = path.join(PROJECT_ROOT, 'bin', 'sealbox.mjs');

export interface StartBrokerOptions {
  /** Data dir (`--data`). Default: a fresh temp dir, removed when the test process exits. Reuse it to restart a broker on the same data. */
  dataDir?: string;
  /** Sets SEALBOX_DATABASE_URL (PostgreSQL instead of embedded PGlite). Otherwise SEALBOX_DATABASE_URL is removed from the env. */
  databaseUrl?: string;
  /** `--dev-root-token`. Default `root-<hex>`. */
  rootToken?: string;
  /** Extra CLI args appended after the generated ones. */
  args?: string[];
  /** Extra environment (wins over everything else). */
  env?: Record<string, string>;
  /** Dev mode (`--dev --listen 127.0.0.1:0 --data … --dev-root-token …`). Default true. Ignored with configFile. */
  dev?: boolean;
  /** Production mode: `server --config <file>` (the config decides listen address and storage). */
  configFile?: string;
  /** How long to wait for the `listening` log line. Default 60 s (PGlite’s first boot takes 5 s alone and much longer when two test files load both cores). */
  timeoutMs?: number;
  /** Node flags for the broker process, e.g. ['--import=tsx'] if the CLI loads .ts sources. */
  nodeArgs?: string[];
  /** CLI script. Default bin/sealbox.mjs. */
  entry?: string;
}

export interface Broker {
  /** `http://127.0.0.1:<port>` from the listening line. */
  address: string;
  /** The dev root token. Writable: production-mode tests can store the token from `sys/init` here. */
  rootToken: string;
  /** The data dir ('' with configFile unless one was given). */
  dataDir: string;
  proc: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  logs(): string;
  /** Parsed JSON (pino) log lines from stdout so far. */
  logLines(): Record<string, unknown>[];
  /**
   * Resolves true once a log line matching `match` has been read (at once if one already was), false if none came
   * within `timeoutMs`. An answer over HTTP can arrive before the log line it caused is read from the pipe.
   */
  waitForLogLine(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<boolean>;
  /** Send `signal` (default SIGTERM), wait for exit (SIGKILL after 15 s), resolve with the exit code (null if killed by a signal). Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  onExitSync(() => {
    for (const p of live) {
      if (p.exitCode === null && p.signalCode === null) {
        try {
          p.kill('SIGKILL');
        } catch {
          // gone
        }
      }
    }
    for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true, maxRetries: 3 });
  });
}

export async function startBroker(opts: StartBrokerOptions = {}): Promise<Broker> {
  installExitHook();
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const rootToken = opts.rootToken ?? `root-${randomBytes(12).toString('hex')}`;

  let dataDir = opts.dataDir ?? '';
  if (!opts.dataDir && !opts.configFile) {
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sealbox-data-'));
    tempDirs.add(dataDir);
  }

  const cli: string[] = ['server'];
  if (opts.configFile) {
    cli.push('--config', opts.configFile);
  } else if (opts.dev ?? true) {
    cli.push('--dev', '--listen', '127.0.0.1:0', '--data', dataDir, '--dev-root-token', rootToken);
  } else {
    cli.push('--listen', '127.0.0.1:0', '--data', dataDir);
  }
  cli.push(...(opts.args ?? []));

  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.SEALBOX_DATABASE_URL;
  if (opts.databaseUrl) env.SEALBOX_DATABASE_URL = opts.databaseUrl;
  Object.assign(env, opts.env ?? {});

  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), opts.entry ?? BROKER_ENTRY, ...cli], {
    cwd: PROJECT_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(proc);
  // If this test process is SIGKILLed, the broker must not linger.
  const watchdog = proc.pid !== undefined ? startWatchdog(`kill -9 ${proc.pid} 2>/dev/null`) : undefined;

  const chunks: string[] = [];
  const parsed: Record<string, unknown>[] = [];
  let stdoutRest = '';
  let onLine: ((obj: Record<string, unknown>) => void) | undefined;
  const lineWaiters = createLogWaiters(parsed);

  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    chunks.push(chunk);
    stdoutRest += chunk;
    let nl: number;
    while ((nl = stdoutRest.indexOf('\n')) >= 0) {
      const line = stdoutRest.slice(0, nl).trim();
      stdoutRest = stdoutRest.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      try {
        const obj: unknown = JSON.parse(line);
        if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
          const rec = obj as Record<string, unknown>;
          parsed.push(rec);
          onLine?.(rec);
          lineWaiters.seen(rec);
        }
      } catch {
        // not JSON
      }
    }
    stir();
  });
  proc.stderr.on('data', (chunk: string) => {
    chunks.push(chunk);
    stir();
  });

  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      live.delete(proc);
      watchdog?.cancel();
      stir();
      // 'exit' can come before the last log lines are read: wait for the pipes, but not forever.
      // A failure bound, not a wait: 'close' is the event; a process holding the pipes must not hang the test.
      const settle = (): void => resolve(code);
      const timer = setTimeout(settle, 2000);
      proc.once('close', () => {
        clearTimeout(timer);
        resolve(code);
        stir();
      });
    });
    proc.on('error', (err) => {
      chunks.push(`\n[spawn error] ${err.message}\n`);
      live.delete(proc);
      watchdog?.cancel();
      resolve(null);
    });
  });
  const logs = (): string => chunks.join('');

  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`broker did not log "listening" within ${timeoutMs} ms\n--- broker output ---\n${logs()}`));
    }, timeoutMs);
    onLine = (rec) => {
      if (rec.msg === 'listening' && typeof rec.address === 'string') {
        clearTimeout(timer);
        onLine = undefined;
        resolve(rec.address);
      }
    };
    void exited.then((code) => {
      clearTimeout(timer);
      // A no-op if already resolved.
      reject(
        new Error(
          `broker exited (code ${String(code)}, signal ${String(proc.signalCode)}) before logging "listening"\n--- broker output ---\n${logs()}`,
        ),
      );
    });
  });

  // A forgotten broker must not keep the test process alive; the exit hook kills it.
  proc.unref();
  for (const s of [proc.stdout, proc.stderr]) if (s instanceof net.Socket) s.unref();

  let stopping: Promise<number | null> | undefined;
  const stop = (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.ref();
        proc.kill(signal);
      }
      const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    })();
    return stopping;
  };

  const waitForLogLine = (match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<boolean> => lineWaiters.waitFor(match, timeoutMs, exited);

  return { address, rootToken, dataDir, proc, logs, logLines: () => [...parsed], waitForLogLine, stop };
}

export type VaultClient = vault.Client;
export type VaultResponse = vault.VaultResponse;
/** What node-vault rejects with for a status other than 200/204. */
export type VaultApiError = vault.ApiResponseError;

/** node-vault client for the broker (root token by default). */
export function vaultClient(b: Pick<Broker, 'address' | 'rootToken'>, token?: string): VaultClient {
  return vault({ apiVersion: 'v1', endpoint: b.address, token: token ?? b.rootToken });
}

export interface ApiOptions {
  /** X-Vault-Token. Default: the broker's root token; `null` sends none. */
  token?: string | null;
  /** JSON-encoded as the request body (sets content-type: application/json). */
  body?: unknown;
  /** Sent as-is (takes precedence over body). */
  rawBody?: string | Uint8Array;
  headers?: Record<string, string>;
  /** Abort after this many ms. Default 30 s. */
  timeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON body, or undefined if the body is empty or not JSON. */
  json: unknown;
  text: string;
}

/** Raw HTTP call to `${address}/v1/${path}` (fetch refuses to send the `LIST` method: use `GET …?list=true` or rawRequest). */
export async function api(
  b: Pick<Broker, 'address' | 'rootToken'>,
  method: string,
  apiPath: string,
  opts: ApiOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? b.rootToken : opts.token;
  if (token !== null) headers['x-vault-token'] = token;
  let body: string | Uint8Array | undefined;
  if (opts.rawBody !== undefined) {
    body = opts.rawBody;
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  Object.assign(headers, opts.headers ?? {});
  const res = await fetch(`${b.address}/v1/${apiPath.replace(/^\/+/, '')}`, {
    method,
    headers,
    body,
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let json: unknown;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, json, text };
}
