/**
 * The agent's config file (README "The agent"; every field in agent/examples/complete.yaml): YAML or JSON, validated once at
 * start-up against one zod schema (`zod/mini`, tree-shaken into the agent's bundle; `auth` a union discriminated by
 * `method`). Every error names the field, e.g. `secrets[1].destination: is required`. Nothing is fetched or written
 * before the whole file checks out.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as z from 'zod/mini';
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

type Payload = z.core.ParsePayload;

/** Reports `message` at `at` (below the value being transformed) and ends that value. */
function fail(p: Payload, message: string, at: PropertyKey[] = []): never {
  p.issues.push({ code: 'custom', message, input: p.value, path: at });
  return z.NEVER;
}

/** `schema`'s output converted by `fn` (zod/mini's pipe into a transform). */
const then = <S extends z.ZodMiniType, O>(schema: S, fn: (v: z.output<S>, p: Payload) => O) => z.pipe(schema, z.transform<z.output<S>, O>(fn));

/** A required or optional field's messages: "is required (hint)" when absent, `bad` when of the wrong kind. */
const says = (bad: string, hint = '') => ({
  error: (iss: { input?: unknown }) => (iss.input === undefined ? `is required${hint ? ` (${hint})` : ''}` : bad),
});
const str = (hint = '') => z.string(says('must be a non-empty string', hint)).check(z.refine((v) => v.trim() !== '', 'must be a non-empty string'));
const bool = z.boolean(says('must be true or false'));
const int = (min: number, max: number) => z.optional(z.int(says(`must be an integer from ${min} to ${max}`)).check(z.minimum(min), z.maximum(max)));
const mapping = <S extends z.core.$ZodLooseShape>(shape: S, hint = '', bad = 'must be a mapping (object)') => z.strictObject(shape, says(bad, hint));

/** A duration ("30s", "5m", a number of seconds) in milliseconds, at least `minMs`; absent: `fallbackMs`. */
const duration = (fallbackMs: number, minMs = 0) =>
  then(z.optional(z.unknown()), (v, p): number => {
    if (v === undefined) return fallbackMs;
    const ms = parseDurationMs(v);
    if (ms === undefined || ms < minMs) return fail(p, `must be a duration such as "30s" or "5m"${minMs ? ` (at least ${minMs} ms)` : ''}`);
    return ms;
  });

/** File mode: "0400", "0o640", or a number read as octal digits like chmod (400 means 0400). */
const fileMode = then(z.optional(z.unknown()), (v, p): number => {
  if (v === undefined) return 0o400;
  const text = typeof v === 'number' && Number.isInteger(v) ? String(v) : typeof v === 'string' ? v.trim().replace(/^0o/i, '') : '';
  const mode = parseInt(text, 8);
  if (!/^[0-7]{3,4}$/.test(text)) return fail(p, 'must be an octal file mode such as "0400" or "0640"');
  if (mode & 0o7000) return fail(p, 'setuid, setgid and sticky bits are not allowed');
  return mode;
});

const listen = then(str(), (v, p): { host: string; port: number } => {
  const m = /^(.*):(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m?.[1] || port > 65535) return fail(p, 'must be HOST:PORT, e.g. "127.0.0.1:8100"');
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
});

/** The first message `schema` gives for `v`, or its output. */
function sub<S extends z.ZodMiniType>(schema: S, v: unknown): { ok: true; data: z.output<S> } | { ok: false; message: string } {
  const r = schema.safeParse(v);
  return r.success ? { ok: true, data: r.data } : { ok: false, message: r.error.issues[0]?.message ?? 'is required' };
}

