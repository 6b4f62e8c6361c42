import { verifyAuditLog } from './audit-api.ts';
import { runVerifyFile } from './audit-offline.ts';
import { checkAnchorAndWitnesses, fetchCheckpoint, logKey, proveEntry, readText, witnessKeys } from './audit-tree.ts';
import { EXIT_BROKEN, EXIT_OK, UsageError } from './errors.ts';
import { boolFlag, formatFlag, listFlag, parseFlags, stringFlag } from './flags.ts';
import { Client, clientConfigFromEnv } from './http.ts';
import { json, renderKeyValue } from './output.ts';
import { ENV_HELP } from './usage.ts';

type Env = Readonly<Record<string, string | undefined>>;

export const VERIFY_USAGE = `usage: sealbox audit verify [-anchor FILE] [-witness-key FILE]... [options]
       sealbox audit verify -file FILE [-public-key KEY] [-anchor FILE] [-witness-key FILE]... [options]

Without -file, asks the server to walk the Merkle log (GET sys/audit-log/verify): every entry's leaf hash and
copied columns, the tree root at every signed checkpoint and at the head, a checkpoint at every multiple of the
configured cadence, no unsigned entry older than the configured seconds, and the signed prune mark. With -anchor
or -witness-key it also checks, here and not on the server, that the latest checkpoint is signed by the log key
and is an append-only extension (RFC 9162 consistency proof) of the anchor and of what each witness cosigned.
With -file, checks an export written by "sealbox audit export" offline in the same way.

  -file FILE           the export to check offline ("-" reads stdin)
  -anchor FILE         a checkpoint saved earlier ("sealbox audit checkpoint > FILE"): the log must extend it
  -witness-key FILE    a witness's verifier key (repeatable): it must have cosigned a checkpoint the log extends
  -public-key KEY      the log's signing key, base64, or @FILE. Obtain it separately (sealbox audit public-key,
                       ahead of time): without it, the key the server (or the export's header) names is used.
  -progress            show progress on stderr even when stderr is not a terminal
  -format FORMAT       table (default) or json

Prints ok, checked (entries verified) and first_bad_seq (the first sequence number that does not check).
Exit status: 0 when the log verifies, 3 when it does not, 1 for a usage error, 2 for an API or file error.

${ENV_HELP}
`;

export const CHECKPOINT_USAGE = `usage: sealbox audit checkpoint

Prints the latest signed checkpoint (a C2SP tlog-checkpoint signed note, with any witness cosignatures), as served
by GET sys/audit-log/checkpoint. Save it ("sealbox audit checkpoint > anchor.txt") and later run
"sealbox audit verify -anchor anchor.txt": the log must then be an append-only extension of it.

${ENV_HELP}
`;

export const PROVE_USAGE = `usage: sealbox audit prove [-public-key KEY] [-format table|json] SEQ

Checks that entry SEQ is in the log: fetches the latest checkpoint (checking its signature), the entry, and its
RFC 9162 inclusion proof, and verifies the proof here. Exit 0 when it is included, 3 when not.

${ENV_HELP}
`;

export async function runVerify(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, {
    file: { type: 'string', aliases: ['f'] },
    'public-key': { type: 'string' },
    anchor: { type: 'string' },
    'witness-key': { type: 'string' },
    progress: { type: 'boolean' },
    format: { type: 'string' },
  });
  if (f.help) {
    process.stdout.write(VERIFY_USAGE);
    return EXIT_OK;
  }
  if (f.positional.length > 0) throw new UsageError(`unexpected argument "${f.positional[0] ?? ''}"`);
  const format = formatFlag(f);
  const anchorFile = stringFlag(f, 'anchor');
  const anchor = anchorFile === undefined ? undefined : readText(anchorFile, 'flag -anchor');
  const witnesses = witnessKeys(listFlag(f, 'witness-key'));
  const file = stringFlag(f, 'file');
  if (file !== undefined) {
    return runVerifyFile({ file, publicKey: stringFlag(f, 'public-key'), progress: boolFlag(f, 'progress'), format, anchor, witnesses });
  }
  const client = new Client(clientConfigFromEnv(env));
  try {
    if (process.stderr.isTTY && format === 'table') process.stderr.write('Verifying the audit log on the server…\n');
    const key = await logKey(client, stringFlag(f, 'public-key'));
    const r = await verifyAuditLog(client, { anchor, witness_keys: witnesses.length > 0 ? witnesses.join(',') : undefined });
    const local = anchor !== undefined || witnesses.length > 0 ? await checkAnchorAndWitnesses(client, key, anchor, witnesses) : null;
    const problems = [...((r.problems as string[] | undefined) ?? []), ...(local?.problems ?? [])];
    const ok = r.ok && (local?.ok ?? true);
    // The server names the seq; when only the client-side proof fails (a server that lies), nothing after 0 can be trusted.
    const firstBad = r.first_bad_seq ?? (ok ? null : 1);
    const out = { ...r, ok, first_bad_seq: firstBad, problems, ...(local ? { client_checks: local } : {}) };
    if (format === 'json') process.stdout.write(json(out));
    else process.stdout.write(renderKeyValue([['ok', ok], ['checked', r.checked], ['first_bad_seq', firstBad]]));
    for (const p of problems) process.stderr.write(`problem: ${p}\n`);
    if (!ok) {
      process.stderr.write(`The audit log does NOT verify: the first entry that does not check is seq ${firstBad ?? '?'}.\n`);
      return EXIT_BROKEN;
    }
    return EXIT_OK;
  } finally {
    client.close();
  }
}

export async function runCheckpoint(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, {});
  if (f.help) {
    process.stdout.write(CHECKPOINT_USAGE);
    return EXIT_OK;
  }
  if (f.positional.length > 0) throw new UsageError(`unexpected argument "${f.positional[0] ?? ''}"`);
  const client = new Client(clientConfigFromEnv(env));
  try {
    process.stdout.write(await fetchCheckpoint(client));
    return EXIT_OK;
  } finally {
    client.close();
  }
}

export async function runProve(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, { 'public-key': { type: 'string' }, format: { type: 'string' } });
  if (f.help) {
    process.stdout.write(PROVE_USAGE);
    return EXIT_OK;
  }
  const format = formatFlag(f);
  const [raw, ...extra] = f.positional;
  if (raw === undefined || !/^[1-9]\d{0,15}$/.test(raw)) throw new UsageError('SEQ must be a sequence number (1 or more)');
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0] ?? ''}"`);
  const client = new Client(clientConfigFromEnv(env));
  try {
    const r = await proveEntry(client, Number(raw), await logKey(client, stringFlag(f, 'public-key')));
    if (format === 'json') process.stdout.write(json(r));
    else process.stdout.write(renderKeyValue([['ok', r.ok], ['seq', r.seq], ['tree_size', r.tree_size], ['root_hash', r.root_hash], ['leaf_hash', r.leaf_hash]]));
    if (r.problem) process.stderr.write(`problem: ${r.problem}\n`);
    return r.ok ? EXIT_OK : EXIT_BROKEN;
  } finally {
    client.close();
  }
}
