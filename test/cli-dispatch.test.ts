// One command dispatcher (src/cli/command.ts) for every command group, `sealbox audit` included: a subcommand is an
// own property of its group, so "toString", "constructor" or "__proto__" are unknown commands (usage, exit 1), not
// "cmd.run is not a function". Needs no broker: the CLI refuses before it connects.
import test from 'ava';
import { runCli } from './helpers/cli.ts';

const nowhere = { address: 'http://127.0.0.1:1', rootToken: 'unused' };

for (const args of [['audit', 'toString'], ['audit', 'constructor'], ['audit', '__proto__'], ['audit', 'frobnicate'], ['kv', 'toString'], ['operator', 'hasOwnProperty'], ['toString'], ['frobnicate']]) {
  test(`sealbox ${args.join(' ')}: a usage error, exit 1`, async (t) => {
    const r = await runCli(nowhere, args);
    t.is(r.code, 1, r.stderr);
    t.regex(r.stderr, new RegExp(`unknown command "${args.at(-1) ?? ''}"[\\s\\S]*usage: sealbox`));
    t.notRegex(r.stderr, /is not a function|TypeError/);
  });
}

test('sealbox audit with a known command still reaches it: a bad flag is its own usage error', async (t) => {
  const r = await runCli(nowhere, ['audit', 'search', '-since', 'yesterday-ish']);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /^sealbox audit search: flag -since: "yesterday-ish" is neither a time/);
});
