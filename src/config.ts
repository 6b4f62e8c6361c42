import { accessSync, constants, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseArgs } from 'node:util';
import cron from 'node-cron';
import { z } from 'zod';
import { parseDuration } from './lib/durations.ts';
import { PgAddressError, parsePgTarget } from './storage/pg-hosts.ts';

const listen = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be HOST:PORT, e.g. 127.0.0.1:8200')
  .transform((s) => {
    const i = s.lastIndexOf(':');
    return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
  })
  .refine((l) => l.port <= 65535, 'port must be 0..65535');

const durationSeconds = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v, 'duration');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : 'bad duration' });
    return z.NEVER;
  }
});

/** A JSON array of strings, or one comma-separated string (environment variables). */
const nameList = z
  .union([z.array(z.string().min(1).max(256)).max(100), z.string().max(16 * 1024)])
  .transform((v) => (typeof v === 'string' ? v.split(',') : v).map((s) => s.trim()).filter((s) => s.length > 0));

const cronSetting = z.string().max(256).refine((v) => cron.validate(v), 'must be a cron expression (5 fields, or 6 with seconds first), in UTC');

const boolSetting = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]);

function readable(file: string): boolean {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

const schema = z
  .object({
    dev: z.boolean(),
    listen,
    data_dir: z.string().min(1),
    dev_root_token: z.string().min(1).max(256).optional(),
    /** One URL, a libpq-style multi-host URL, or a list (an array, or whitespace-separated URLs): storage/pg-hosts.ts. */
    database_url: z
      .union([z.string(), z.array(z.string()).min(1).max(16).transform((l) => l.join(' '))])
      .refine((s) => s.trim().length > 0 && s.trim().split(/\s+/).every((u) => /^postgres(ql)?:\/\//.test(u)), 'must be a postgres:// URL (or several)')
      .superRefine((s, ctx) => {
        try {
          parsePgTarget(s);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: e instanceof PgAddressError ? e.message : 'not a database URL' });
        }
      })
      .optional(),
    database_max_connections: z.coerce.number().int().min(1).max(500).default(10),
    /** How long cached state may go unconfirmed by PostgreSQL before the broker answers 503 (issue 21). */
    database_staleness: durationSeconds.refine((s) => s >= 1 && s <= 300, 'must be 1s..300s').default(10),
    database_connect_timeout: durationSeconds.refine((s) => s >= 1 && s <= 300, 'must be 1s..300s').default(5),
    database_query_timeout: durationSeconds.refine((s) => s >= 1 && s <= 3600, 'must be 1s..3600s').default(30),
    /** Sealed entry records cached per mount (issue 18; 0: no cache), and their bytes per mount. */
    entry_cache_entries: z.coerce.number().int().min(0).max(10_000_000).default(10_000),
    entry_cache_bytes: z.coerce.number().int().min(0).max(16 * 1024 * 1024 * 1024).default(64 * 1024 * 1024),
    seal: z
      .object({
        type: z.enum(['shamir', 'static']).default('shamir'),
        key_file: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
      })
      .default({ type: 'shamir' }),
    max_request_bytes: z.coerce.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024),
    /** All bodies of requests that need no token (logins, sys/unseal …) held at once; more is a 503. */
    max_unauthenticated_body_bytes: z.coerce.number().int().min(1024).max(4 * 1024 * 1024 * 1024).default(32 * 1024 * 1024),
    /** Open client connections; a connection beyond them is closed at once. */
    max_connections: z.coerce.number().int().min(1).max(1_000_000).default(4096),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    access_log: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(false),
    token_default_ttl: durationSeconds.default(768 * 3600),
    token_max_ttl: durationSeconds.default(768 * 3600),
    cluster_name: z.string().min(1).max(64).default('sealbox'),
    audit_enabled: boolSetting.default(true),
    audit_checkpoint_every: z.coerce.number().int().min(1).max(10_000_000).default(1000),
    audit_checkpoint_seconds: z.coerce.number().int().min(1).max(86_400).default(60),
    audit_file: z.string().min(1).optional(),
    /** Entries older than this may be pruned (once exported); 0 keeps everything. */
    audit_retention: durationSeconds.default(0),
    /** Leases (DESIGN §4): defaults for engines that ask for 0, and the expiry worker's pacing. */
    lease_default_ttl: durationSeconds.default(768 * 3600),
    lease_max_ttl: durationSeconds.default(768 * 3600),
    /** Cron (UTC, with seconds) of the shared lease-expiry job; every second by default. */
    lease_expiry_schedule: cronSetting.default('* * * * * *'),
    /** Cron of engine maintenance (PKI CRL refresh), run on one replica per slot. */
    maintenance_schedule: cronSetting.default('0 * * * * *'),
    /** Cron (UTC) of the barrier keyring rotation `sys/keyring` (a new key term, then a background rewrap); unset: on demand only. */
    keyring_rotation_schedule: cronSetting.optional(),
    /** The floor of every rotation schedule or period set through the API (KV rotate-config, static roles, root and issuer rotation, sys/rotations). */
    rotation_min_interval: durationSeconds.refine((s) => s >= 1, 'must be at least 1s').default(60),
    /** Issue 20: how long a rotation's retire step waits for consumers to acknowledge (per rotation: sys/rotations/:id grace); 0: no retirement. */
    rotation_retire_grace: durationSeconds.default(900),
    /** Issue 20: a consumer not seen (acknowledging) for this long is not live and does not hold back a retirement. */
    consumer_live_window: durationSeconds.refine((s) => s >= 1, 'must be at least 1s').default(600),
    lease_expiry_batch: z.coerce.number().int().min(1).max(10_000).default(500),
    lease_revoke_concurrency: z.coerce.number().int().min(1).max(256).default(16),
    lease_revoke_max_attempts: z.coerce.number().int().min(1).max(100).default(6),
    lease_revoke_backoff_ms: z.coerce.number().int().min(10).max(3_600_000).default(1000),
    /** How old an intent without a lease must be before the sweep revokes its secret: longer than any mint takes. 0 is for tests. */
    lease_intent_grace: durationSeconds.default(300),
    lease_irrevocable_retry: durationSeconds.refine((s) => s >= 1, 'must be at least 1s').default(86_400),
    lockout_threshold: z.coerce.number().int().min(0).max(1000).default(5),
    lockout_duration: durationSeconds.default(900),
    lockout_counter_reset: durationSeconds.default(900),
    tls_cert_file: z.string().min(1).refine(readable, 'file is not readable').optional(),
    tls_key_file: z.string().min(1).refine(readable, 'file is not readable').optional(),
    tls_client_ca_file: z.string().min(1).refine(readable, 'file is not readable').optional(),
    tls_request_client_cert: boolSetting.default(true),
    /** Broker TLS from one of its own PKI mounts (issued through `<mount>/issue/<role>`, renewed at 2/3 of its lifetime). */
    tls_pki_mount: z
      .string()
      .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/?$/, 'must be a mount path such as "pki"')
      .transform((s) => s.replace(/\/+$/, ''))
      .optional(),
    tls_pki_role: z.string().min(1).max(128).optional(),
    tls_pki_common_name: z.string().min(1).max(256).optional(),
    tls_pki_alt_names: nameList.default([]),
    tls_pki_ip_sans: nameList.refine((l) => l.every((ip) => isIP(ip) !== 0), 'must be IP addresses').default([]),
    /** 0: the role's ttl. */
    tls_pki_ttl: durationSeconds.default(0),
    /** How often to look again while the mount, role or CA is missing or the broker is sealed; also the first retry after a failed renewal. */
    tls_pki_retry_interval: durationSeconds.refine((s) => s >= 1, 'must be at least 1s').default(10),
    max_header_bytes: z.coerce.number().int().min(1024).max(1024 * 1024).default(16 * 1024),
    header_timeout: durationSeconds.refine((s) => s >= 1, 'must be at least 1s').default(10),
    request_timeout: durationSeconds.refine((s) => s >= 1, 'must be at least 1s').default(30),
    keep_alive_timeout: durationSeconds.refine((s) => s >= 1, 'must be at least 1s').default(65),
    /** OpenTelemetry traces: "none" (default) loads no SDK at all; "otlp" sends OTLP/HTTP JSON to tracing_endpoint. */
    tracing_exporter: z.enum(['none', 'otlp']).default('none'),
    /** The OTLP traces URL (e.g. http://collector:4318/v1/traces). Unset: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or the SDK default. */
    tracing_endpoint: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://collector:4318/v1/traces' }).optional(),
  })
  .refine((c) => (c.tls_cert_file === undefined) === (c.tls_key_file === undefined), {
    message: 'tls_cert_file (SEALBOX_TLS_CERT_FILE) and tls_key_file (SEALBOX_TLS_KEY_FILE) go together: set both or neither',
    path: ['tls_cert_file'],
  })
  .refine((c) => c.tls_cert_file !== undefined || c.tls_pki_mount !== undefined || c.tls_client_ca_file === undefined, {
    message: 'tls_client_ca_file needs TLS: set tls_cert_file and tls_key_file (or tls_pki_mount) too',
    path: ['tls_client_ca_file'],
  })
  .refine((c) => c.tls_pki_mount === undefined || (c.tls_cert_file === undefined && c.tls_key_file === undefined), {
    message:
      'tls_pki_mount (SEALBOX_TLS_PKI_MOUNT) and tls_cert_file/tls_key_file (SEALBOX_TLS_CERT_FILE/SEALBOX_TLS_KEY_FILE) are two sources of the serving certificate: set one or the other',
    path: ['tls_pki_mount'],
  })
  .refine((c) => c.tls_pki_mount === undefined || (c.tls_pki_role !== undefined && c.tls_pki_common_name !== undefined), {
    message: 'tls_pki_mount needs tls_pki_role (SEALBOX_TLS_PKI_ROLE) and tls_pki_common_name (SEALBOX_TLS_PKI_COMMON_NAME)',
    path: ['tls_pki_mount'],
  })
  .refine((c) => c.header_timeout <= c.request_timeout, {
    message: 'header_timeout must not be longer than request_timeout',
    path: ['header_timeout'],
  })
  .refine((c) => c.seal.type !== 'static' || c.dev || c.seal.key_file || c.seal.key, {
    message: 'a static seal needs seal.key_file (SEALBOX_SEAL_KEY_FILE) or seal.key (SEALBOX_SEAL_KEY)',
    path: ['seal'],
  });

