// Helpers for the agent's tests: a real broker (root test harness), real agent processes, AppRole set-up, a
// PostgreSQL target for dynamic credentials, and a TCP forwarder whose target can move (broker restarts).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { stir, watchDir } from '../../test/helpers/activity.ts';
import { api, type Broker } from '../../test/helpers/broker.ts';
import { onExitSync } from '../../test/helpers/exit.ts';
import { pollUntil } from '../../test/helpers/poll.ts';
import type { Target } from '../../test/helpers/pg-target.ts';

export type { Target };

export const AGENT_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'sealbox-agent.mjs');

/**
 * Something happened that a waitFor() may be waiting for (test/helpers/activity.ts): an agent printed a line, a file
 * changed in a temp dir (the agent writes its files there, on_change commands append to them), or a broker logged
 * something. waitFor re-checks on these, never on a timer.
 */
/** Re-check every pending waitFor now (a test that watches its own process's output calls it on each chunk and on exit). */
export const noteActivity = (): void => stir();

const live = new Set<ChildProcess>();
const tempDirs = new Set<string>();
onExitSync(() => {
  for (const p of live) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
});

export async function tempDir(prefix = 'agent-'): Promise<string> {
  const d = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  watchDir(d);
  return d;
}

export async function ok(b: Broker, method: string, p: string, body?: unknown): Promise<unknown> {
  const r = await api(b, method, p, body === undefined ? {} : { body });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
}

/** An AppRole role (random name) whose token may read `paths` (plus leases and the event stream); role and secret ID files in `dir`. */
export async function setupAppRole(b: Broker, dir: string, paths: string[], role: Record<string, unknown> = {}): Promise<{ roleIdFile: string; secretIdFile: string }> {
  const r = await api(b, 'POST', 'sys/auth/approle', { body: { type: 'approle' } });
  if (r.status >= 300 && !r.text.includes('already in use')) throw new Error(`approle mount: ${r.status} ${r.text}`);
  const policy: Record<string, { capabilities: string[] }> = {
    'sys/leases/renew': { capabilities: ['update'] },
    'sys/leases/revoke': { capabilities: ['update'] },
    'sys/events/subscribe': { capabilities: ['read'] },
  };
  for (const p of paths) policy[p] = { capabilities: ['read', 'update'] };
  // Each call gets its own role and policy: tests in one file run concurrently against one broker.
  const name = `agent-${randomBytes(4).toString('hex')}`;
  await ok(b, 'PUT', `sys/policies/acl/${name}`, { policy: { path: policy } });
  await ok(b, 'POST', `auth/approle/role/${name}`, { token_policies: [name], token_ttl: '1h', token_max_ttl: '4h', ...role });
  const roleId = ((await ok(b, 'GET', `auth/approle/role/${name}/role-id`)) as { data: { role_id: string } }).data.role_id;
  const secretId = ((await ok(b, 'POST', `auth/approle/role/${name}/secret-id`)) as { data: { secret_id: string } }).data.secret_id;
  const roleIdFile = path.join(dir, 'role-id');
  const secretIdFile = path.join(dir, 'secret-id');
  await fsp.writeFile(roleIdFile, `${roleId}\n`);
  await fsp.writeFile(secretIdFile, `${secretId}\n`);
  return { roleIdFile, secretIdFile };
}

export interface AgentProc {
  proc: ChildProcess;
  logs(): string;
  /** Resolves with the exit code (null if killed by a signal). */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function writeConfig(dir: string, config: unknown, name = 'agent.json'): Promise<string> {
  const file = path.join(dir, name);
  await fsp.writeFile(file, typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  return file;
}

export function runAgent(configFile: string, args: string[] = [], env: Record<string, string> = {}): AgentProc {
  const proc = spawn(process.execPath, [AGENT_BIN, '--config', configFile, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  live.add(proc);
  const chunks: string[] = [];
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => {
    chunks.push(c);
    stir();
  });
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => {
    chunks.push(c);
    stir();
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.on('exit', (code) => {
      live.delete(proc);
      // 'exit' can come before the last output is read (a compiled agent exits right after writing): wait for the
      // pipes to close, but not forever (an on_change child may hold them).
      // A failure bound, not a wait: 'close' is the event; a process holding the pipes must not hang the test.
      const settle = (): void => resolve(code);
      const timer = setTimeout(settle, 2000);
      proc.once('close', () => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  });
  return {
    proc,
    logs: () => chunks.join(''),
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      try {
        return await exited;
      } finally {
        clearTimeout(killer);
      }
    },
  };
}

/**
 * Resolves (with the milliseconds it took) once `check()` is true: test/helpers/poll.ts's pollUntil, which checks now
 * and again each time an agent prints something or a file in a watched temp dir changes (what these tests wait for is
 * always done by an agent that logs it or writes a file). Unlike pollUntil, a check that throws fails the wait.
 */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<number> {
  const start = Date.now();
  let failure: { err: unknown } | undefined;
  await pollUntil(
    what,
    async () => {
      try {
        return await check();
      } catch (err) {
        failure = { err };
        return true;
      }
    },
    { timeoutMs },
  );
  if (failure) throw failure.err instanceof Error ? failure.err : new Error(String(failure.err));
  return Date.now() - start;
}

export async function readOr(file: string, fallback = ''): Promise<string> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch {
    return fallback;
  }
}

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

export { newTarget } from '../../test/helpers/pg-target.ts';

/** `database/` mount, config `main` on the target, role `app` in `group`. */
export async function mountDatabase(b: Broker, target: Target, group: string, role: Record<string, unknown> = {}): Promise<void> {
  const r = await api(b, 'POST', 'sys/mounts/database', { body: { type: 'database' } });
  if (r.status >= 300 && !r.text.includes('already in use')) throw new Error(`mount: ${r.status} ${r.text}`);
  await ok(b, 'POST', 'database/config/main', {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@127.0.0.1:${target.cluster.port}/${target.dbName}`,
    username: target.cluster.user,
    password: target.cluster.password,
    allowed_roles: '*',
  });
  await ok(b, 'POST', 'database/roles/app', { db_name: 'main', default_group: group, default_ttl: '1h', max_ttl: '2h', ...role });
}

/** A TCP forwarder on a fixed port whose upstream can change (a restarted broker gets a new port). */
export async function startForwarder(initialTarget: number): Promise<{ port: number; setTarget(p: number): void; close(): Promise<void> }> {
  let target = initialTarget;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    setTarget(p) {
      target = p;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Parse KEY=value lines (values may be double-quoted as the agent's env helper writes them). */
export function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m?.[1]) continue;
    let v = m[2] ?? '';
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\n/g, '\n').replace(/\\(.)/g, '$1');
    out[m[1]] = v;
  }
  return out;
}

/** An agent's JSON (pino) log lines so far; other output is skipped. */
export function logLines(agent: Pick<AgentProc, 'logs'>): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of agent.logs().split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a line cut in two by a chunk boundary, or not JSON
    }
  }
  return out;
}
