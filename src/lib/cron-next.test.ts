import test from 'ava';
import cron from 'node-cron';
import { cronSlotsAfter, nextCronSlot } from './cron-next.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;
const at = (s: string) => new Date(s);

test('slots come from the given instant, not from the wall clock', (t) => {
  t.is(iso(nextCronSlot('*/3 * * * * *', at('2031-05-06T07:08:09.500Z'))), '2031-05-06T07:08:12.000Z');
  t.is(iso(nextCronSlot('*/3 * * * * *', at('2031-05-06T07:08:09.000Z'))), '2031-05-06T07:08:12.000Z', 'strictly after');
  t.is(iso(nextCronSlot('0 0 1 1 *', at('2031-05-06T07:08:09Z'))), '2032-01-01T00:00:00.000Z');
  t.is(iso(nextCronSlot('0 30 3 * * 1-5', at('2031-05-09T04:00:00Z'))), '2031-05-12T03:30:00.000Z', 'Friday after 03:30: Monday');
  t.is(iso(nextCronSlot('0 0 L * *', at('2031-02-03T00:00:00Z'))), '2031-02-28T00:00:00.000Z');
  t.is(iso(nextCronSlot('0 0 29 2 *', at('2097-03-01T00:00:00Z'))), '2104-02-29T00:00:00.000Z', '2100 is not a leap year');
  t.deepEqual(cronSlotsAfter('0 */20 * * * *', at('2031-05-06T23:30:00Z'), 3).map(iso), ['2031-05-06T23:40:00.000Z', '2031-05-07T00:00:00.000Z', '2031-05-07T00:20:00.000Z']);
});

test('the same slots as node-cron counts from now', (t) => {
  for (const p of ['*/3 * * * * *', '15 * * * * *', '0 */10 * * * *', '* * * * *', '5,10 7 * * 0', '0 0 * * 5L', '0 0 * * 1#2', '0 12 13 * 5', '*/7 */5 * * * *', '0 0 31 * *']) {
    const task = cron.createTask(p, () => undefined, { timezone: 'UTC' });
    const now = new Date();
    const theirs = task.getNextRuns(4).map(iso);
    void task.destroy();
    // node-cron read the wall clock a moment before `now`: a slot in between would show as one less here.
    const ours = cronSlotsAfter(p, new Date(now.getTime() - 1000), 5).map(iso);
    t.deepEqual(ours.filter((d) => theirs.includes(d)), theirs, p);
  }
});