export type Config = Readonly<z.output<typeof schema>>;

export class ConfigError extends Error {}

const ENV: Record<string, string> = {
  SEALBOX_LISTEN: 'listen',
  SEALBOX_DATA: 'data_dir',
  SEALBOX_DATABASE_URL: 'database_url',
  SEALBOX_DATABASE_MAX_CONNECTIONS: 'database_max_connections',
  SEALBOX_DATABASE_STALENESS: 'database_staleness',
  SEALBOX_DATABASE_CONNECT_TIMEOUT: 'database_connect_timeout',
  SEALBOX_DATABASE_QUERY_TIMEOUT: 'database_query_timeout',
  SEALBOX_ENTRY_CACHE_ENTRIES: 'entry_cache_entries',
  SEALBOX_ENTRY_CACHE_BYTES: 'entry_cache_bytes',
  SEALBOX_DEV_ROOT_TOKEN: 'dev_root_token',
  SEALBOX_MAX_REQUEST_BYTES: 'max_request_bytes',
  SEALBOX_MAX_UNAUTHENTICATED_BODY_BYTES: 'max_unauthenticated_body_bytes',
  SEALBOX_MAX_CONNECTIONS: 'max_connections',
  SEALBOX_LOG_LEVEL: 'log_level',
  SEALBOX_CLUSTER_NAME: 'cluster_name',
  SEALBOX_ACCESS_LOG: 'access_log',
  SEALBOX_AUDIT: 'audit_enabled',
  SEALBOX_AUDIT_CHECKPOINT_EVERY: 'audit_checkpoint_every',
  SEALBOX_AUDIT_CHECKPOINT_SECONDS: 'audit_checkpoint_seconds',
  SEALBOX_AUDIT_FILE: 'audit_file',
  SEALBOX_AUDIT_RETENTION: 'audit_retention',
  SEALBOX_TLS_CERT_FILE: 'tls_cert_file',
  SEALBOX_TLS_KEY_FILE: 'tls_key_file',
  SEALBOX_TLS_CLIENT_CA_FILE: 'tls_client_ca_file',
  SEALBOX_TLS_REQUEST_CLIENT_CERT: 'tls_request_client_cert',
  SEALBOX_TLS_PKI_MOUNT: 'tls_pki_mount',
  SEALBOX_TLS_PKI_ROLE: 'tls_pki_role',
  SEALBOX_TLS_PKI_COMMON_NAME: 'tls_pki_common_name',
  SEALBOX_TLS_PKI_ALT_NAMES: 'tls_pki_alt_names',
  SEALBOX_TLS_PKI_IP_SANS: 'tls_pki_ip_sans',
  SEALBOX_TLS_PKI_TTL: 'tls_pki_ttl',
  SEALBOX_TLS_PKI_RETRY_INTERVAL: 'tls_pki_retry_interval',
  SEALBOX_MAX_HEADER_BYTES: 'max_header_bytes',
  SEALBOX_HEADER_TIMEOUT: 'header_timeout',
  SEALBOX_REQUEST_TIMEOUT: 'request_timeout',
  SEALBOX_KEEP_ALIVE_TIMEOUT: 'keep_alive_timeout',
  SEALBOX_LEASE_DEFAULT_TTL: 'lease_default_ttl',
  SEALBOX_LEASE_MAX_TTL: 'lease_max_ttl',
  SEALBOX_LEASE_EXPIRY_SCHEDULE: 'lease_expiry_schedule',
  SEALBOX_MAINTENANCE_SCHEDULE: 'maintenance_schedule',
  SEALBOX_KEYRING_ROTATION_SCHEDULE: 'keyring_rotation_schedule',
  SEALBOX_ROTATION_MIN_INTERVAL: 'rotation_min_interval',
  SEALBOX_ROTATION_RETIRE_GRACE: 'rotation_retire_grace',
  SEALBOX_CONSUMER_LIVE_WINDOW: 'consumer_live_window',
  SEALBOX_LEASE_EXPIRY_BATCH: 'lease_expiry_batch',
  SEALBOX_LEASE_REVOKE_CONCURRENCY: 'lease_revoke_concurrency',
  SEALBOX_LEASE_REVOKE_MAX_ATTEMPTS: 'lease_revoke_max_attempts',
  SEALBOX_LEASE_REVOKE_BACKOFF_MS: 'lease_revoke_backoff_ms',
  SEALBOX_LEASE_IRREVOCABLE_RETRY: 'lease_irrevocable_retry',
  SEALBOX_LEASE_INTENT_GRACE: 'lease_intent_grace',
  SEALBOX_TRACING_EXPORTER: 'tracing_exporter',
  SEALBOX_TRACING_ENDPOINT: 'tracing_endpoint',
};

