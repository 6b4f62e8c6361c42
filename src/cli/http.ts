import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { ApiError, errorMessage, UsageError } from './errors.ts';

/**
 * A small dependency-free client for the broker's `/v1` API, configured like the `vault` CLI:
 * SEALBOX_ADDR (fallback VAULT_ADDR, default http://127.0.0.1:8200), SEALBOX_TOKEN (fallback VAULT_TOKEN) and
 * SEALBOX_CACERT (fallback VAULT_CACERT; a PEM file of CA certificates to trust for an https address).
 * It uses node:http/https rather than fetch, because Node 20's fetch cannot be given a CA without undici's Agent.
 */
export interface ClientConfig {
  readonly address: URL;
  readonly token: string | undefined;
  readonly ca: Buffer | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

const pick = (env: Env, ...names: string[]): string | undefined => {
  for (const n of names) {
    const v = env[n]?.trim();
    if (v) return v;
  }
  return undefined;
};

export function clientConfigFromEnv(env: Env): ClientConfig {
  const raw = pick(env, 'SEALBOX_ADDR', 'VAULT_ADDR') ?? 'http://127.0.0.1:8200';
  let address: URL;
  try {
    address = new URL(raw);
  } catch {
    throw new UsageError(`SEALBOX_ADDR: "${raw}" is not a URL such as https://sealbox.example:8200`);
  }
  if (address.protocol !== 'http:' && address.protocol !== 'https:') {
    throw new UsageError(`SEALBOX_ADDR: "${raw}" must start with http:// or https://`);
  }
  const caFile = pick(env, 'SEALBOX_CACERT', 'VAULT_CACERT');
  let ca: Buffer | undefined;
  if (caFile) {
    try {
      ca = readFileSync(caFile);
    } catch (e) {
      throw new UsageError(`SEALBOX_CACERT: cannot read ${caFile}: ${errorMessage(e)}`);
    }
  }
  return { address, token: pick(env, 'SEALBOX_TOKEN', 'VAULT_TOKEN') ?? storedToken(env), ca };
}

/** Where `sealbox login` stores the token (Vault's ~/.vault-token): SEALBOX_TOKEN_FILE, else ~/.sealbox-token. */
export const tokenFilePath = (env: Env): string => pick(env, 'SEALBOX_TOKEN_FILE') ?? join(env.HOME ?? homedir(), '.sealbox-token');

/** The token `sealbox login` stored, when SEALBOX_TOKEN is not set; SEALBOX_NO_TOKEN_FILE=1 (login itself) skips it. */
function storedToken(env: Env): string | undefined {
  if (env.SEALBOX_NO_TOKEN_FILE === '1') return undefined;
  try {
    return readFileSync(tokenFilePath(env), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface ApiResult {
  readonly status: number;
  /** The parsed JSON body (undefined for an empty body). */
  readonly body: unknown;
  readonly headers: http.IncomingHttpHeaders;
}

/** Long verifies over millions of rows take a while; anything slower than this is treated as a dead connection. */
const TIMEOUT_MS = 15 * 60_000;

export class Client {
  readonly config: ClientConfig;
  private readonly agent: http.Agent;

  constructor(config: ClientConfig) {
    this.config = config;
    this.agent =
      config.address.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...(config.ca ? { ca: config.ca } : {}) })
        : new http.Agent({ keepAlive: true });
  }

  /** Frees the keep-alive sockets so that the process can exit. */
  close(): void {
    this.agent.destroy();
  }

  /** GET `/v1/<path>?<query>`; returns the body's `data`. Any non-2xx answer becomes an ApiError carrying the API's `errors[0]`. */
  async read(path: string, query: Query = {}): Promise<unknown> {
    const res = await this.request('GET', path, query);
    const body = res.body;
    if (body === null || typeof body !== 'object' || !('data' in body)) {
      throw new ApiError(`GET ${path}: the server's answer has no "data"`, res.status);
    }
    return body.data;
  }

  /** GET `/v1/<path>` of a text answer (the audit checkpoint); non-2xx answers become ApiErrors as in read. */
  async readText(path: string, query: Query = {}): Promise<string> {
    return String((await this.request('GET', path, query, undefined, undefined, true)).body ?? '');
  }

  /** `contentType` defaults to application/json (KV patches send application/merge-patch+json). `text`: the body is not JSON. */
  request(method: string, path: string, query: Query = {}, body?: unknown, contentType = 'application/json', text = false): Promise<ApiResult> {
    const url = new URL(`${this.config.address.pathname.replace(/\/+$/, '')}/v1/${path.replace(/^\/+/, '')}`, this.config.address);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.config.token) headers['x-vault-token'] = this.config.token;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (payload !== undefined) headers['content-type'] = contentType;
    const mod = url.protocol === 'https:' ? https : http;
    const label = `${method} ${path}`;
    return new Promise<ApiResult>((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent: this.agent, timeout: TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new ApiError(`${label}: ${e.message}`)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          if (raw.length > 0) {
            try {
              parsed = JSON.parse(raw);
            } catch {
              parsed = undefined;
            }
          }
          if (status < 200 || status >= 300) {
            reject(new ApiError(`${label}: ${apiErrorText(parsed, status)} (HTTP ${status})`, status));
            return;
          }
          if (text) {
            resolve({ status, body: raw, headers: res.headers });
            return;
          }
          if (raw.length > 0 && parsed === undefined) {
            reject(new ApiError(`${label}: the server's answer is not JSON (HTTP ${status})`, status));
            return;
          }
          resolve({ status, body: parsed, headers: res.headers });
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
      req.on('error', (e) => reject(new ApiError(`${label}: cannot reach ${this.config.address.origin}: ${e.message}`)));
      req.end(payload);
    });
  }
}

/** Vault's error body is `{"errors":["message", …]}`; the first message is the one that matters. */
function apiErrorText(body: unknown, status: number): string {
  if (body !== null && typeof body === 'object' && 'errors' in body && Array.isArray(body.errors)) {
    const first: unknown = body.errors[0];
    if (typeof first === 'string' && first.length > 0) return first;
  }
  return status === 404 ? 'not found' : `HTTP ${status}`;
}
