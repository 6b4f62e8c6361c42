import { badRequest } from './errors.ts';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** The longest duration accepted anywhere: 10 years. Longer values overflow dates and int4 columns downstream. */
export const MAX_DURATION_SECONDS = 315_360_000;

function bounded(seconds: number, field: string): number {
  if (!Number.isSafeInteger(seconds) || seconds > MAX_DURATION_SECONDS) {
    throw badRequest(`${field}: must be at most 10 years (${MAX_DURATION_SECONDS} seconds)`);
  }
  return seconds;
}

/**
 * Parses a Vault duration: an integer number of seconds (number or numeric string) or a Go-style
 * string such as "90s", "15m", "1h30m", "7d". Returns whole seconds, at most 10 years. Throws a 400 naming
 * `field` on anything else.
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0) return bounded(value, field);
    throw badRequest(`${field}: must be a non-negative whole number of seconds`);
  }
  if (typeof value !== 'string') throw badRequest(`${field}: must be a duration such as "30m" or a number of seconds`);
  const s = value.trim();
  if (/^\d+$/.test(s)) return bounded(Number(s), field);
  const re = /(\d+)([smhd])/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1);
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length) {
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