const onChange = then(
  mapping({ command: z.optional(z.unknown()), timeout: duration(30_000, 1), signal: z.optional(z.unknown()), pid_file: z.optional(z.unknown()) }),
  (v, p): OnChange => {
    if (v.command !== undefined) {
      const raw: unknown = typeof v.command === 'string' ? [v.command] : v.command;
      const list = Array.isArray(raw) ? raw.filter((x): x is string => typeof x === 'string' && x.length > 0) : [];
      if (!Array.isArray(raw) || list.length === 0 || list.length !== raw.length) return fail(p, 'must be a non-empty list of strings, e.g. ["/bin/kill", "-HUP", "1"]', ['command']);
      if (v.signal !== undefined || v.pid_file !== undefined) return fail(p, 'give either command or signal + pid_file, not both', ['command']);
      return { kind: 'command', command: list, timeoutMs: v.timeout };
    }
    if (v.signal === undefined && v.pid_file === undefined) return fail(p, 'on_change needs a command, or a signal and a pid_file', ['command']);
    const signal = sub(str(), v.signal);
    if (!signal.ok) return fail(p, signal.message, ['signal']);
    const name = signal.data.toUpperCase().replace(/^SIG/, '');
    if (!(SIGNALS as readonly string[]).includes(name)) return fail(p, `unknown signal "${name}" (expected one of: ${SIGNALS.join(', ')})`, ['signal']);
    const pidFile = sub(str(), v.pid_file);
    if (!pidFile.ok) return fail(p, pidFile.message, ['pid_file']);
    return { kind: 'signal', signal: `SIG${name}` as NodeJS.Signals, pidFile: pidFile.data };
  },
);

/** `auth`: one strict mapping per method, chosen by `method`. */
function authSchema(file: (hint?: string) => z.ZodMiniType<string>) {
  const methods = `one of: ${AUTH_METHODS.join(', ')}`;
  const mount = (method: string) => then(z.optional(str()), (v) => (v ?? method).replace(/^\/+|\/+$/g, ''));
  return z.discriminatedUnion(
    'method',
    [
      then(mapping({ method: z.literal('approle'), mount: mount('approle'), role_id_file: file(), secret_id_file: file() }), (a): AuthConfig => ({
        method: a.method,
        mount: a.mount,
        roleIdFile: a.role_id_file,
        secretIdFile: a.secret_id_file,
      })),
      then(mapping({ method: z.literal('kubernetes'), mount: mount('kubernetes'), role: str(), token_file: z.optional(file()) }), (a): AuthConfig => ({
        method: a.method,
        mount: a.mount,
        role: a.role,
        tokenFile: a.token_file ?? DEFAULT_SA_TOKEN_FILE,
      })),
      then(mapping({ method: z.literal('jwt'), mount: mount('jwt'), role: str(), token_file: file() }), (a): AuthConfig => ({ method: a.method, mount: a.mount, role: a.role, tokenFile: a.token_file })),
      then(mapping({ method: z.literal('token'), token_file: file() }), (a): AuthConfig => ({ method: a.method, tokenFile: a.token_file })),
      then(mapping({ method: z.literal('cert'), mount: mount('cert'), name: z.optional(str()), cert_file: file(), key_file: file() }), (a): AuthConfig => ({
        method: a.method,
        mount: a.mount,
        name: a.name,
        certFile: a.cert_file,
        keyFile: a.key_file,
      })),
    ],
    {
      error: (iss) => {
        if (iss.input === undefined) return `is required (${methods})`;
        if (typeof iss.input !== 'object' || iss.input === null || Array.isArray(iss.input)) return 'must be a mapping (object)';
        // The issue's path is auth.method.
        const method = (iss.input as { method?: unknown }).method;
        return method === undefined ? `is required (${methods})` : `unknown auth method "${String(method)}" (expected ${methods})`;
      },
    },
  );
}