export const SERVER_USAGE = `usage: sealbox server [--dev] [--config FILE] [--listen HOST:PORT] [--data DIR] [--dev-root-token TOKEN]

Environment: SEALBOX_LISTEN, SEALBOX_DATA, SEALBOX_DATABASE_URL (one URL, h1:5432,h2:5432 hosts, or a list), SEALBOX_DATABASE_MAX_CONNECTIONS,
SEALBOX_DATABASE_STALENESS, SEALBOX_DATABASE_CONNECT_TIMEOUT, SEALBOX_DATABASE_QUERY_TIMEOUT, SEALBOX_DEV_ROOT_TOKEN,
SEALBOX_MAX_REQUEST_BYTES, SEALBOX_MAX_UNAUTHENTICATED_BODY_BYTES, SEALBOX_MAX_CONNECTIONS, SEALBOX_LOG_LEVEL, SEALBOX_ACCESS_LOG (true|false), SEALBOX_CLUSTER_NAME, SEALBOX_SEAL_TYPE (shamir|static),
SEALBOX_SEAL_KEY_FILE, SEALBOX_SEAL_KEY (base64 32-byte static key), SEALBOX_TLS_CERT_FILE, SEALBOX_TLS_KEY_FILE,
SEALBOX_TLS_CLIENT_CA_FILE, SEALBOX_TLS_REQUEST_CLIENT_CERT (true|false), SEALBOX_MAX_HEADER_BYTES, SEALBOX_HEADER_TIMEOUT,
SEALBOX_REQUEST_TIMEOUT, SEALBOX_KEEP_ALIVE_TIMEOUT, SEALBOX_AUDIT_CHECKPOINT_EVERY, SEALBOX_AUDIT_CHECKPOINT_SECONDS,
SEALBOX_AUDIT_FILE, SEALBOX_AUDIT (true|false: false is for tests and benchmarks only), SEALBOX_LEASE_DEFAULT_TTL,
SEALBOX_LEASE_MAX_TTL, SEALBOX_LEASE_EXPIRY_SCHEDULE, SEALBOX_MAINTENANCE_SCHEDULE, SEALBOX_KEYRING_ROTATION_SCHEDULE, SEALBOX_ROTATION_MIN_INTERVAL, SEALBOX_LEASE_EXPIRY_BATCH, SEALBOX_LEASE_REVOKE_CONCURRENCY,
SEALBOX_LEASE_REVOKE_MAX_ATTEMPTS, SEALBOX_LEASE_REVOKE_BACKOFF_MS, SEALBOX_LEASE_IRREVOCABLE_RETRY, SEALBOX_LEASE_INTENT_GRACE,
SEALBOX_TRACING_EXPORTER (none|otlp; default none), SEALBOX_TRACING_ENDPOINT (OTLP/HTTP traces URL).
Serving certificate from the broker's own PKI mount instead of the two files (self-signed until the mount can issue,
renewed at 2/3 of its lifetime): SEALBOX_TLS_PKI_MOUNT, SEALBOX_TLS_PKI_ROLE, SEALBOX_TLS_PKI_COMMON_NAME,
SEALBOX_TLS_PKI_ALT_NAMES and SEALBOX_TLS_PKI_IP_SANS (comma-separated), SEALBOX_TLS_PKI_TTL, SEALBOX_TLS_PKI_RETRY_INTERVAL.`;

