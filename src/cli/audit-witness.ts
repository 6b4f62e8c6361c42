import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { z } from 'zod';
import { cosignatureLine, ed25519PrivateKey, encodeVkey, parseVkey, SIG_COSIGNATURE_V1, SIG_ED25519 } from '../core/audit/note.ts';
import { checkConsistency, checkedCheckpoint, fetchCheckpoint, type LogKey } from './audit-tree.ts';
import { ApiError, EXIT_API, EXIT_BROKEN, EXIT_OK, UsageError, errorMessage } from './errors.ts';
import { boolFlag, parseFlags, stringFlag } from './flags.ts';
import { Client } from './http.ts';

export const WITNESS_USAGE = `usage: sealbox audit witness -config FILE [-once]

An audit log witness, to run outside the broker's control (another host, cluster or organisation). It polls the
log's latest checkpoint, checks its signature and an RFC 9162 consistency proof from the last size it cosigned,
then cosigns it with its own Ed25519 key (a C2SP cosignature/v1 line) and posts that back
(POST sys/audit-log/cosignatures). If the log is not consistent with what it cosigned before (history rewritten,
rolled back or forked), it refuses: it logs an error, keeps /health failing, and with -once exits 3.

The config file (JSON):
  {"logs": ["https://sealbox-a:8200", "https://sealbox-b:8200"],  replicas of ONE log, polled in turn
   "log_vkey": "<the log's verifier key: GET sys/audit-log/public-key, field vkey>",
   "name": "witness.example.com/w1",      this witness's key name
   "key_file": "/var/lib/witness/key",    its Ed25519 seed (created on first start, mode 0600)
   "state_file": "/var/lib/witness/state.json",   the last size and root it cosigned
   "token": "…",                          a broker token allowed to update sys/audit-log/cosignatures
   "interval_seconds": 10, "health_listen": "127.0.0.1:9102", "ca_file": "…"}

  -once    poll every log once and exit (0 cosigned or nothing new, 3 inconsistent, 2 unreachable)
`;

const configSchema = z.object({
  logs: z.union([z.string().url(), z.array(z.string().url()).min(1)]).transform((v) => (Array.isArray(v) ? v : [v])),
  log_vkey: z.string(),
  name: z.string().regex(/^[^\s+]+$/, { error: 'must be a key name without spaces or +' }),
  key_file: z.string(),
  state_file: z.string(),
  token: z.string().optional(),
  interval_seconds: z.number().int().min(1).max(3600).default(10),
  health_listen: z.string().optional(),
  ca_file: z.string().optional(),
});
type WitnessConfig = z.infer<typeof configSchema>;

const stateSchema = z.object({ size: z.number().int().nonnegative(), root: z.string(), origin: z.string() });
type WitnessState = z.infer<typeof stateSchema>;

/** Refusal: the log is not an append-only extension of what this witness cosigned. */
class ForkError extends Error {}

