// Throwaway PostgreSQL servers for the HA tests (issue 21): a primary with a synchronous streaming standby made
// by pg_basebackup, that a test can crash (`pg_ctl stop -m immediate`) and promote; or one server that also listens
// on extra addresses (a veth end for the network-namespace test). Debian server binaries only (/usr/lib/postgresql),
// run as the `postgres` OS user when we are root. Separate from postgres.ts (the shared per-process cluster).
//
//   const pair = await startPrimaryStandby();
//   const url = pair.multiHostUrl('sealbox');      // postgres://…@127.0.0.1:p1,127.0.0.1:p2/sealbox?target_session_attrs=read-write
//   await pair.primary.stop('immediate'); await pair.standby.promote();
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { onExitSync, shQuote, startWatchdog } from './exit.ts';

const USER = 'postgres';
const PG_ROOT = '/usr/lib/postgresql';

export interface PgNode {
  readonly port: number;
  /** Superuser URL of `db` on this server alone. */
  url(db?: string): string;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** Starts a stopped server again, on the same port (bench/mixed-load's PostgreSQL restart). */
  start(): Promise<void>;
  /** pg_ctl promote -w: returns once the server accepts writes. */
  promote(): Promise<void>;
  /** A client on `db` (default postgres); closed by the caller. */
  client(db?: string): Promise<pg.Client>;
}

export interface PgPair {
  primary: PgNode;
  standby: PgNode;
  password: string;
  /** libpq multi-host URL naming the primary first. */
  multiHostUrl(db: string): string;
  cleanup(): Promise<void>;
}

/** Where the kernel or the machine cannot run these tests, the reason (for t.log + skip); null when it can. */
export function pgBinariesMissing(): string | null {
  if (!binDir()) return `no PostgreSQL server binaries under ${PG_ROOT}`;
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', USER]).status !== 0) return `running as root but there is no "${USER}" OS user`;
  return null;
}

function binDir(): string | null {
  let versions: string[];
  try {
    versions = fs.readdirSync(PG_ROOT).filter((v) => /^\d+$/.test(v));
  } catch {
    return null;
  }
  versions.sort((a, b) => Number(b) - Number(a));
  const v = versions.find((x) => ['initdb', 'pg_ctl', 'pg_basebackup', 'postgres'].every((b) => fs.existsSync(path.join(PG_ROOT, x, 'bin', b))));
  return v ? path.join(PG_ROOT, v, 'bin') : null;
}

const root = (): boolean => process.getuid?.() === 0;

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(args[2] ?? file)} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

interface Ctx {
  tmp: string;
  bin: string;
  env: NodeJS.ProcessEnv;
  password: string;
  asPg(name: string, args: string[]): Promise<string>;
  running: Set<string>;
}

async function makeCtx(): Promise<Ctx & { cleanup(): Promise<void> }> {
  const bin = binDir();
  if (!bin) throw new Error(`no PostgreSQL server binaries under ${PG_ROOT}`);
  const tmp = await fsp.mkdtemp('/tmp/sealbox-ha-pg-');
  await fsp.chmod(tmp, 0o755);
  const password = randomBytes(12).toString('hex');
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C', PGPASSWORD: password };
  for (const k of ['PGDATA', 'PGPORT', 'PGHOST']) delete env[k];
  const pgUid = root() ? Number(spawnSync('id', ['-u', USER], { encoding: 'utf8' }).stdout) : undefined;
  const pgGid = root() ? Number(spawnSync('id', ['-g', USER], { encoding: 'utf8' }).stdout) : undefined;
  if (pgUid !== undefined && pgGid !== undefined) await fsp.chown(tmp, pgUid, pgGid);
  const cmd = (name: string, args: string[]): [string, string[]] => (root() ? ['runuser', ['-u', USER, '--', path.join(bin, name), ...args]] : [path.join(bin, name), args]);
  const running = new Set<string>();
  const stopAllSync = (): void => {
    for (const d of running) {
      const [f, a] = cmd('pg_ctl', ['-D', d, '-m', 'immediate', '-w', '-t', '20', 'stop']);
      spawnSync(f, a, { stdio: 'ignore', timeout: 20_000 });
    }
    running.clear();
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
  };
  const stopScript = () => `for d in ${shQuote(tmp)}/*/; do ${root() ? `runuser -u ${USER} -- ` : ''}${shQuote(path.join(bin, 'pg_ctl'))} -D "$d" -m immediate stop >/dev/null 2>&1; done; rm -rf ${shQuote(tmp)}`;
  const watchdog = startWatchdog(stopScript());
  const unregister = onExitSync(stopAllSync);
  return {
    tmp,
    bin,
    env,
    password,
    running,
    asPg: (name, args) => {
      const [f, a] = cmd(name, args);
      return run(f, a, env);
    },
    async cleanup() {
      unregister();
      stopAllSync();
      watchdog.cancel();
    },
  };
}

