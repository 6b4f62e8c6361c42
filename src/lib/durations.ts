import { badRequest } from './errors.ts';

/** Go's time.ParseDuration units, plus Vault's `d` (days). */
const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, μs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600, d: 86400 };

/** The longest duration accepted anywhere: 10 years. Longer values overflow dates and int4 columns downstream. */
export const MAX_DURATION_SECONDS = 315_360_000;

function bounded(seconds: number, field: string): number {
  if (!Number.isSafeInteger(seconds) || seconds > MAX_DURATION_SECONDS) {
    throw badRequest(`${field}: must be at most 10 years (${MAX_DURATION_SECONDS} seconds)`);
  }
  return seconds;
}

/**
 * Parses a Vault duration (its ParseDurationSecond): a number of seconds (number or numeric string, fractions cut
 * off), a Go duration such as "90s", "1h30m", "2160h0m0s", "1.5h", "500ms", or days ("7d"); "" is 0. Returns whole
 * seconds, at most 10 years. Throws a 400 naming `field` on anything else (negative durations included).
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return bounded(Math.floor(value), field);
    throw badRequest(`${field}: must be a non-negative number of seconds`);
  }
  if (typeof value !== 'string') throw badRequest(`${field}: must be a duration such as "30m" or a number of seconds`);
  const s = value.trim();
  if (s === '') return 0;
  if (/^\d+(\.\d*)?$/.test(s)) return bounded(Math.floor(Number(s)), field);
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1);
    matched = re.lastIndex;
  }
  // A tiny epsilon: 0.1h is 359.99999… in binary floating point.
  total = Math.floor(total + 1e-9);
  if (matched !== s.length) {
    throw badRequest(`${field}: "${s.slice(0, 40)}" is not a duration such as "30m", "1h30m" or a number of seconds`);
  }
  return bounded(total, field);
}

/** Formats seconds the way Vault prints durations in config reads ("0s", "1h0m0s"). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}
