// Run the `sealbox` CLI as a real process against a broker, with only SEALBOX_ADDR/SEALBOX_TOKEN set (a user's
// environment), as the CLI tests do:
//
//   const r = await runCli(b, ['kv', 'get', 'secret/x'], { token: null, input: 'stdin text' });
import { spawn } from 'node:child_process';
import process from 'node:process';
import { BROKER_ENTRY, PROJECT_ROOT, type Broker } from './broker.ts';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** The token in SEALBOX_TOKEN (default: the broker's root token; null: none). */
  token?: string | null;
  env?: Record<string, string>;
  /** Written to the CLI's stdin (otherwise stdin is empty). */
  input?: string;
}

/** The environment a user would have: this process's, minus every SEALBOX_* and VAULT_* variable, plus the address and token. */
export function cliEnv(b: Pick<Broker, 'address' | 'rootToken'>, o: CliOptions = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(SEALBOX|VAULT)_/.test(k)) env[k] = v;
  env.SEALBOX_ADDR = b.address;
  const token = o.token === undefined ? b.rootToken : o.token;
  if (token !== null) env.SEALBOX_TOKEN = token;
  return { ...env, ...o.env };
}

export function runCli(b: Pick<Broker, 'address' | 'rootToken'>, args: string[], o: CliOptions = {}): Promise<CliRun> {
  const proc = spawn(process.execPath, [BROKER_ENTRY, ...args], { cwd: PROJECT_ROOT, env: cliEnv(b, o), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  proc.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  proc.stdin.on('error', () => undefined); // the CLI may exit without reading stdin
  proc.stdin.end(o.input ?? '');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    proc.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
