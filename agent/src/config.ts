/**
 * The agent's config file (README "The agent"; every field in agent/examples/complete.yaml): YAML or JSON, validated once at start-up. Every error names the field,
 * e.g. `secrets[1].destination: is required`. Nothing is fetched or written before the whole file checks out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, Fields, isObj } from './config-reader.ts';
import { parseDurationMs } from './durations.ts';

export { ConfigError };

export const DEFAULT_SA_TOKEN_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/token';
export const AUTH_METHODS = ['approle', 'kubernetes', 'jwt', 'token', 'cert'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

export type AuthConfig =
  | { method: 'approle'; mount: string; roleIdFile: string; secretIdFile: string }
  | { method: 'kubernetes'; mount: string; role: string; tokenFile: string }
  | { method: 'jwt'; mount: string; role: string; tokenFile: string }
  | { method: 'token'; tokenFile: string }
  | { method: 'cert'; mount: string; name: string | undefined; certFile: string; keyFile: string };

export type OnChange =
  | { kind: 'command'; command: string[]; timeoutMs: number }
  | { kind: 'signal'; signal: NodeJS.Signals; pidFile: string };

export interface SecretConfig {
  /** API path without `/v1/`, e.g. `secret/data/app/config` or `database/creds/app`. */
  path: string;
  /** With params, the secret is fetched by a write (e.g. `pki/issue/web` with `common_name`). */
  params: Record<string, unknown> | undefined;
  destination: string;
  /** The template text (from `template` or `template_file`); undefined renders JSON of the data. */
  template: string | undefined;
  mode: number;
  uid: number | undefined;
  gid: number | undefined;
  onChange: OnChange | undefined;
  /**
   * Acknowledge each version applied (file written and on_change succeeded) with PUT sys/consumers/ack, and again
   * every `ackIntervalMs` so that the broker counts this agent as a live consumer (issue 20). Default off.
   */
  ack: boolean;
  ackIntervalMs: number;
}

export interface AgentConfig {
  broker: { address: string; caFile: string | undefined; tlsSkipVerify: boolean; timeoutMs: number };
  listen: { host: string; port: number } | undefined;
  auth: AuthConfig;
  secrets: SecretConfig[];
  exitAfterAuth: boolean;
  revokeOnShutdown: boolean;
  /** Re-read interval when the event stream is down (and for secrets without a lease). */
  pollIntervalMs: number;
  /** Subscribe to sys/events/subscribe. */
  events: boolean;
  retry: { initialMs: number; maxMs: number };
  logLevel: string;
}

