import test from 'ava';
import { formatDuration, MAX_DURATION_SECONDS, parseDuration } from './durations.ts';
import { AppError } from './errors.ts';

test('numbers and numeric strings are seconds, fractions cut off', (t) => {
  t.is(parseDuration(90, 'ttl'), 90);
  t.is(parseDuration(1.9, 'ttl'), 1);
  t.is(parseDuration('3600', 'ttl'), 3600);
  t.is(parseDuration('12.7', 'ttl'), 12);
  t.is(parseDuration('', 'ttl'), 0);
  t.is(parseDuration('  45  ', 'ttl'), 45);
});

test('Go durations and days, in any combination of units', (t) => {
  t.is(parseDuration('90s', 'ttl'), 90);
  t.is(parseDuration('1h30m', 'ttl'), 5400);
  t.is(parseDuration('2160h0m0s', 'ttl'), 2160 * 3600);
  t.is(parseDuration('1.5h', 'ttl'), 5400);
  t.is(parseDuration('0.1h', 'ttl'), 360, 'binary floating point does not lose a second');
  t.is(parseDuration('7d', 'ttl'), 7 * 86400);
  t.is(parseDuration('500ms', 'ttl'), 0);
  t.is(parseDuration('1500ms', 'ttl'), 1);
  t.is(parseDuration('.5m', 'ttl'), 30);
  t.is(parseDuration('1s1s', 'ttl'), 2);
});

test('anything else is a 400 naming the field', (t) => {
  for (const bad of ['-5s', '5 s', '5x', 'h', '1h-30m', '1h30', 'abc', '5s junk']) {
    const err = t.throws(() => parseDuration(bad, 'max_ttl'), { instanceOf: AppError }, bad);
    t.is(err?.code, 'bad_request');
    t.regex(err?.message ?? '', /^max_ttl: /);
  }
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, true, null, {}, ['1h']]) {
    t.throws(() => parseDuration(bad, 'ttl'), { instanceOf: AppError }, String(bad));
  }
});

test('ten years is the ceiling, in every notation', (t) => {
  t.is(parseDuration(MAX_DURATION_SECONDS, 'ttl'), MAX_DURATION_SECONDS);
  t.is(parseDuration(`${MAX_DURATION_SECONDS}s`, 'ttl'), MAX_DURATION_SECONDS);
  t.throws(() => parseDuration(MAX_DURATION_SECONDS + 1, 'ttl'), { message: /10 years/ });
  t.throws(() => parseDuration('3651d', 'ttl'), { message: /10 years/ });
  t.throws(() => parseDuration('9'.repeat(30), 'ttl'), { message: /10 years/ });
});

test('formatDuration prints as Vault does and reads back to the same seconds', (t) => {
  t.is(formatDuration(0), '0s');
  t.is(formatDuration(59), '59s');
  t.is(formatDuration(60), '1m0s');
  t.is(formatDuration(3600), '1h0m0s');
  t.is(formatDuration(90061), '25h1m1s');
  for (const s of [0, 1, 61, 3599, 3600, 86_400 * 32 + 7]) t.is(parseDuration(formatDuration(s), 'ttl'), s);
});
