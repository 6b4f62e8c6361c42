import fs from 'node:fs';
import readline from 'node:readline';
import { originFor } from '../core/audit/signer.ts';
import { verifyLog, type LogCheckpoint, type LogLink } from '../core/audit/verify.ts';
import { ApiError, EXIT_BROKEN, EXIT_OK, UsageError, errorMessage } from './errors.ts';
import { json, renderKeyValue } from './output.ts';
import { Progress } from './progress.ts';

/**
 * `sealbox audit verify -file FILE [-public-key KEY]`: checks an export offline with the shared verifier
 * (src/core/audit/verify.ts), streaming the file line by line so that its size does not matter.
 */
export interface VerifyFileOptions {
  file: string;
  /** base64, or @FILE holding the base64 key (or the JSON that `sealbox audit public-key -format=json` prints). */
  publicKey: string | undefined;
  /** Force progress on stderr (default: only when stderr is a terminal). */
  progress: boolean | undefined;
  format: 'table' | 'json';
  /** An auditor's saved checkpoint (note text): the export must be an append-only extension of it. */
  anchor?: string;
  /** Witness verifier keys whose cosignatures are required. */
  witnesses?: string[];
}

export interface VerifyFileResult {
  ok: boolean;
  checked: number;
  first_bad_seq: number | null;
  first_seq: number | null;
  last_seq: number | null;
  checkpoints: number;
  /** The highest seq that a signed checkpoint covers (entries after it are not signed yet). */
  signed_through: number | null;
  witnessed_through: Record<string, number>;
  public_key: string;
  public_key_source: 'flag' | 'header';
  problems: string[];
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const HEX64 = /^[0-9a-fA-F]{64}$/;

function decodeKey(text: string, where: string): Buffer {
  let s = text.trim();
  if (s.startsWith('{')) {
    try {
      const v = JSON.parse(s) as { public_key?: unknown; data?: { public_key?: unknown } };
      const k = v.public_key ?? v.data?.public_key;
      if (typeof k === 'string') s = k.trim();
    } catch {
      // fall through to the base64 check
    }
  }
  const key = B64.test(s) ? Buffer.from(s, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) throw new UsageError(`${where}: not a base64 Ed25519 public key (32 bytes)`);
  return key;
}

function trustedKey(flag: string): Buffer {
  if (!flag.startsWith('@')) return decodeKey(flag, 'flag -public-key');
  const file = flag.slice(1);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`flag -public-key: cannot read ${file}: ${errorMessage(e)}`);
  }
  return decodeKey(text, `flag -public-key (${file})`);
}

type Json = Record<string, unknown>;
const parseLine = (line: string): Json | null => {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null;
  } catch {
    return null;
  }
};

function toCheckpoint(v: Json): LogCheckpoint | null {
  const { seq, note, frontier } = v;
  if (!Number.isSafeInteger(seq) || typeof note !== 'string') return null;
  if (frontier !== undefined && (typeof frontier !== 'string' || !/^([0-9a-f]{64})*$/.test(frontier))) return null;
  return { seq: seq as number, note, frontier: typeof frontier === 'string' ? Buffer.from(frontier, 'hex') : undefined };
}

