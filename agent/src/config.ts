/**
 * The agent's config file (README "The agent"; every field in agent/examples/complete.yaml): YAML or JSON, validated once at
 * start-up (config-check.ts: by hand, not zod, for memory; `auth` is chosen by `method`). Every error names the field,
 * e.g. `secrets[1].destination: is required`. Nothing is fetched or written before the whole file checks out.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigIssue, fail, fieldName, isMapping, mapping, optBool, optInt, optStr, required, str, type Where } from './config-check.ts';
import { parseDurationMs } from './durations.ts';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

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

const SIGNALS = ['HUP', 'INT', 'QUIT', 'USR1', 'USR2', 'TERM', 'WINCH', 'ALRM', 'CONT'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** A duration ("30s", "5m", a number of seconds) in milliseconds, at least `minMs`; absent: `fallbackMs`. */
function duration(v: unknown, where: Where, fallbackMs: number, minMs = 0): number {
  if (v === undefined) return fallbackMs;
  const ms = parseDurationMs(v);
  if (ms === undefined || ms < minMs) return fail(where, `must be a duration such as "30s" or "5m"${minMs ? ` (at least ${minMs} ms)` : ''}`);
  return ms;
}

/** File mode: "0400", "0o640", or a number read as octal digits like chmod (400 means 0400). */
function fileMode(v: unknown, where: Where): number {
  if (v === undefined) return 0o400;
  const text = typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' ? v.trim().replace(/^0o/i, '') : '';
  const mode = parseInt(text, 8);
  if (!/^[0-7]{3,4}$/.test(text)) return fail(where, 'must be an octal file mode such as "0400" or "0640"');
  if (mode & 0o7000) return fail(where, 'setuid, setgid and sticky bits are not allowed');
  return mode;
}