function secretSchema(baseDir: string, file: (hint?: string) => z.ZodMiniType<string>) {
  const shape = mapping(
    {
      path: then(str('e.g. secret/data/app/config'), (v) => v.replace(/^\/+/, '').replace(/^v1\//, '')),
      destination: file(),
      template: z.optional(z.string({ error: 'must be a string' })),
      template_file: z.optional(str()),
      params: z.optional(z.record(z.string(), z.unknown(), { error: 'must be a mapping, e.g. {common_name: web.example.com}' })),
      mode: fileMode,
      uid: int(0, 2 ** 31),
      gid: int(0, 2 ** 31),
      on_change: z.optional(onChange),
      ack: z.optional(bool),
      ack_interval: duration(60_000, 1000),
    },
    '',
    'must be a mapping with path and destination',
  );
  return then(shape, (s, p): SecretConfig => {
    let template = s.template;
    if (s.template !== undefined && s.template_file) return fail(p, 'give either template or template_file, not both', ['template_file']);
    if (s.template_file) {
      try {
        template = fs.readFileSync(path.resolve(baseDir, s.template_file), 'utf8');
      } catch (err) {
        return fail(p, `cannot read ${s.template_file}: ${(err as Error).message}`, ['template_file']);
      }
    }
    return { path: s.path, params: s.params, destination: s.destination, template, mode: s.mode, uid: s.uid, gid: s.gid, onChange: s.on_change, ack: s.ack ?? false, ackIntervalMs: s.ack_interval };
  });
}

/** The schema of the config document; `baseDir` resolves relative file names (the config file's directory). */
export function configSchema(baseDir: string) {
  const file = (hint = '') => then(str(hint), (v) => path.resolve(baseDir, v));
  const address = then(str('e.g. https://sealbox:8200'), (v) => v.replace(/\/+$/, '')).check(
    z.refine((v) => URL.canParse(v) && ['http:', 'https:'].includes(new URL(v).protocol), { error: (iss) => `"${String(iss.input)}" is not an http(s) URL` }),
  );
  const secretsHint = 'is required: a list of {path, destination}';
  const doc = mapping(
    {
      broker: mapping({ address, ca_file: z.optional(file()), tls_skip_verify: z.optional(bool), timeout: duration(10_000, 100) }, 'with address'),
      listen: z.optional(listen),
      auth: authSchema(file),
      secrets: z.array(secretSchema(baseDir, file), { error: secretsHint }).check(z.minLength(1, { error: secretsHint })),
      exit_after_auth: z.optional(bool),
      revoke_on_shutdown: z.optional(bool),
      poll_interval: duration(60_000, 100),
      events: z.optional(bool),
      retry: z.optional(mapping({ initial: duration(500, 10), max: duration(30_000, 10) })),
      log_level: z.optional(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })),
    },
    '',
    'must be a mapping (object) with broker, auth and secrets',
  );
  return then(
    doc,
    (c): AgentConfig => ({
      broker: { address: c.broker.address, caFile: c.broker.ca_file, tlsSkipVerify: c.broker.tls_skip_verify ?? false, timeoutMs: c.broker.timeout },
      listen: c.listen,
      auth: c.auth,
      secrets: c.secrets,
      exitAfterAuth: c.exit_after_auth ?? false,
      revokeOnShutdown: c.revoke_on_shutdown ?? false,
      pollIntervalMs: c.poll_interval,
      events: c.events ?? true,
      retry: { initialMs: c.retry?.initial ?? 500, maxMs: c.retry?.max ?? 30_000 },
      logLevel: c.log_level ?? 'info',
    }),
  );
}

/** A null field is an absent one (YAML's `key:` with no value); `params` keeps its values as given. */
function withoutNulls(v: unknown, key = ''): unknown {
  if (key === 'params') return v;
  if (Array.isArray(v)) return v.map((x) => withoutNulls(x));
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, withoutNulls(x, k)]));
}

/** "secrets[1].destination" from the issue's path. */
function fieldName(where: readonly PropertyKey[]): string {
  return where.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i > 0 ? '.' : ''}${String(p)}`)).join('');
}

/** The first issue as the user sees it: an unknown field is named by its own path. */
function describe(issue: z.core.$ZodIssue): string {
  const where = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
  const message = issue.code === 'unrecognized_keys' ? 'unknown field' : issue.message;
  return where.length === 0 ? `the config ${message}` : `${fieldName(where)}: ${message}`;
}

/** Validate an already-parsed document. `baseDir` resolves relative file names (the config file's directory). */
export function validateConfig(doc: unknown, baseDir: string): AgentConfig {
  const parsed = configSchema(baseDir).safeParse(withoutNulls(doc));
  if (!parsed.success) throw new ConfigError(describe(parsed.error.issues[0] ?? { code: 'custom', path: [], message: 'is not valid', input: doc }));
  const cfg = parsed.data;
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
  const { parse } = await import('./yaml.ts');
  try {
    return parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0] ?? ''}`);
  }
}