const log = (level: 'info' | 'error', msg: string, extra: Record<string, unknown> = {}) =>
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg, ...extra })}\n`);

function loadKey(file: string) {
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  }
  const seed = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (seed.length !== 32) throw new UsageError(`key_file ${file}: not a base64 32-byte Ed25519 seed`);
  return ed25519PrivateKey(seed);
}

function loadState(file: string): WitnessState | null {
  if (!fs.existsSync(file)) return null;
  const r = stateSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
  if (!r.success) throw new UsageError(`state_file ${file}: not a witness state`);
  return r.data;
}

function saveState(file: string, s: WitnessState): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(s)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** One poll of one replica: verify, cosign, save, post. Returns the size cosigned. */
async function pollOnce(client: Client, cfg: WitnessConfig, logKey: LogKey, key: ReturnType<typeof ed25519PrivateKey>): Promise<number> {
  const cp = checkedCheckpoint(await fetchCheckpoint(client), logKey, 'the checkpoint');
  const prev = loadState(cfg.state_file);
  if (prev) {
    const prevRoot = Buffer.from(prev.root, 'base64');
    if (cp.size < prev.size) throw new ForkError(`the log rolled back: checkpoint size ${cp.size} is below the size ${prev.size} this witness cosigned`);
    if (!(await checkConsistency(client, { size: prev.size, root: prevRoot }, cp))) {
      throw new ForkError(`fork: the checkpoint at size ${cp.size} is not consistent with size ${prev.size} root ${prev.root} that this witness cosigned`);
    }
  }
  const line = cosignatureLine(cp.body, cfg.name, key, Math.floor(Date.now() / 1000));
  // State first: once we have vouched for a size, we never vouch for anything inconsistent with it.
  saveState(cfg.state_file, { size: cp.size, root: cp.root.toString('base64'), origin: cp.origin });
  await client.request('POST', 'sys/audit-log/cosignatures', {}, { size: cp.size, cosignature: line, vkey: encodeVkey(cfg.name, SIG_COSIGNATURE_V1, key.publicKey) });
  return cp.size;
}

export async function runWitness(argv: readonly string[]): Promise<number> {
  const f = parseFlags(argv, { config: { type: 'string' }, once: { type: 'boolean' } });
  if (f.help) {
    process.stdout.write(WITNESS_USAGE);
    return EXIT_OK;
  }
  const file = stringFlag(f, 'config');
  if (!file) throw new UsageError('-config FILE is required');
  let cfg: WitnessConfig;
  try {
    const r = configSchema.safeParse(JSON.parse(fs.readFileSync(file, 'utf8')));
    if (!r.success) throw new Error(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    cfg = r.data;
  } catch (e) {
    throw new UsageError(`-config ${file}: ${errorMessage(e)}`);
  }
  const vk = parseVkey(cfg.log_vkey);
  if (!vk || vk.type !== SIG_ED25519) throw new UsageError('log_vkey: not an Ed25519 verifier key');
  const logKey: LogKey = { publicKey: vk.publicKey, origin: vk.name };
  const key = loadKey(cfg.key_file);
  const ca = cfg.ca_file ? fs.readFileSync(cfg.ca_file) : undefined;
  const clients = cfg.logs.map((u) => new Client({ address: new URL(u), token: cfg.token, ca }));
  log('info', 'witness started', { name: cfg.name, vkey: encodeVkey(cfg.name, SIG_COSIGNATURE_V1, key.publicKey), logs: cfg.logs });

  const health = { ok: true, size: loadState(cfg.state_file)?.size ?? 0, error: null as string | null };
  const round = async (): Promise<number> => {
    let code = EXIT_OK;
    for (const [i, c] of clients.entries()) {
      try {
        const size = await pollOnce(c, cfg, logKey, key);
        if (health.error === null) health.size = size;
        log('info', 'cosigned', { log: cfg.logs[i], size });
      } catch (e) {
        if (e instanceof ForkError) {
          // Sticky: a witness that saw a fork keeps saying so until an operator looks.
          health.ok = false;
          health.error = e.message;
          log('error', 'log is inconsistent; refusing to cosign', { log: cfg.logs[i], error: e.message });
          code = EXIT_BROKEN;
        } else {
          log('error', 'poll failed', { log: cfg.logs[i], error: e instanceof ApiError || e instanceof Error ? e.message : String(e) });
          if (code === EXIT_OK) code = EXIT_API;
        }
      }
    }
    return code;
  };

  if (boolFlag(f, 'once')) {
    try {
      return health.ok ? await round() : EXIT_BROKEN;
    } finally {
      for (const c of clients) c.close();
    }
  }
  const server = cfg.health_listen ? startHealth(cfg.health_listen, health) : null;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  while (!stop.signal.aborted) {
    if (health.ok) await round();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, cfg.interval_seconds * 1000);
      stop.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
    });
  }
  server?.close();
  for (const c of clients) c.close();
  return health.ok ? EXIT_OK : EXIT_BROKEN;
}

function startHealth(listen: string, health: { ok: boolean; size: number; error: string | null }): http.Server {
  const [host, port] = listen.includes(':') ? [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))] : ['127.0.0.1', Number(listen)];
  const server = http.createServer((req, res) => {
    res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify(health));
  });
  server.listen(port, host, () => {
    const a = server.address();
    log('info', 'health listening', { address: typeof a === 'object' && a ? `${a.address}:${a.port}` : listen });
  });
  return server;
}
