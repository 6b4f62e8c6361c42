/** Jitter and backoff. Randomness and the clock come in as arguments so callers stay testable. */
export type Random = () => number;

/** `ms` ± `fraction` (0.1 = ±10%). */
export function jitter(ms: number, fraction: number, random: Random = Math.random): number {
  return Math.max(0, ms * (1 + fraction * (2 * random() - 1)));
}

/** Delay before retry number `attempt` (0-based): initial·2^attempt capped at max, with ±20% jitter. */
export function backoffMs(attempt: number, initialMs: number, maxMs: number, random: Random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.min(maxMs, jitter(base, 0.2, random));
}

/** When to act on something valid until `expiresAt`: about 2/3 of the remaining time from now, ±10%. */
export function twoThirds(now: number, expiresAt: number, random: Random = Math.random): number {
  return now + jitter(((expiresAt - now) * 2) / 3, 0.1, random);
}