function node(ctx: Ctx, dataDir: string, port: number): PgNode {
  const url = (db = 'postgres'): string => `postgresql://${USER}:${ctx.password}@127.0.0.1:${port}/${db}`;
  return {
    port,
    url,
    async stop(mode = 'fast') {
      if (!ctx.running.has(dataDir)) return;
      await ctx.asPg('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop']);
      ctx.running.delete(dataDir);
    },
    async start() {
      if (ctx.running.has(dataDir)) return;
      ctx.running.add(dataDir);
      try {
        await ctx.asPg('pg_ctl', ['-D', dataDir, '-l', path.join(ctx.tmp, `${path.basename(dataDir)}.log`), '-w', '-t', '60', '-o', `-p ${port}`, 'start']);
      } catch (err) {
        ctx.running.delete(dataDir);
        throw err;
      }
    },
    async promote() {
      await ctx.asPg('pg_ctl', ['-D', dataDir, '-w', '-t', '30', 'promote']);
    },
    async client(db) {
      const c = new pg.Client({ connectionString: url(db) });
      c.on('error', () => undefined);
      await c.connect();
      return c;
    },
  };
}

async function start(ctx: Ctx, dataDir: string): Promise<number> {
  const log = path.join(ctx.tmp, `${path.basename(dataDir)}.log`);
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      ctx.running.add(dataDir);
      await ctx.asPg('pg_ctl', ['-D', dataDir, '-l', log, '-w', '-t', '60', '-o', `-p ${port}`, 'start']);
      return port;
    } catch (err) {
      ctx.running.delete(dataDir);
      const text = await fsp.readFile(log, 'utf8').catch(() => '');
      if (attempt < 5 && /could not bind|address already in use/i.test(text)) continue;
      throw new Error(`${(err as Error).message}\n--- ${log} ---\n${text}`);
    }
  }
}

async function initPrimary(ctx: Ctx, opts: { listen?: string[]; hba?: string[] }): Promise<string> {
  const dataDir = path.join(ctx.tmp, 'primary');
  const pwFile = path.join(ctx.tmp, 'pw');
  await fsp.writeFile(pwFile, `${ctx.password}\n`, { mode: 0o644 });
  await ctx.asPg('initdb', ['-D', dataDir, '-U', USER, `--pwfile=${pwFile}`, '--auth-host=scram-sha-256', '--auth-local=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions']);
  await fsp.rm(pwFile, { force: true });
  const conf = [
    '',
    '# sealbox HA test harness',
    `listen_addresses = '${['127.0.0.1', ...(opts.listen ?? [])].join(',')}'`,
    `unix_socket_directories = '${ctx.tmp}'`,
    // Crashes here are process crashes (-m immediate), not power cuts: the OS still has every page.
    'fsync = off',
    'wal_level = replica',
    'max_wal_senders = 5',
    'max_connections = 60',
    'synchronous_commit = on',
    "synchronous_standby_names = ''",
    '',
  ];
  await fsp.appendFile(path.join(dataDir, 'postgresql.conf'), conf.join('\n'));
  if (opts.hba?.length) await fsp.appendFile(path.join(dataDir, 'pg_hba.conf'), `\n${opts.hba.join('\n')}\n`);
  return dataDir;
}