export async function runVerifyFile(opts: VerifyFileOptions): Promise<number> {
  const trusted = opts.publicKey === undefined ? undefined : trustedKey(opts.publicKey);
  const fromStdin = opts.file === '-';
  let size: number | undefined;
  if (!fromStdin) {
    try {
      const st = fs.statSync(opts.file);
      if (st.isDirectory()) throw new Error('is a directory');
      // A pipe or /dev/stdin has no size: no percentage then.
      size = st.isFile() ? st.size : undefined;
    } catch (e) {
      throw new ApiError(`cannot read ${opts.file}: ${errorMessage(e)}`);
    }
  }
  const progress = new Progress({ enabled: opts.progress ?? process.stderr.isTTY === true, verb: 'verified', totalBytes: size });
  const stream: NodeJS.ReadableStream = fromStdin ? process.stdin : fs.createReadStream(opts.file);
  let ioError: Error | undefined;
  stream.on('error', (e) => {
    ioError = e;
  });
  stream.on('data', (chunk: Buffer | string) => progress.tick(0, chunk.length));
  const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
  const lines = rl[Symbol.asyncIterator]();
  let lineNo = 0;
  const nextLine = async (): Promise<string | undefined> => {
    for (;;) {
      const r = await lines.next();
      if (r.done) return undefined;
      lineNo++;
      if (r.value.trim() !== '') return r.value;
    }
  };

  try {
    // 1. The header.
    const first = await nextLine();
    const header = first === undefined ? null : parseLine(first);
    if (!header || header.type !== 'header' || typeof header.public_key !== 'string') {
      if (ioError) throw new ApiError(`cannot read ${opts.file}: ${ioError.message}`);
      throw new ApiError(`${opts.file} is not a sealbox audit export (its first line is not the export header)`);
    }
    let headerKey: Buffer | undefined;
    try {
      headerKey = decodeKey(header.public_key, 'header');
    } catch {
      headerKey = undefined;
    }
    if (!trusted) {
      if (!headerKey) throw new ApiError(`${opts.file}: the header's public_key is not an Ed25519 key; give one with -public-key`);
      process.stderr.write(
        'WARNING: no -public-key given, so the key in the file itself is used. That only shows the file is\n' +
          'self-consistent: whoever can rewrite the file can replace the key too. Verify with a key obtained separately\n' +
          '(sealbox audit public-key) to prove the entries are the ones the broker signed.\n',
      );
    } else if (headerKey && !headerKey.equals(trusted)) {
      process.stderr.write('WARNING: the export header names a different public key from -public-key; checking against -public-key.\n');
    }
    const key = trusted ?? (headerKey as Buffer);

    // 2. Checkpoints, up to the first entry line.
    const problems: string[] = [];
    let failSeq: number | null = null;
    const failAt = (seq: number | null, problem: string) => {
      problems.push(problem);
      if (seq !== null) failSeq = failSeq === null ? seq : Math.min(failSeq, seq);
    };
    const checkpoints: LogCheckpoint[] = [];
    let pending: { text: string; no: number } | undefined;
    for (let text = await nextLine(); text !== undefined; text = await nextLine()) {
      const v = parseLine(text);
      if (v?.type !== 'checkpoint') {
        pending = { text, no: lineNo };
        break;
      }
      const cp = toCheckpoint(v);
      if (cp) checkpoints.push(cp);
      else failAt(Number.isSafeInteger(v.seq) ? (v.seq as number) : null, `line ${lineNo}: malformed checkpoint`);
    }

    // 3. Entries, streamed into the shared verifier. A line that is not a well-formed entry becomes a link that
    //    cannot verify at the position it occupies, so the verifier names that seq.
    let firstSeq: number | null = null;
    let lastSeq: number | null = null;
    async function* links(): AsyncGenerator<LogLink> {
      let prev: number | null = null;
      for (let cur = pending; cur !== undefined; ) {
        const v = parseLine(cur.text);
        let link: LogLink;
        if (v?.type === 'entry' && Number.isSafeInteger(v.seq) && typeof v.entry === 'string' && typeof v.hash === 'string' && HEX64.test(v.hash)) {
          link = { seq: v.seq as number, entry: v.entry, hash: Buffer.from(v.hash, 'hex') };
        } else {
          const seq = prev === null ? 1 : prev + 1;
          problems.push(`line ${cur.no}: not a well-formed entry line (expected seq ${seq})`);
          link = { seq, entry: cur.text, hash: new Uint8Array(0) };
        }
        firstSeq ??= link.seq;
        lastSeq = link.seq;
        prev = link.seq;
        progress.tick(1);
        yield link;
        const text = await nextLine();
        cur = text === undefined ? undefined : { text, no: lineNo };
      }
    }
    // The cadence and the prune mark come from the (unsigned) header; the prune mark is itself signed, and a header
    // that claims a looser cadence than the broker's is visible to whoever compares it with the broker's config.
    const cadence = header.cadence as { every?: unknown; seconds?: unknown } | undefined;
    const exportedAt = typeof header.exported_at === 'string' ? new Date(header.exported_at) : null;
    let r;
    try {
      r = await verifyLog(links(), checkpoints, {
        publicKey: key,
        origin: originFor(key),
        anchor: opts.anchor,
        pruneMark: typeof header.prune_mark === 'string' ? header.prune_mark : null,
        cadence:
          Number.isSafeInteger(cadence?.every) && Number.isSafeInteger(cadence?.seconds) && exportedAt && !Number.isNaN(exportedAt.getTime())
            ? { every: cadence?.every as number, seconds: cadence?.seconds as number, now: exportedAt }
            : undefined,
        witnesses: opts.witnesses,
      });
    } catch (e) {
      throw new UsageError(errorMessage(e));
    }
    if (ioError) throw new ApiError(`cannot read ${opts.file}: ${(ioError as Error).message}`);
    progress.done();
    problems.push(...r.problems);

    let ok = r.ok && failSeq === null && problems.length === 0;
    const firstBad = r.first_bad_seq === null ? failSeq : failSeq === null ? r.first_bad_seq : Math.min(r.first_bad_seq, failSeq);
    const signedThrough = r.signed_through > 0 ? r.signed_through : null;
    if (ok && lastSeq !== null && signedThrough === null) {
      ok = false;
      problems.push('the export holds no signed checkpoint, so none of its entries can be authenticated');
    }
    const result: VerifyFileResult = {
      ok,
      checked: r.checked,
      first_bad_seq: ok ? null : firstBad,
      first_seq: firstSeq,
      last_seq: lastSeq,
      checkpoints: checkpoints.length,
      signed_through: signedThrough,
      witnessed_through: r.witnessed_through,
      public_key: key.toString('base64'),
      public_key_source: trusted ? 'flag' : 'header',
      problems,
    };
    print(result, opts.format);
    return result.ok ? EXIT_OK : EXIT_BROKEN;
  } finally {
    rl.close();
    if (stream instanceof fs.ReadStream) stream.destroy();
    else stream.pause();
  }
}