const SIGNALS = new Set(['HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'TERM', 'WINCH', 'ALRM', 'CONT']);

function duration(f: Fields, key: string, fallbackMs: number, minMs = 0): number {
  const v = f.raw(key);
  if (v === undefined || v === null) return fallbackMs;
  const ms = parseDurationMs(v);
  if (ms === undefined || ms < minMs) f.fail(key, `must be a duration such as "30s" or "5m"${minMs ? ` (at least ${minMs} ms)` : ''}`);
  return ms;
}

/** File mode: "0400", "0o640", or a number read as octal digits like chmod (400 means 0400). */
function fileMode(f: Fields, key: string): number {
  const v = f.raw(key);
  if (v === undefined || v === null) return 0o400;
  const text = typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' ? v.trim().replace(/^0o/i, '') : '';
  if (!/^[0-7]{3,4}$/.test(text)) f.fail(key, 'must be an octal file mode such as "0400" or "0640"');
  const mode = parseInt(text, 8);
  if (mode & 0o7000) f.fail(key, 'setuid, setgid and sticky bits are not allowed');
  return mode;
}

function parseListen(f: Fields): AgentConfig['listen'] {
  const v = f.optString('listen');
  if (v === undefined) return undefined;
  const m = /^(.*):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !m[1] || port > 65535) f.fail('listen', 'must be HOST:PORT, e.g. "127.0.0.1:8100"');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function parseAuth(root: Fields, baseDir: string): AuthConfig {
  const f: Fields = root.obj_('auth', `one of: ${AUTH_METHODS.join(', ')}`);
  const method = f.string('method', `one of: ${AUTH_METHODS.join(', ')}`);
  const file = (key: string, fallback?: string): string => {
    const v = fallback === undefined ? f.string(key) : (f.optString(key) ?? fallback);
    return path.resolve(baseDir, v);
  };
  const mount = (): string => (f.optString('mount') ?? method).replace(/^\/+|\/+$/g, '');
  let auth: AuthConfig;
  switch (method) {
    case 'approle':
      auth = { method, mount: mount(), roleIdFile: file('role_id_file'), secretIdFile: file('secret_id_file') };
      break;
    case 'kubernetes':
      auth = { method, mount: mount(), role: f.string('role'), tokenFile: file('token_file', DEFAULT_SA_TOKEN_FILE) };
      break;
    case 'jwt':
      auth = { method, mount: mount(), role: f.string('role'), tokenFile: file('token_file') };
      break;
    case 'token':
      auth = { method, tokenFile: file('token_file') };
      break;
    case 'cert':
      auth = { method, mount: mount(), name: f.optString('name'), certFile: file('cert_file'), keyFile: file('key_file') };
      break;
    default:
      f.fail('method', `unknown auth method "${method}" (expected one of: ${AUTH_METHODS.join(', ')})`);
  }
  f.done();
  return auth;
}

function parseOnChange(s: Fields): OnChange | undefined {
  const maybe = s.optObj('on_change');
  if (!maybe) return undefined;
  const f: Fields = maybe;
  let result: OnChange;
  if (f.has('command')) {
    const cmd = f.raw('command');
    const raw: unknown = typeof cmd === 'string' ? [cmd] : cmd;
    const list: string[] = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string' && x.length > 0) : [];
    if (!Array.isArray(raw) || list.length === 0 || list.length !== raw.length) {
      f.fail('command', 'must be a non-empty list of strings, e.g. ["/bin/kill", "-HUP", "1"]');
    }
    if (f.has('signal') || f.has('pid_file')) f.fail('command', 'give either command or signal + pid_file, not both');
    result = { kind: 'command', command: list, timeoutMs: duration(f, 'timeout', 30_000, 1) };
  } else if (f.has('signal') || f.has('pid_file')) {
    const signal = f.string('signal').toUpperCase().replace(/^SIG/, '');
    if (!SIGNALS.has(signal)) f.fail('signal', `unknown signal "${signal}" (expected one of: ${[...SIGNALS].join(', ')})`);
    result = { kind: 'signal', signal: `SIG${signal}` as NodeJS.Signals, pidFile: f.string('pid_file') };
  } else {
    f.fail('command', 'on_change needs a command, or a signal and a pid_file');
  }
  f.done();
  return result;
}

function parseSecret(v: unknown, i: number, baseDir: string): SecretConfig {
  if (!isObj(v)) throw new ConfigError(`secrets[${i}]: must be a mapping with path and destination`);
  const f = new Fields(v, `secrets[${i}]`);
  const secretPath = f.string('path', 'e.g. secret/data/app/config').replace(/^\/+/, '').replace(/^v1\//, '');
  const destination = path.resolve(baseDir, f.string('destination'));
  const inline = f.raw('template');
  if (inline !== undefined && inline !== null && typeof inline !== 'string') f.fail('template', 'must be a string');
  const templateFile = f.optString('template_file');
  if (typeof inline === 'string' && templateFile) f.fail('template_file', 'give either template or template_file, not both');
  let template = typeof inline === 'string' ? inline : undefined;
  if (templateFile) {
    try {
      template = fs.readFileSync(path.resolve(baseDir, templateFile), 'utf8');
    } catch (err) {
      f.fail('template_file', `cannot read ${templateFile}: ${(err as Error).message}`);
    }
  }
  const paramsRaw = f.raw('params');
  if (paramsRaw !== undefined && paramsRaw !== null && !isObj(paramsRaw)) f.fail('params', 'must be a mapping, e.g. {common_name: web.example.com}');
  const secret: SecretConfig = {
    path: secretPath,
    params: isObj(paramsRaw) ? paramsRaw : undefined,
    destination,
    template,
    mode: fileMode(f, 'mode'),
    uid: f.optInt('uid', 0, 2 ** 31),
    gid: f.optInt('gid', 0, 2 ** 31),
    onChange: parseOnChange(f),
    ack: f.optBool('ack') ?? false,
    ackIntervalMs: duration(f, 'ack_interval', 60_000, 1000),
  };
  f.done();
  return secret;
}

/** Validate an already-parsed document. `baseDir` resolves relative file names (the config file's directory). */
export function validateConfig(doc: unknown, baseDir: string): AgentConfig {
  if (!isObj(doc)) throw new ConfigError('the config must be a mapping (object) with broker, auth and secrets');
  const f: Fields = new Fields(doc, '');
  const broker: Fields = f.obj_('broker', 'with address');
  const address = broker.string('address', 'e.g. https://sealbox:8200').replace(/\/+$/, '');
  try {
    const u = new URL(address);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    broker.fail('address', `"${address}" is not an http(s) URL`);
  }
  const caFile = broker.optString('ca_file');
  const brokerCfg = {
    address,
    caFile: caFile ? path.resolve(baseDir, caFile) : undefined,
    tlsSkipVerify: broker.optBool('tls_skip_verify') ?? false,
    timeoutMs: duration(broker, 'timeout', 10_000, 100),
  };
  broker.done();
  const auth = parseAuth(f, baseDir);
  const list = f.raw('secrets');
  if (!Array.isArray(list) || list.length === 0) f.fail('secrets', 'is required: a list of {path, destination}');
  const secrets = list.map((s, i) => parseSecret(s, i, baseDir));
  const seen = new Map<string, number>();
  secrets.forEach((s, i) => {
    const prev = seen.get(s.destination);
    if (prev !== undefined) throw new ConfigError(`secrets[${i}].destination: ${s.destination} is also the destination of secrets[${prev}]`);
    seen.set(s.destination, i);
  });
  const retry = f.optObj('retry');
  const retryCfg = { initialMs: retry ? duration(retry, 'initial', 500, 10) : 500, maxMs: retry ? duration(retry, 'max', 30_000, 10) : 30_000 };
  retry?.done();
  const cfg: AgentConfig = {
    broker: brokerCfg,
    listen: parseListen(f),
    auth,
    secrets,
    exitAfterAuth: f.optBool('exit_after_auth') ?? false,
    revokeOnShutdown: f.optBool('revoke_on_shutdown') ?? false,
    pollIntervalMs: duration(f, 'poll_interval', 60_000, 100),
    events: f.optBool('events') ?? true,
    retry: retryCfg,
    logLevel: f.optString('log_level') ?? 'info',
  };
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(cfg.logLevel)) f.fail('log_level', 'must be one of fatal, error, warn, info, debug, trace, silent');
  f.done();
  return cfg;
}

/** Read and validate FILE (YAML, of which JSON is a subset). */
export async function loadConfig(file: string): Promise<AgentConfig> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    doc = undefined;
  }
  // JSON is a subset of YAML: a JSON file never loads the YAML parser (memory in every pod).
  if (doc === undefined) doc = await parseYamlText(text, file);
  return validateConfig(doc, path.dirname(path.resolve(file)));
}

async function parseYamlText(text: string, file: string): Promise<unknown> {
  const { parse } = await import('yaml');
  try {
    return parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
}
