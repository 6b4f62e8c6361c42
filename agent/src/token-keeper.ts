/**
 * Keeps the agent's token alive: renews it at about 2/3 of its remaining TTL, and logs in again when renewal
 * is refused, capped by the token's max TTL, or the token turns out to be dead. Leases belong to the token that
 * created them, so every new token after the first is announced (the agent then re-fetches leased secrets).
 */
import type { Logger } from './log.ts';
import { login, type AgentToken } from './auth.ts';
import { BrokerError, type Broker } from './broker-client.ts';
import type { AgentConfig } from './config.ts';
import { backoffMs, jitter, twoThirds } from './timing.ts';

export interface TokenKeeper {
  /** The current token, logging in first if there is none (single flight; retries until stopped). */
  get(): Promise<string>;
  /** Current token without waiting (for the event stream). */
  peek(): string | undefined;
  /** A request was refused with 403: check the token and log in again if it is dead. */
  suspect(token: string): Promise<void>;
  onNewToken(fn: () => void): void;
  /** Revoke the token if the agent obtained it by logging in. */
  revoke(): Promise<void>;
  stop(): void;
}

export interface TokenKeeperOptions {
  cfg: AgentConfig;
  broker: Broker;
  log: Logger;
  /** In --once mode a failed login is final. */
  once: boolean;
}

const MIN_MARGIN_MS = 2000;

export function createTokenKeeper({ cfg, broker, log, once }: TokenKeeperOptions): TokenKeeper {
  let current: (AgentToken & { expiresAt: number }) | undefined;
  let inflight: Promise<string> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let logins = 0;
  const listeners: (() => void)[] = [];

  const schedule = (fn: () => void, at: number): void => {
    if (timer) clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(fn, Math.max(0, at - Date.now()));
  };
  const margin = (t: AgentToken): number => Math.max(t.ttlMs / 3, MIN_MARGIN_MS);

  function plan(): void {
    const t = current;
    if (!t || t.ttlMs <= 0) return;
    const now = Date.now();
    if (t.renewable && t.expiresAt - now > margin(t)) schedule(() => void renew(), twoThirds(now, t.expiresAt));
    else schedule(() => void relogin('token cannot be renewed further'), Math.max(now, t.expiresAt - jitter(margin(t), 0.1)));
  }

  async function renew(attempt = 0): Promise<void> {
    const t = current;
    if (!t || stopped) return;
    try {
      // Counted from the request, not the answer: a slow answer leaves less time, never more.
      const sent = Date.now();
      const res = await broker.request('POST', 'auth/token/renew-self', { token: t.token, body: { increment: `${Math.round(t.ttlMs / 1000)}s` } });
      const d = (res.auth?.lease_duration ?? 0) * 1000;
      const expiresAt = sent + d;
      const capped = d < t.ttlMs - 1000 || expiresAt <= t.expiresAt + 250;
      current = { ...t, expiresAt, renewable: res.auth?.renewable !== false && !capped };
      log.debug({ ttl_s: d / 1000, capped }, 'token renewed');
      plan();
    } catch (err) {
      const e = err as BrokerError;
      if (e instanceof BrokerError && !e.transient) {
        void relogin(`token renewal refused: ${e.message}`);
        return;
      }
      const wait = backoffMs(attempt, cfg.retry.initialMs, cfg.retry.maxMs);
      if (Date.now() + wait >= t.expiresAt) {
        schedule(() => void relogin('token expired while the broker was unreachable'), t.expiresAt);
      } else {
        log.warn({ err: e.message, retry_ms: Math.round(wait) }, 'token renewal failed; retrying');
        schedule(() => void renew(attempt + 1), Date.now() + wait);
      }
    }
  }

  async function doLogin(): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        const sent = Date.now();
        const t = await login(cfg, broker);
        const first = logins === 0;
        logins++;
        current = { ...t, expiresAt: sent + t.ttlMs };
        log.info({ method: cfg.auth.method, ttl_s: t.ttlMs / 1000, renewable: t.renewable }, 'authenticated');
        plan();
        if (!first) for (const fn of listeners) fn();
        return t.token;
      } catch (err) {
        const msg = (err as Error).message;
        if (once || stopped) throw err;
        const wait = backoffMs(attempt, cfg.retry.initialMs, cfg.retry.maxMs);
        log.error({ err: msg, retry_ms: Math.round(wait) }, 'login failed; retrying');
        await new Promise((r) => setTimeout(r, wait));
        if (stopped) throw err;
      }
    }
  }

  function relogin(why: string): Promise<string> {
    if (inflight) return inflight;
    log.info({ why }, 'logging in again');
    current = undefined;
    inflight = doLogin().finally(() => {
      inflight = undefined;
    });
    inflight.catch(() => {});
    return inflight;
  }

  return {
    get() {
      if (current && (current.ttlMs <= 0 || current.expiresAt > Date.now())) return Promise.resolve(current.token);
      if (inflight) return inflight;
      inflight = doLogin().finally(() => {
        inflight = undefined;
      });
      return inflight;
    },
    peek: () => current?.token,
    async suspect(token) {
      if (!current || current.token !== token) return;
      try {
        await broker.request('GET', 'auth/token/lookup-self', { token });
      } catch (err) {
        if (err instanceof BrokerError && err.status === 403 && current?.token === token) await relogin('token refused').catch(() => {});
      }
    },
    onNewToken(fn) {
      listeners.push(fn);
    },
    async revoke() {
      const t = current;
      if (!t?.ownedByAgent) return;
      await broker.request('POST', 'auth/token/revoke-self', { token: t.token });
      log.info('token revoked');
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