function listen(v: unknown, where: Where): { host: string; port: number } | undefined {
  if (v === undefined) return undefined;
  const m = /^(.*):(\d{1,5})$/.exec(str(v, where).trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m?.[1] || port > 65535) return fail(where, 'must be HOST:PORT, e.g. "127.0.0.1:8100"');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

function onChange(v: unknown, where: Where): OnChange | undefined {
  if (v === undefined) return undefined;
  const o = mapping(v, where, (f) => ({ command: f('command'), timeout: duration(f('timeout'), [...where, 'timeout'], 30_000, 1), signal: f('signal'), pidFile: f('pid_file') }));
  const at = (field: string): Where => [...where, field];
  if (o.command !== undefined) {
    const raw: unknown = typeof o.command === 'string' ? [o.command] : o.command;
    const list = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string' && x.length > 0) : [];
    if (!Array.isArray(raw) || list.length === 0 || list.length !== raw.length) return fail(at('command'), 'must be a non-empty list of strings, e.g. ["/bin/kill", "-HUP", "1"]');
    if (o.signal !== undefined || o.pidFile !== undefined) return fail(at('command'), 'give either command or signal + pid_file, not both');
    return { kind: 'command', command: list, timeoutMs: o.timeout };
  }
  if (o.signal === undefined && o.pidFile === undefined) return fail(at('command'), 'on_change needs a command, or a signal and a pid_file');
  const name = str(o.signal, at('signal')).toUpperCase().replace(/^SIG/, '');
  if (!(SIGNALS as readonly string[]).includes(name)) return fail(at('signal'), `unknown signal "${name}" (expected one of: ${SIGNALS.join(', ')})`);
  return { kind: 'signal', signal: `SIG${name}` as NodeJS.Signals, pidFile: str(o.pidFile, at('pid_file')) };
}

function auth(v: unknown, where: Where, file: (v: unknown, where: Where) => string): AuthConfig {
  const methods = `one of: ${AUTH_METHODS.join(', ')}`;
  if (v === undefined) return required(where, methods);
  if (!isMapping(v)) return fail(where, 'must be a mapping (object)');
  const method = v.method;
  if (method === undefined) return required([...where, 'method'], methods);
  if (!(AUTH_METHODS as readonly unknown[]).includes(method)) return fail([...where, 'method'], `unknown auth method "${String(method)}" (expected ${methods})`);
  const at = (field: string): Where => [...where, field];
  const mount = (x: unknown, m: string): string => (optStr(x, at('mount')) ?? m).replace(/^\/+|\/+$/g, '');
  const optFile = (x: unknown, field: string): string | undefined => (x === undefined ? undefined : file(x, at(field)));
  return mapping(v, where, (f): AuthConfig => {
    f('method');
    switch (method as AuthMethod) {
      case 'approle':
        return { method: 'approle', mount: mount(f('mount'), 'approle'), roleIdFile: file(f('role_id_file'), at('role_id_file')), secretIdFile: file(f('secret_id_file'), at('secret_id_file')) };
      case 'kubernetes':
        return { method: 'kubernetes', mount: mount(f('mount'), 'kubernetes'), role: str(f('role'), at('role')), tokenFile: optFile(f('token_file'), 'token_file') ?? DEFAULT_SA_TOKEN_FILE };
      case 'jwt':
        return { method: 'jwt', mount: mount(f('mount'), 'jwt'), role: str(f('role'), at('role')), tokenFile: file(f('token_file'), at('token_file')) };
      case 'token':
        return { method: 'token', tokenFile: file(f('token_file'), at('token_file')) };
      case 'cert':
        return { method: 'cert', mount: mount(f('mount'), 'cert'), name: optStr(f('name'), at('name')), certFile: file(f('cert_file'), at('cert_file')), keyFile: file(f('key_file'), at('key_file')) };
    }
  });
}

function secret(v: unknown, where: Where, baseDir: string, file: (v: unknown, where: Where) => string): SecretConfig {
  const at = (field: string): Where => [...where, field];
  const s = mapping(
    v,
    where,
    (f) => {
      const template = f('template');
      const params = f('params');
      const out = {
        path: str(f('path'), at('path'), 'e.g. secret/data/app/config').replace(/^\/+/, '').replace(/^v1\//, ''),
        destination: file(f('destination'), at('destination')),
        template: template === undefined || typeof template === 'string' ? template : fail(at('template'), 'must be a string'),
        templateFile: optStr(f('template_file'), at('template_file')),
        params: params === undefined || isMapping(params) ? params : fail(at('params'), 'must be a mapping, e.g. {common_name: web.example.com}'),
        mode: fileMode(f('mode'), at('mode')),
        uid: optInt(f('uid'), at('uid'), 0, 2 ** 31),
        gid: optInt(f('gid'), at('gid'), 0, 2 ** 31),
        onChange: onChange(f('on_change'), at('on_change')),
        ack: optBool(f('ack'), at('ack')),
        ackIntervalMs: duration(f('ack_interval'), at('ack_interval'), 60_000, 1000),
      };
      return out;
    },
    { bad: 'must be a mapping with path and destination' },
  );
  let template = s.template;
  if (s.template !== undefined && s.templateFile) return fail(at('template_file'), 'give either template or template_file, not both');
  if (s.templateFile) {
    try {
      template = fs.readFileSync(path.resolve(baseDir, s.templateFile), 'utf8');
    } catch (err) {
      return fail(at('template_file'), `cannot read ${s.templateFile}: ${(err as Error).message}`);
    }
  }
  return { path: s.path, params: s.params, destination: s.destination, template, mode: s.mode, uid: s.uid, gid: s.gid, onChange: s.onChange, ack: s.ack ?? false, ackIntervalMs: s.ackIntervalMs };
}

function address(v: unknown, where: Where): string {
  const a = str(v, where, 'e.g. https://sealbox:8200').replace(/\/+$/, '');
  if (!URL.canParse(a) || !['http:', 'https:'].includes(new URL(a).protocol)) return fail(where, `"${a}" is not an http(s) URL`);
  return a;
}

/** The config document checked and converted; `baseDir` resolves relative file names (the config file's directory). */
function checkConfig(doc: unknown, baseDir: string): AgentConfig {
  const file = (v: unknown, where: Where): string => path.resolve(baseDir, str(v, where));
  const secretsHint = 'is required: a list of {path, destination}';
  return mapping(
    doc,
    [],
    (f): AgentConfig => {
      const broker = mapping(f('broker'), ['broker'], (b) => ({
        address: address(b('address'), ['broker', 'address']),
        caFile: b('ca_file') === undefined ? undefined : file(b('ca_file'), ['broker', 'ca_file']),
        tlsSkipVerify: optBool(b('tls_skip_verify'), ['broker', 'tls_skip_verify']) ?? false,
        timeoutMs: duration(b('timeout'), ['broker', 'timeout'], 10_000, 100),
      }), { hint: 'with address' });
      const l = listen(f('listen'), ['listen']);
      const a = auth(f('auth'), ['auth'], file);
      const list = f('secrets');
      if (!Array.isArray(list) || list.length === 0) fail(['secrets'], secretsHint);
      const secrets = Array.from(list as unknown[], (x, i) => secret(x, ['secrets', i], baseDir, file));
      const exitAfterAuth = optBool(f('exit_after_auth'), ['exit_after_auth']) ?? false;
      const revokeOnShutdown = optBool(f('revoke_on_shutdown'), ['revoke_on_shutdown']) ?? false;
      const pollIntervalMs = duration(f('poll_interval'), ['poll_interval'], 60_000, 100);
      const events = optBool(f('events'), ['events']) ?? true;
      const r = f('retry');
      const retry = r === undefined ? { initialMs: 500, maxMs: 30_000 } : mapping(r, ['retry'], (g) => ({ initialMs: duration(g('initial'), ['retry', 'initial'], 500, 10), maxMs: duration(g('max'), ['retry', 'max'], 30_000, 10) }));
      const level = f('log_level');
      if (level !== undefined && !(LOG_LEVELS as readonly unknown[]).includes(level)) fail(['log_level'], `must be one of ${LOG_LEVELS.join(', ')}`);
      return { broker, listen: l, auth: a, secrets, exitAfterAuth, revokeOnShutdown, pollIntervalMs, events, retry, logLevel: (level as string | undefined) ?? 'info' };
    },
    { bad: 'must be a mapping (object) with broker, auth and secrets' },
  );
}

/** A null field is an absent one (YAML's `key:` with no value); `params` keeps its values as given. */
function withoutNulls(v: unknown, key = ''): unknown {
  if (key === 'params') return v;
  if (Array.isArray(v)) return v.map((x) => withoutNulls(x));
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x, k)]));
}

/** Validate an already-parsed document. `baseDir` resolves relative file names (the config file's directory). */
export function validateConfig(doc: unknown, baseDir: string): AgentConfig {
  let cfg: AgentConfig;
  try {
    cfg = checkConfig(withoutNulls(doc), baseDir);
  } catch (err) {
    if (!(err instanceof ConfigIssue)) throw err;
    throw new ConfigError(err.where.length === 0 ? `the config ${err.message}` : `${fieldName(err.where)}: ${err.message}`);
  }
  const seen = new Map<string, number>();
  cfg.secrets.forEach((s, i) => {
    const prev = seen.get(s.destination);
    if (prev !== undefined) throw new ConfigError(`secrets[${i}].destination: ${s.destination} is also the destination of secrets[${prev}]`);
    seen.set(s.destination, i);
  });
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