/** Flags override the environment, which overrides the config file. Validated once; throws ConfigError with every problem. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): Config {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        dev: { type: 'boolean' },
        config: { type: 'string' },
        listen: { type: 'string' },
        data: { type: 'string' },
        'dev-root-token': { type: 'string' },
      },
    });
  } catch (e) {
    throw new ConfigError(`${e instanceof Error ? e.message : String(e)}\n${SERVER_USAGE}`);
  }
  const flags = parsed.values;
  let file: Record<string, unknown> = {};
  if (flags.config) {
    try {
      const value: unknown = JSON.parse(readFileSync(flags.config, 'utf8'));
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
      file = value as Record<string, unknown>;
    } catch (e) {
      throw new ConfigError(`config file ${flags.config}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const merged: Record<string, unknown> = { listen: '127.0.0.1:8200', data_dir: './.sealbox', ...file };
  for (const [name, key] of Object.entries(ENV)) if (env[name]) merged[key] = env[name];
  const seal = { ...((merged.seal as Record<string, unknown> | undefined) ?? {}) };
  if (env.SEALBOX_SEAL_TYPE) seal.type = env.SEALBOX_SEAL_TYPE;
  if (env.SEALBOX_SEAL_KEY_FILE) seal.key_file = env.SEALBOX_SEAL_KEY_FILE;
  if (env.SEALBOX_SEAL_KEY) seal.key = env.SEALBOX_SEAL_KEY;
  merged.seal = seal;
  merged.dev = flags.dev ?? merged.dev ?? false;
  if (flags.listen) merged.listen = flags.listen;
  if (flags.data) merged.data_dir = flags.data;
  if (flags['dev-root-token']) merged.dev_root_token = flags['dev-root-token'];
  const result = schema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || 'config'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return Object.freeze(result.data);
}
