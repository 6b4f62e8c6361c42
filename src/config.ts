import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { parseDuration } from './lib/durations.ts';

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

const schema = z
  .object({
    dev: z.boolean(),
    listen,
    data_dir: z.string().min(1),
    dev_root_token: z.string().min(1).max(256).optional(),
    database_url: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
    database_max_connections: z.coerce.number().int().min(1).max(500).default(10),
    seal: z
      .object({
        type: z.enum(['shamir', 'static']).default('shamir'),
        key_file: z.string().min(1).optional(),
        key: z.string().min(1).optional(),
      })
      .default({ type: 'shamir' }),
    max_request_bytes: z.coerce.number().int().min(1024).max(256 * 1024 * 1024).default(1024 * 1024),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    access_log: z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')]).default(true),
    token_default_ttl: durationSeconds.default(768 * 3600),
    token_max_ttl: durationSeconds.default(768 * 3600),
    cluster_name: z.string().min(1).max(64).default('sealbox'),
    lockout_threshold: z.coerce.number().int().min(0).max(1000).default(5),
    lockout_duration: durationSeconds.default(900),
    lockout_counter_reset: durationSeconds.default(900),
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
  SEALBOX_DEV_ROOT_TOKEN: 'dev_root_token',
  SEALBOX_MAX_REQUEST_BYTES: 'max_request_bytes',
  SEALBOX_LOG_LEVEL: 'log_level',
  SEALBOX_CLUSTER_NAME: 'cluster_name',
  SEALBOX_ACCESS_LOG: 'access_log',
};

export const SERVER_USAGE = `usage: sealbox server [--dev] [--config FILE] [--listen HOST:PORT] [--data DIR] [--dev-root-token TOKEN]

Environment: SEALBOX_LISTEN, SEALBOX_DATA, SEALBOX_DATABASE_URL, SEALBOX_DATABASE_MAX_CONNECTIONS, SEALBOX_DEV_ROOT_TOKEN,
SEALBOX_MAX_REQUEST_BYTES, SEALBOX_LOG_LEVEL, SEALBOX_ACCESS_LOG (true|false), SEALBOX_CLUSTER_NAME, SEALBOX_SEAL_TYPE (shamir|static),
SEALBOX_SEAL_KEY_FILE, SEALBOX_SEAL_KEY (base64 32-byte static key).`;

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
