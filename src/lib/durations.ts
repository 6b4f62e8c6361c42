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
 * The one duration grammar (Vault's ParseDurationSecond): a number of seconds ("90", "1.5"), or a Go duration such
 * as "90s", "1h30m", "2160h0m0s", "1.5h", "500ms", plus days ("7d"). Returns seconds (fractions kept), or undefined
 * when `text` is not a duration. "" is not one here; parseDuration reads it as 0.
 */
export function durationSeconds(text: string): number | undefined {
  const s = text.trim();
  if (/^\d+(\.\d*)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1);
    matched = re.lastIndex;
  }
  return matched > 0 && matched === s.length ? total : undefined;
}

/**
 * Parses a request's duration field (durationSeconds, or a number): whole seconds (fractions cut off), at most
 * 10 years; "" is 0. Throws a 400 naming `field` on anything else (negative durations included).
 */
export function parseDuration(value: unknown, field: string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return bounded(Math.floor(value), field);
    throw badRequest(`${field}: must be a non-negative number of seconds`);
  }
  if (typeof value !== 'string') throw badRequest(`${field}: must be a duration such as "30m" or a number of seconds`);
  const s = value.trim();
  if (s === '') return 0;
  const seconds = durationSeconds(s);
  if (seconds === undefined) {
    throw badRequest(`${field}: "${s.slice(0, 40)}" is not a duration such as "30m", "1h30m" or a number of seconds`);
  }
  // A tiny epsilon: 0.1h is 359.99999… in binary floating point.
  return bounded(Math.floor(seconds + 1e-9), field);
}

/** Formats seconds the way Vault prints durations in config reads ("0s", "1h0m0s"). */
export function formatDuration(seconds: number): string {
  if (seconds === 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

/** Formats seconds the way the Vault CLI prints them: 2764800 → "768h", 5400 → "1h30m", 90 → "1m30s", 0 → "0s". */
export function formatDurationShort(seconds: number): string {
  let s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts = `${h > 0 ? `${h}h` : ''}${m > 0 ? `${m}m` : ''}${s > 0 ? `${s}s` : ''}`;
  return parts === '' ? '0s' : parts;
}