/** One server (no standby), listening on 127.0.0.1 and `listen`, with extra pg_hba lines. */
export async function startPgServer(opts: { listen?: string[]; hba?: string[] } = {}): Promise<{ node: PgNode; password: string; cleanup(): Promise<void> }> {
  const ctx = await makeCtx();
  try {
    const dataDir = await initPrimary(ctx, opts);
    const port = await start(ctx, dataDir);
    return { node: node(ctx, dataDir, port), password: ctx.password, cleanup: () => ctx.cleanup() };
  } catch (err) {
    await ctx.cleanup();
    throw err;
  }
}

/** A primary (with `databases` created) and a synchronous streaming standby of it. */
export async function startPrimaryStandby(databases: string[]): Promise<PgPair> {
  const ctx = await makeCtx();
  try {
    const pDir = await initPrimary(ctx, {});
    const pPort = await start(ctx, pDir);
    const primary = node(ctx, pDir, pPort);
    const c = await primary.client();
    try {
      for (const db of databases) await c.query(`CREATE DATABASE ${pg.escapeIdentifier(db)}`);
    } finally {
      await c.end();
    }
    const sDir = path.join(ctx.tmp, 'standby');
    // -R writes standby.signal and primary_conninfo (with the password from PGPASSWORD).
    await ctx.asPg('pg_basebackup', ['-h', '127.0.0.1', '-p', String(pPort), '-U', USER, '-D', sDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    // Synchronous from here: a commit is acknowledged once the standby has it (the settings README documents). Set
    // after the base backup (the standby, once promoted, must not wait for a standby of its own) and put in effect
    // by a restart, so that every process of the primary has it before the probe below (a reload would be seen by
    // the checkpointer and the walsenders some time later, when nothing tells).
    const s0 = await primary.client();
    try {
      await s0.query("ALTER SYSTEM SET synchronous_standby_names = '*'");
    } finally {
      await s0.end();
    }
    await ctx.asPg('pg_ctl', ['-D', pDir, '-l', path.join(ctx.tmp, 'primary.log'), '-m', 'fast', '-w', '-t', '60', '-o', `-p ${pPort}`, 'restart']);
    const sPort = await start(ctx, sDir);
    const standby = node(ctx, sDir, sPort);
    const p = await primary.client();
    try {
      // A commit on the primary waits (synchronous_commit = on) until a synchronous standby has it: it returns once
      // the standby is connected, caught up and synchronous, which no timer stands in for. statement_timeout bounds it.
      await p.query("SET statement_timeout = '60s'");
      await p.query('SET synchronous_commit = on');
      // A transaction that takes a transaction ID writes a commit record, and its commit waits for the standby. A wait
      // cut short by statement_timeout still returns (PostgreSQL only warns: the commit is local), so the state is read
      // after each commit, and another commit waits again, up to 5 (5 minutes under the heaviest load).
      let sync: string | undefined;
      for (let attempt = 0; attempt < 5 && sync !== '1'; attempt++) {
        await p.query('SELECT txid_current()');
        sync = (await p.query<{ n: string }>("SELECT count(*)::text AS n FROM pg_stat_replication WHERE sync_state = 'sync' AND state = 'streaming'")).rows[0]?.n;
      }
      if (sync !== '1') throw new Error(`the standby is not synchronous after 5 synchronous commits (${sync ?? '?'} synchronous standbys)`);
    } finally {
      await p.end();
    }
    return {
      primary,
      standby,
      password: ctx.password,
      multiHostUrl: (db) => `postgresql://${USER}:${ctx.password}@127.0.0.1:${pPort},127.0.0.1:${sPort}/${db}?target_session_attrs=read-write`,
      cleanup: () => ctx.cleanup(),
    };
  } catch (err) {
    await ctx.cleanup();
    throw err;
  }
}
