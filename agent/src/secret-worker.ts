/**
 * One configured secret in running mode: fetch, render, write when the content changed (then on_change),
 * renew its lease at about 2/3 of the remaining TTL, fetch a new one with margin once the lease cannot be
 * extended, re-issue certificates, poll when there is no event stream, back off while the broker is down, and
 * remove the file once what it holds has expired.
 */
import type { Logger } from './log.ts';
import { checkDestination, readCurrent, removeFile, writeFileAtomic } from './atomic-write.ts';
import { BrokerError, type Broker } from './broker-client.ts';
import type { SecretConfig } from './config.ts';
import { fetchSecret, type Fetched, type Lease } from './fetch-secret.ts';
import { createChangeNotifier, type ChangeNotifier } from './on-change.ts';
import type { TokenKeeper } from './token-keeper.ts';
import { backoffMs, jitter, twoThirds } from './timing.ts';

/** Fetch a new credential at least this long before its lease ends (or a third of its duration if longer). */
const MIN_MARGIN_MS = 2000;

export interface WorkerDeps {
  broker: Broker;
  tokens: TokenKeeper;
  log: Logger;
  retry: { initialMs: number; maxMs: number };
  /** Current poll interval (longer while the event stream is up). */
  pollMs: () => number;
}

export interface WorkerStatus {
  destination: string;
  path: string;
  written: boolean;
  version: number | undefined;
  lease_expires_at: string | undefined;
  last_error: string | undefined;
}

type Action = 'fetch' | 'renew';

