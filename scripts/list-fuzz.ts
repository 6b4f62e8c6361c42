// The long fuzz run of the LIST rewrite against Node's own HTTP parser (test/list-method.test.ts runs a bounded one).
//
//   node --import tsx scripts/list-fuzz.ts [--seed N] [--count N] [--every-split-max BYTES]
//
// Every case runs with random splits; cases up to --every-split-max bytes (default 160) also at every single split.
// Exits 1 and prints the first failing case (its stream and both runs) when the rewrite and Node disagree.
import { checkCase, randomCase, randomSplits, seededRng } from '../test/helpers/list-fuzz.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} must be a whole number`);
  return v;
}

const seed = arg('seed', Date.now() % 2 ** 31);
const count = arg('count', 20_000);
const everySplitMax = arg('every-split-max', 160);
const rng = seededRng(seed);
const started = Date.now();
let runs = 0;
let stricter = 0;
const reasons = new Map<string, number>();
for (let i = 0; i < count; i++) {
  const c = randomCase(rng);
  const splits = [randomSplits(rng, c.stream.length)];
  if (c.stream.length <= everySplitMax) for (let cut = 1; cut < c.stream.length; cut++) splits.push([cut]);
  for (const cuts of splits) {
    runs++;
    const v = await checkCase(c.stream, cuts);
    if (!v.ok || (c.mutation === null && v.stricter)) {
      process.stdout.write(`FAIL seed=${seed} case=${i} mutation=${c.mutation ?? 'none'} cuts=${JSON.stringify(cuts)}\n`);
      process.stdout.write(`${JSON.stringify(c.stream.toString('latin1'))}\n${JSON.stringify({ actual: v.actual, expected: v.expected }, null, 1)}\n`);
      process.exit(1);
    }
    if (v.stricter) {
      stricter++;
      const key = `${c.mutation ?? 'none'}: ${v.actual.stopReason ?? ''}`;
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
  }
  if ((i + 1) % 1000 === 0) process.stdout.write(`${i + 1} cases, ${runs} runs, ${Math.round((Date.now() - started) / 1000)} s\n`);
}
process.stdout.write(`ok: seed=${seed} cases=${count} runs=${runs} stricter=${stricter} in ${Math.round((Date.now() - started) / 1000)} s\n`);
for (const [k, n] of [...reasons].sort((a, b) => b[1] - a[1])) process.stdout.write(`  stricter than Node (${n}): ${k}\n`);
