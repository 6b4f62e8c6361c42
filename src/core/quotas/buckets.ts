/**
 * The local half of the hybrid limiter: per (quota, client) state in this replica, refilled from the shared
 * PostgreSQL counter in chunks.
 *
 * How the replicas agree. Time is cut into fixed windows of `interval` seconds on the *database* clock (as Vault's
 * limiter refills its bucket every interval; only a broker on a test's FakeClock cuts them on that clock instead, see
 * `windows` in quotas.ts). The database holds one counter per (quota, client) and window. A replica
 * that has no local tokens left reserves a chunk of `chunk = max(1, floor(limit / 10))` with one
 * `INSERT … ON CONFLICT DO UPDATE SET used = used + chunk RETURNING used` and keeps only the part of that chunk that
 * still fits under the limit, `min(chunk, limit - (used - chunk))`. Reservations are serialised by the row lock, so
 * the granted parts of all reservations in a window never add up to more than `limit`:
 *
 *   - N replicas together admit at most `limit` requests per window per client, never more. What the chunks cost
 *     is fairness, not safety: a replica may hold up to `chunk - 1` unspent tokens while another already refuses
 *     (so N replicas may under-admit by up to N × (chunk - 1)), and at most one reservation per chunk reaches
 *     PostgreSQL (about 10 writes per client per window per replica, 1 per request only when limit < 20).
 *   - A token reserved just before a window ends may be spent up to one database round trip after it ended.
 *   - As with any fixed window (and Vault's limiter), a client can pass `limit` at the end of one window and
 *     `limit` again at the start of the next.
 *   - If PostgreSQL cannot be reached, each replica falls back to `limit` per window on its own (N × limit in all)
 *     rather than refusing everyone, and says so in its log.
 *
 * A client that is refused while the quota has a block interval is blocked in PostgreSQL too (`blocked_until`),
 * and every replica learns it at its next reservation.
 */
import type { Reservation } from '../../storage/quotas-store.ts';

export interface Bucket {
  /** Locally reserved tokens, spendable until `windowEndsAt`. */
  tokens: number;
  /** Local-clock ms when the window these tokens belong to ends. */
  windowEndsAt: number;
  /** The shared counter is full for this window: refuse without asking PostgreSQL again. */
  exhausted: boolean;
  blockedUntil: number;
  /** What the shared counter had left at the last reservation (for X-Ratelimit-Remaining). */
  sharedLeft: number;
  /** The reservation in flight, which concurrent requests for the same client wait for. */
  pending: Promise<void> | null;
  /** A refusal in this window has been logged already. */
  reported: boolean;
  /** A reservation failed in this window: limit locally until the next one. */
  offline: boolean;
}

export interface QuotaParams {
  name: string;
  /** Requests per window. */
  limit: number;
  chunk: number;
  intervalMs: number;
  blockMs: number;
}

export interface Decision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window ends. */
  resetSeconds: number;
  /** Seconds until a refused client may try again (0 when allowed). */
  retryAfterSeconds: number;
  /** This refusal is the first one in the client's window: worth one log line. */
  firstRefusal: boolean;
}

export type Reserve = (n: number) => Promise<Reservation>;

export const newBucket = (): Bucket => ({
  tokens: 0,
  windowEndsAt: 0,
  exhausted: false,
  blockedUntil: 0,
  sharedLeft: 0,
  pending: null,
  reported: false,
  offline: false,
});

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

function refuse(q: QuotaParams, b: Bucket, now: number, untilMs: number): Decision {
  const firstRefusal = !b.reported;
  b.reported = true;
  return {
    allowed: false,
    limit: q.limit,
    remaining: 0,
    resetSeconds: seconds(b.windowEndsAt - now),
    retryAfterSeconds: seconds(untilMs - now),
    firstRefusal,
  };
}

/** Applies one reservation's answer to the bucket. */
function apply(q: QuotaParams, b: Bucket, n: number, r: Reservation, now: number): void {
  const windowEndsAt = now + r.windowLeft * 1000;
  if (windowEndsAt > b.windowEndsAt + q.intervalMs / 2) {
    // A new window (the estimates of one window's end differ only by round-trip times): old tokens are void.
    b.tokens = 0;
    b.reported = false;
  }
  b.windowEndsAt = windowEndsAt;
  const granted = Math.max(0, Math.min(n, q.limit - (r.used - n)));
  b.tokens += granted;
  b.sharedLeft = Math.max(0, q.limit - r.used);
  b.exhausted = granted < n;
  if (r.blockedLeft > 0) {
    b.blockedUntil = now + r.blockedLeft * 1000;
    b.tokens = 0;
  }
}

/**
 * When PostgreSQL cannot be reached: this replica alone admits `limit` per local window. Mid-window (some tokens of
 * the shared window were spent already) the rest of the window is refused, which errs on the safe side.
 */
function applyLocalFallback(q: QuotaParams, b: Bucket, now: number): void {
  if (b.windowEndsAt <= now) {
    b.windowEndsAt = (Math.floor(now / q.intervalMs) + 1) * q.intervalMs;
    b.tokens = q.limit;
  }
  b.exhausted = true;
  b.offline = true;
  b.sharedLeft = 0;
}

/**
 * Takes one token for a request, reserving from the shared counter when the local tokens are spent.
 * `onReserveError` is told about database failures (the bucket then falls back to local limiting).
 */
export async function take(
  q: QuotaParams,
  b: Bucket,
  clockMs: () => number,
  reserve: Reserve,
  onReserveError: (err: unknown) => void,
): Promise<Decision> {
  // Each pass either returns or waits for a reservation that grants tokens or marks the window full, and there are
  // at most about limit / chunk + 2 reservations per window; the bound only guards against surprises.
  for (let pass = 0; pass < 64; pass++) {
    const now = clockMs();
    if (b.blockedUntil > now) return refuse(q, b, now, b.blockedUntil);
    if (b.windowEndsAt <= now) {
      b.tokens = 0;
      b.exhausted = false;
      b.reported = false;
      b.offline = false;
    }
    if (b.tokens > 0) {
      b.tokens -= 1;
      return {
        allowed: true,
        limit: q.limit,
        remaining: b.tokens + b.sharedLeft,
        resetSeconds: seconds(b.windowEndsAt - now),
        retryAfterSeconds: 0,
        firstRefusal: false,
      };
    }
    // Full: refuse locally, unless a block must be recorded where the other replicas will see it.
    if (b.exhausted && (q.blockMs === 0 || b.reported || b.offline)) {
      if (q.blockMs > 0) b.blockedUntil = now + q.blockMs;
      return refuse(q, b, now, q.blockMs > 0 ? b.blockedUntil : b.windowEndsAt);
    }
    if (!b.pending) {
      const n = b.exhausted ? 1 : q.chunk;
      b.pending = reserve(n)
        .then(
          (r) => apply(q, b, n, r, clockMs()),
          (err: unknown) => {
            onReserveError(err);
            applyLocalFallback(q, b, clockMs());
          },
        )
        .finally(() => {
          b.pending = null;
        });
    }
    await b.pending;
  }
  const now = clockMs();
  return refuse(q, b, now, now + 1000);
}

/** Whether a bucket holds nothing worth keeping (its window and block are over). */
export const idle = (b: Bucket, now: number): boolean => b.pending === null && b.windowEndsAt <= now && b.blockedUntil <= now;
