import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { auditPublicKey, exportPage, type Checkpoint } from './audit-api.ts';
import { ApiError, EXIT_OK, UsageError, errorMessage } from './errors.ts';
import { boolFlag, intFlag, parseFlags, stringFlag } from './flags.ts';
import { Client, clientConfigFromEnv } from './http.ts';
import { Progress } from './progress.ts';
import { ENV_HELP } from './usage.ts';

export const EXPORT_USAGE = `usage: sealbox audit export -o FILE [options]

Writes the whole audit log as JSON Lines, for archiving and for "sealbox audit verify -file FILE":
  {"type":"header","format":"sealbox-audit-export","version":2,"algorithm":"ed25519","public_key":…,"origin":…,
   "exported_at":…,"source":…,"cadence":{"every":…,"seconds":…},"prune_mark":<signed note or null>}
  {"type":"checkpoint","seq":…,"hash":hex,"time":…,"note":"<C2SP signed checkpoint>","frontier":hex}  (every checkpoint)
  {"type":"entry","seq":…,"entry":"<the canonical JSON that is the Merkle leaf>","hash":hex leaf hash} (every entry)
The file is written under a temporary name and renamed once complete, so FILE is never a partial export.
Then, unless -mark=false, the server records that everything up to the last entry has been exported, which allows the
retention job to prune it (entries are never pruned before they have been exported).

  -o, -output FILE     where to write ("-" for stdout)
  -page-size N         entries per request (default 1000, at most 10000)
  -mark=false          do not record the export on the server (a copy that must not allow pruning)
  -progress            show progress on stderr even when stderr is not a terminal

${ENV_HELP}
`;

type Env = Readonly<Record<string, string | undefined>>;

/** Writes with backpressure: waits for 'drain' when the stream's buffer is full. */
async function put(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

export async function runExport(argv: readonly string[], env: Env): Promise<number> {
  const f = parseFlags(argv, {
    output: { type: 'string', aliases: ['o', 'out', 'file'] },
    'page-size': { type: 'string' },
    mark: { type: 'boolean' },
    progress: { type: 'boolean' },
  });
  if (f.help) {
    process.stdout.write(EXPORT_USAGE);
    return EXIT_OK;
  }
  if (f.positional.length > 0) throw new UsageError(`unexpected argument "${f.positional[0] ?? ''}"`);
  const output = stringFlag(f, 'output');
  if (output === undefined || output === '') throw new UsageError('-o FILE is required ("-o -" writes to stdout)');
  const pageSize = intFlag(f, 'page-size', 1, 10_000) ?? 1000;
  const mark = boolFlag(f, 'mark') ?? true;
  const toStdout = output === '-';
  const progress = new Progress({ enabled: boolFlag(f, 'progress') ?? process.stderr.isTTY === true, verb: 'exported' });

  const config = clientConfigFromEnv(env);
  const client = new Client(config);
  const tmp = toStdout ? '' : path.join(path.dirname(output), `.${path.basename(output)}.partial-${process.pid}`);
  let out: fs.WriteStream | NodeJS.WriteStream | undefined;
  let fd: number | undefined;
  try {
    const key = await auditPublicKey(client);
    if (toStdout) {
      out = process.stdout;
    } else {
      try {
        fd = fs.openSync(tmp, 'wx', 0o600);
      } catch (e) {
        throw new ApiError(`cannot write ${output}: ${errorMessage(e)}`);
      }
      out = fs.createWriteStream('', { fd, autoClose: false });
    }
    const outErr = new Promise<never>((_, reject) => out?.once('error', (e: Error) => reject(new ApiError(`cannot write ${output}: ${e.message}`))));
    outErr.catch(() => undefined);
    const write = (text: string) => Promise.race([put(out as NodeJS.WritableStream, text), outErr]);

    let after = 0;
    let last = 0;
    let checkpoints: Checkpoint[] = [];
    /** The log's size when the export began: entries appended since are the next export's (their checkpoints are not in this file). */
    let endAt = Infinity;
    for (let first = true; ; first = false) {
      const page = await exportPage(client, after, pageSize, false);
      if (first) {
        await write(
          `${JSON.stringify({
            type: 'header',
            format: 'sealbox-audit-export',
            version: 2,
            algorithm: key.algorithm,
            public_key: key.public_key,
            origin: key.origin,
            exported_at: new Date().toISOString(),
            source: config.address.origin,
            cadence: page.cadence,
            prune_mark: page.prune_mark ?? null,
          })}\n`,
        );
        endAt = page.through ?? Infinity;
        checkpoints = page.checkpoints ?? [];
        if (checkpoints.length > 0) {
          await write(checkpoints.map((c) => `${JSON.stringify({ type: 'checkpoint', ...c })}\n`).join(''));
        }
      }
      const entries = page.entries.filter((e) => e.seq <= endAt);
      if (entries.length > 0) {
        let chunk = '';
        for (const e of entries) {
          if (e.seq <= last) throw new ApiError(`the server sent seq ${e.seq} after seq ${last}`);
          chunk += `${JSON.stringify({ type: 'entry', seq: e.seq, entry: e.entry, hash: e.hash })}\n`;
          last = e.seq;
        }
        await write(chunk);
        progress.tick(entries.length);
      }
      if (page.next === null || page.next === undefined || page.entries.length === 0 || entries.length < page.entries.length || last >= endAt) break;
      after = page.next;
    }

    if (!toStdout && fd !== undefined) {
      const ws = out as fs.WriteStream;
      await Promise.race([new Promise<void>((resolve) => ws.end(resolve)), outErr]);
      fs.fsyncSync(fd);
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(tmp, output);
    }
    // Marking comes only after the file is complete and durable: a failed export must never let the server prune.
    if (mark && last > 0) await exportPage(client, last - 1, 1, true);
    progress.done();
    const signedThrough = checkpoints.filter((c) => c.seq <= last).reduce((m, c) => Math.max(m, c.seq), 0);
    process.stderr.write(
      `Exported ${progress.entries} entries (through seq ${last}) and ${checkpoints.length} signed checkpoints` +
        `${toStdout ? '' : ` to ${output}`}.\n`,
    );
    if (last > signedThrough) {
      process.stderr.write(
        signedThrough === 0
          ? 'WARNING: no signed checkpoint covers these entries yet, so the export cannot be authenticated offline.\n' +
              'The broker signs one every few entries or seconds (audit_checkpoint_every, audit_checkpoint_seconds): export again shortly.\n'
          : `Note: entries after seq ${signedThrough} (the last signed checkpoint) are covered by their leaf hashes only; the next\n` +
              'export will include the checkpoint that signs them.\n',
      );
    }
    return EXIT_OK;
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
    if (tmp) fs.rmSync(tmp, { force: true });
    throw e;
  } finally {
    client.close();
  }
}