function print(r: VerifyFileResult, format: 'table' | 'json'): void {
  if (format === 'json') {
    process.stdout.write(json(r));
  } else {
    process.stdout.write(
      renderKeyValue([
        ['ok', r.ok],
        ['checked', r.checked],
        ['first_bad_seq', r.first_bad_seq],
        ['entries', r.first_seq === null ? 'none' : `seq ${r.first_seq} to ${r.last_seq ?? r.first_seq}`],
        ['checkpoints', r.checkpoints],
        ['signed_through', r.signed_through],
        ['public_key', `${r.public_key} (${r.public_key_source === 'flag' ? 'from -public-key' : 'from the file: not independent'})`],
      ]),
    );
  }
  for (const p of r.problems) process.stderr.write(`problem: ${p}\n`);
  if (!r.ok) {
    process.stderr.write(
      r.first_bad_seq === null
        ? 'The export does NOT verify.\n'
        : `The export does NOT verify: the first entry that does not check is seq ${r.first_bad_seq}.\n`,
    );
  } else if (r.last_seq !== null && r.signed_through !== null && r.last_seq > r.signed_through) {
    process.stderr.write(
      `Note: entries after seq ${r.signed_through} (the last signed checkpoint) are protected by their leaf hashes only;\n` +
        'no signature covers them yet, so they could have been rewritten or cut off without this check noticing.\n',
    );
  }
}
