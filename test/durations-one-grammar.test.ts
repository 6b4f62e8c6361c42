// One duration grammar (src/lib/durations.ts) for request fields, the CLI's audit flags and config; one pair of formats.
import test from 'ava';
import { durationMs } from '../src/cli/audit.ts';
import { formatDuration as cliFormat } from '../src/cli/secret-output.ts';
import { durationSeconds, formatDuration, formatDurationShort, parseDuration } from '../src/lib/durations.ts';

test('the grammar: seconds, Go durations and days', (t) => {
  t.is(durationSeconds('90'), 90);
  t.is(durationSeconds('1h30m'), 5400);
  t.is(durationSeconds('500ms'), 0.5);
  t.is(durationSeconds('7d'), 604_800);
  t.is(durationSeconds('1.5h'), 5400);
  for (const bad of ['', 'soon', '1h 30m', '-5s', '1x', 'h']) t.is(durationSeconds(bad), undefined, bad);
});

test('request fields, CLI flags and output all go through it', (t) => {
  t.is(parseDuration('1h30m', 'ttl'), 5400);
  t.is(parseDuration('', 'ttl'), 0);
  t.throws(() => parseDuration('soon', 'ttl'), { message: /^ttl: "soon" is not a duration/ });
  t.is(durationMs('1h30m'), 5_400_000);
  t.is(durationMs('500ms'), 500);
  t.is(durationMs('2x'), undefined);
  t.is(formatDuration(5400), '1h30m0s');
  t.is(formatDurationShort(2_764_800), '768h');
  t.is(cliFormat(90), '1m30s');
  t.is(cliFormat('n/a'), 'n/a');
});
