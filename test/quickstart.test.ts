// The local quickstart (deploy/quickstart/run.sh) runs start to finish: PostgreSQL, the broker, the agent, and an
// app process that reads its database credential from the agent's file and uses it. It must clean up after itself.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { PROJECT_ROOT } from './helpers/broker.ts';

const SCRIPT = path.join(PROJECT_ROOT, 'deploy', 'quickstart', 'run.sh');

/** The script needs PostgreSQL server binaries and psql (Debian's postgresql package), as it says in its header. */
function havePostgresBinaries(): boolean {
  const root = '/usr/lib/postgresql';
  const dirs = fs.existsSync(root) ? fs.readdirSync(root).map((v) => path.join(root, v, 'bin')) : [];
  return dirs.some((d) => ['initdb', 'pg_ctl', 'psql'].every((b) => fs.existsSync(path.join(d, b))));
}

function run(env: Record<string, string> = {}, timeoutMs = 240_000): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const proc = spawn('bash', [SCRIPT], { cwd: PROJECT_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: string[] = [];
    proc.stdout.setEncoding('utf8').on('data', (c: string) => chunks.push(c));
    proc.stderr.setEncoding('utf8').on('data', (c: string) => chunks.push(c));
    // SIGTERM first: the script's trap then still stops PostgreSQL and the broker.
    const timer = setTimeout(() => proc.kill('SIGTERM'), timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out: chunks.join('') });
    });
  });
}

const dirsNamed = (out: string, label: string): string[] => [...out.matchAll(new RegExp(`^${label}: (.+)$`, 'gm'))].map((m) => m[1] ?? '');

(havePostgresBinaries() ? test : test.skip)('the quickstart runs PostgreSQL, broker, agent and an app that uses the credential, then cleans up', async (t) => {
  t.timeout(300_000);
  const { code, out } = await run();
  t.is(code, 0, out);
  // The app connected as a user the broker minted (v-<auth>-<role>-…) and read the target table with it.
  t.regex(out, /^app: OK, connected as v-[A-Za-z0-9-]+ with the credential from \S+db\.env and read 1 row\(s\)$/m);
  t.regex(out, /^app: v-\S+ read: hello from a database user/m);
  t.regex(out, /database user v-\S+ is gone/);
  t.regex(out, /quickstart OK/);
  // The credential file was on tmpfs where there is one, and every file the script made is gone.
  const [work] = dirsNamed(out, 'work dir');
  const [secrets] = dirsNamed(out, 'secrets dir');
  t.truthy(work);
  t.truthy(secrets);
  if (fs.existsSync('/dev/shm')) t.true(secrets?.startsWith('/dev/shm/'), secrets);
  t.false(fs.existsSync(work ?? ''), 'work dir removed');
  t.false(fs.existsSync(secrets ?? ''), 'secrets dir removed');
  // Nothing secret is printed: no password line from the env file, no connection password.
  t.notRegex(out, /PGPASSWORD|password/i);
});

test('without PostgreSQL binaries the quickstart stops at once with a clear message and leaves nothing behind', async (t) => {
  const { code, out } = await run({ PG_BIN: '/nonexistent' }, 30_000);
  t.is(code, 1);
  t.regex(out, /PostgreSQL server binaries not found/);
  t.deepEqual(dirsNamed(out, 'work dir'), []);
});