export class SecretWorker {
  written = false;
  private content: Buffer | undefined;
  private lease: Lease | undefined;
  private validUntil: number | undefined;
  private version: number | undefined;
  private lastError: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private again: Action | undefined;
  private attempt = 0;
  /** The agent removed an expired file: the next write is a change the app must hear about. */
  private removed = false;
  private stopped = false;
  private inFlight: Promise<void> | undefined;
  private readonly notifier: ChangeNotifier;
  private readonly log: Logger;
  /** The version last acknowledged to the broker, and the heartbeat that re-sends it (secret.ack). */
  private acked: number | undefined;
  private ackTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly secret: SecretConfig,
    private readonly deps: WorkerDeps,
  ) {
    this.log = deps.log.child({ destination: secret.destination, path: secret.path });
    this.notifier = createChangeNotifier(secret.onChange, { SEALBOX_AGENT_DESTINATION: secret.destination, SEALBOX_AGENT_PATH: secret.path }, this.log);
  }

  get hasLease(): boolean {
    return this.lease !== undefined;
  }

  get eventDriven(): boolean {
    return this.lease === undefined;
  }

  status(): WorkerStatus {
    return {
      destination: this.secret.destination,
      path: this.secret.path,
      written: this.written,
      version: this.version,
      lease_expires_at: this.lease ? new Date(this.lease.expiresAt).toISOString() : undefined,
      last_error: this.lastError,
    };
  }

  /** Run `action` now (coalesced with one already running). */
  trigger(action: Action = 'fetch'): void {
    if (this.stopped) return;
    if (this.busy) {
      if (this.again !== 'fetch') this.again = action;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.inFlight = this.run(action);
  }

  /** Stops scheduling; resolves when a fetch or renewal in flight has finished (at most `waitMs`). */
  async stop(waitMs = 1000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.ackTimer) clearInterval(this.ackTimer);
    if (this.inFlight) await Promise.race([this.inFlight, new Promise((r) => setTimeout(r, waitMs))]);
  }

  idle(): Promise<void> {
    return this.notifier.idle();
  }

  /** revoke_on_shutdown: revoke the lease and remove the file that holds its (now dead) credential. */
  async revoke(): Promise<void> {
    const lease = this.lease;
    if (!lease) return;
    const token = this.deps.tokens.peek();
    await this.deps.broker.request('PUT', 'sys/leases/revoke', { token, body: { lease_id: lease.id } });
    this.lease = undefined;
    await removeFile(this.secret.destination);
    this.log.info('lease revoked and file removed');
  }

  private schedule(action: Action, at: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.trigger(action), Math.max(0, at - Date.now()));
  }

  private async run(action: Action): Promise<void> {
    this.busy = true;
    try {
      if (action === 'renew' && this.lease?.renewable) await this.renew(this.lease);
      else await this.fetch();
      this.attempt = 0;
      this.lastError = undefined;
    } catch (err) {
      await this.failed(err, action);
    } finally {
      this.busy = false;
    }
    const next = this.again;
    this.again = undefined;
    if (next) this.trigger(next);
  }

  private async fetch(): Promise<void> {
    const token = await this.deps.tokens.get();
    let fetched: Fetched;
    try {
      fetched = await fetchSecret(this.deps.broker, token, this.secret, Date.now, Math.random);
    } catch (err) {
      if (err instanceof BrokerError && err.status === 403) await this.deps.tokens.suspect(token);
      throw err;
    }
    // Stopped while fetching: keep the lease (revoke_on_shutdown revokes it) but write no file the shutdown won't clean up.
    if (!this.stopped) await this.apply(fetched);
    if (!this.stopped && this.secret.ack && fetched.version !== undefined) void this.acknowledge(fetched.version);
    this.lease = fetched.lease;
    this.validUntil = fetched.validUntil;
    this.version = fetched.version;
    this.planAfterFetch(fetched);
  }

  /** Write if the content changed; on_change only when a file with other content was replaced. */
  async apply(f: Fetched): Promise<void> {
    const next = Buffer.from(f.content);
    if (this.content === undefined) this.content = await readCurrent(this.secret.destination);
    const existed = this.content !== undefined || this.removed;
    if (this.content?.equals(next)) {
      if (!this.written) this.log.info({ version: f.version }, 'file already up to date');
      else this.log.debug({ version: f.version }, 'file unchanged');
      this.written = true;
      return;
    }
    await writeFileAtomic(this.secret, next);
    this.content = next;
    this.written = true;
    this.removed = false;
    this.log.info({ version: f.version, lease_s: f.lease ? f.lease.durationMs / 1000 : undefined }, 'file written');
    if (existed) this.notifier.notify();
  }

  /**
   * Tells the broker this version is applied: after the file was written and on_change (if any) succeeded. A failed
   * on_change is not acknowledged (the broker keeps the previous credential alive until the grace ends).
   */
  private async acknowledge(version: number): Promise<void> {
    await this.notifier.idle();
    if (!this.notifier.lastOk || this.stopped) return;
    try {
      const token = await this.deps.tokens.get();
      await this.deps.broker.request('PUT', 'sys/consumers/ack', { token, body: { path: this.secret.path, version } });
      if (this.acked !== version) this.log.info({ version }, 'version acknowledged');
      this.acked = version;
    } catch (err) {
      this.log.warn({ version, err: (err as Error).message }, 'could not acknowledge the version; will try again');
    }
    this.ackTimer ??= setInterval(() => {
      if (this.acked !== undefined) void this.acknowledge(this.acked);
    }, this.secret.ackIntervalMs);
    this.ackTimer.unref();
  }

  private margin(lease: Lease): number {
    return Math.max(lease.durationMs / 3, MIN_MARGIN_MS);
  }

  private planAfterFetch(f: Fetched): void {
    const now = Date.now();
    let at = Number.POSITIVE_INFINITY;
    let action: Action = 'fetch';
    if (f.lease) {
      const l = f.lease;
      if (l.renewable && l.expiresAt - now > this.margin(l)) {
        at = twoThirds(now, l.expiresAt);
        action = 'renew';
      } else {
        at = l.renewable ? l.expiresAt - jitter(this.margin(l), 0.1) : twoThirds(now, l.expiresAt);
      }
    }
    if (f.refreshAt !== undefined && f.refreshAt < at) {
      at = f.refreshAt;
      action = 'fetch';
    }
    if (!f.lease && f.refreshAt === undefined) at = now + jitter(this.deps.pollMs(), 0.1);
    this.schedule(action, Math.max(now, at));
  }

  private async renew(lease: Lease): Promise<void> {
    const token = await this.deps.tokens.get();
    // Counted from the request, not the answer (see fetchSecret): a slow answer leaves less time, never more.
    const sent = Date.now();
    const res = await this.deps.broker.request('PUT', 'sys/leases/renew', { token, body: { lease_id: lease.id, increment: Math.round(lease.durationMs / 1000) } });
    const now = Date.now();
    const d = (res.lease_duration ?? 0) * 1000;
    const expiresAt = sent + d;
    const capped = res.renewable === false || d < lease.durationMs - 1000 || expiresAt <= lease.expiresAt + 250;
    this.lease = { ...lease, expiresAt: Math.max(expiresAt, now), renewable: !capped };
    this.validUntil = this.lease.expiresAt;
    const margin = this.margin(lease);
    if (!capped && expiresAt - now > margin) {
      this.log.debug({ ttl_s: d / 1000 }, 'lease renewed');
      this.schedule('renew', twoThirds(now, expiresAt));
    } else {
      const at = Math.max(now, expiresAt - jitter(margin, 0.1));
      this.log.info({ ttl_s: d / 1000, refetch_in_ms: Math.round(at - now) }, 'lease reached its max TTL; fetching a new credential before it ends');
      this.schedule('fetch', at);
    }
  }

  private async failed(err: unknown, action: Action): Promise<void> {
    const msg = (err as Error).message;
    this.lastError = msg;
    const now = Date.now();
    // A renewal the broker refuses (lease gone, revoked, expired): get a new credential now.
    if (action === 'renew' && err instanceof BrokerError && !err.transient) {
      this.log.warn({ err: msg }, 'lease renewal refused; fetching a new credential');
      this.lease = undefined;
      this.schedule('fetch', now);
      return;
    }
    if (this.validUntil !== undefined && now >= this.validUntil) await this.expire();
    const wait = backoffMs(this.attempt++, this.deps.retry.initialMs, this.deps.retry.maxMs);
    let at = now + wait;
    // Wake up when the file's content expires, to remove it on time.
    if (this.validUntil !== undefined && this.validUntil > now) at = Math.min(at, this.validUntil);
    this.log.warn({ err: msg, retry_ms: Math.round(at - now) }, `${action} failed; keeping the last good file`);
    this.schedule(action === 'renew' && this.lease ? 'renew' : 'fetch', at);
  }

  private async expire(): Promise<void> {
    this.validUntil = undefined;
    this.lease = undefined;
    try {
      if (await removeFile(this.secret.destination)) {
        this.log.warn('the credential in the file expired and could not be replaced; file removed');
        this.content = undefined;
        this.removed = true;
        this.notifier.notify();
      }
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'could not remove the expired file');
    }
  }

  /** Start-up check that the destination is writable. */
  check(): Promise<void> {
    return checkDestination(this.secret);
  }
}
