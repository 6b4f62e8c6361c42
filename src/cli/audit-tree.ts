import fs from 'node:fs';
import { z } from 'zod';
import { noteSignedBy, parseCheckpointBody, parseNote, parseVkey, cosignatureTime, SIG_COSIGNATURE_V1, type CheckpointBody } from '../core/audit/note.ts';
import { originFor } from '../core/audit/signer.ts';
import { leafHash, verifyConsistency, verifyInclusion } from '../lib/merkle.ts';
import { auditPublicKey, exportPage } from './audit-api.ts';
import { ApiError, errorMessage, UsageError } from './errors.ts';
import type { Client } from './http.ts';

/** The log key a client trusts: from -public-key (base64 or @FILE) when given, else from the broker. */
export interface LogKey {
  publicKey: Buffer;
  origin: string;
}

export async function logKey(client: Client, flag: string | undefined): Promise<LogKey> {
  let b64: string;
  if (flag === undefined) b64 = (await auditPublicKey(client)).public_key;
  else if (flag.startsWith('@')) b64 = readText(flag.slice(1), 'flag -public-key').trim();
  else b64 = flag;
  const publicKey = Buffer.from(b64, 'base64');
  if (publicKey.length !== 32) throw new UsageError('-public-key: not a base64 Ed25519 public key (32 bytes)');
  return { publicKey, origin: originFor(publicKey) };
}

export function readText(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`${what}: cannot read ${file}: ${errorMessage(e)}`);
  }
}

/** A checkpoint note checked against the log key: its body, or an error naming what is wrong. */
export function checkedCheckpoint(note: string, key: LogKey, what: string): CheckpointBody & { body: string } {
  const n = parseNote(note);
  const body = n ? parseCheckpointBody(n.body) : null;
  if (!n || !body) throw new ApiError(`${what} is not a C2SP checkpoint (signed note)`);
  if (body.origin !== key.origin || !noteSignedBy(n, key.origin, key.publicKey)) throw new ApiError(`${what} is not signed by the log key ${key.origin}`);
  return { ...body, body: n.body };
}

export const fetchCheckpoint = (client: Client): Promise<string> => client.readText('sys/audit-log/checkpoint');

const b64s = z.array(z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/));
const inclusionSchema = z.object({ tree_size: z.number().int(), leaf_hash: z.string(), root_hash: z.string(), proof: b64s });
const consistencySchema = z.object({ from: z.number().int(), to: z.number().int(), first_root: z.string(), second_root: z.string(), proof: b64s });
const unb64 = (xs: readonly string[]) => xs.map((x) => Buffer.from(x, 'base64'));

/** Fetches a consistency proof between two sizes and checks it against the two roots we trust. */
export async function checkConsistency(client: Client, from: { size: number; root: Buffer }, to: { size: number; root: Buffer }): Promise<boolean> {
  if (from.size === to.size) return from.root.equals(to.root);
  if (from.size > to.size) return false;
  if (from.size === 0) return true;
  const raw = await client.read('sys/audit-log/proof/consistency', { from: from.size, to: to.size });
  const p = consistencySchema.safeParse(raw);
  if (!p.success) throw new ApiError('GET sys/audit-log/proof/consistency: unexpected answer');
  return verifyConsistency(from.size, to.size, from.root, to.root, unb64(p.data.proof));
}

export interface ProveResult {
  ok: boolean;
  seq: number;
  tree_size: number;
  root_hash: string;
  leaf_hash: string;
  problem: string | null;
}

/** `sealbox audit prove SEQ`: the entry's leaf, its inclusion proof, and the latest signed checkpoint agree. */
export async function proveEntry(client: Client, seq: number, key: LogKey): Promise<ProveResult> {
  const cp = checkedCheckpoint(await fetchCheckpoint(client), key, 'the latest checkpoint');
  const result = (ok: boolean, leaf: Buffer, problem: string | null): ProveResult => ({
    ok,
    seq,
    tree_size: cp.size,
    root_hash: cp.root.toString('base64'),
    leaf_hash: leaf.toString('base64'),
    problem,
  });
  if (seq > cp.size) return result(false, Buffer.alloc(0), `seq ${seq} is after the latest checkpoint (size ${cp.size}); try again after the next one`);
  const page = await exportPage(client, seq - 1, 1, false);
  const e = page.entries[0];
  if (e?.seq !== seq) return result(false, Buffer.alloc(0), `the server has no entry ${seq}`);
  const leaf = leafHash(e.entry);
  const raw = await client.read('sys/audit-log/proof/inclusion', { seq, size: cp.size });
  const p = inclusionSchema.safeParse(raw);
  if (!p.success) throw new ApiError('GET sys/audit-log/proof/inclusion: unexpected answer');
  const ok = verifyInclusion(seq - 1, cp.size, leaf, unb64(p.data.proof), cp.root);
  return result(ok, leaf, ok ? null : `entry ${seq} is not included in the signed tree of size ${cp.size}`);
}

/** Witness verifier keys from files (each holds one vkey line). */
export function witnessKeys(files: readonly string[]): string[] {
  return files.map((f) => {
    const text = readText(f, 'flag -witness-key').trim();
    const k = parseVkey(text);
    if (!k || k.type !== SIG_COSIGNATURE_V1) throw new UsageError(`flag -witness-key: ${f} does not hold a cosignature/v1 verifier key`);
    return text;
  });
}

export interface AnchorCheck {
  ok: boolean;
  problems: string[];
  tree_size: number;
  /** Per witness key name, the largest checkpoint it cosigned that is consistent with the current one (0: none). */
  witnessed_through: Record<string, number>;
}

const checkpointsSchema = z.object({ checkpoints: z.array(z.object({ seq: z.number().int(), note: z.string() })) });

/**
 * The client's own half of `verify -anchor`: the current checkpoint is signed, at least as large as the anchor and
 * consistent with it by a proof checked here (not by the server); and every required witness has cosigned a
 * checkpoint the current one is consistent with.
 */
export async function checkAnchorAndWitnesses(client: Client, key: LogKey, anchorNote: string | undefined, witnesses: readonly string[]): Promise<AnchorCheck> {
  const problems: string[] = [];
  const cur = checkedCheckpoint(await fetchCheckpoint(client), key, 'the latest checkpoint');
  if (anchorNote !== undefined) {
    const anchor = checkedCheckpoint(anchorNote, key, 'the anchor');
    if (cur.size < anchor.size) problems.push(`the log's latest checkpoint (size ${cur.size}) is smaller than the anchor (size ${anchor.size}): truncated`);
    else if (!(await checkConsistency(client, anchor, cur))) problems.push(`the log (size ${cur.size}) is not an append-only extension of the anchor (size ${anchor.size})`);
  }
  const witnessed_through: Record<string, number> = {};
  if (witnesses.length > 0) {
    const all = checkpointsSchema.parse(await client.read('sys/audit-log/checkpoints'));
    for (const w of witnesses) {
      const k = parseVkey(w);
      if (!k) continue;
      let best: (CheckpointBody & { body: string }) | null = null;
      for (const c of all.checkpoints) {
        const n = parseNote(c.note);
        if (!n || !n.signatures.some((s) => cosignatureTime(n.body, s, k.name, k.publicKey) !== null)) continue;
        const body = checkedCheckpoint(c.note, key, `checkpoint ${c.seq}`);
        if (!best || body.size > best.size) best = body;
      }
      if (!best) problems.push(`witness ${k.name} has cosigned no checkpoint`);
      else if (best.size > cur.size || !(await checkConsistency(client, best, cur))) {
        problems.push(`the log is not consistent with what witness ${k.name} cosigned at size ${best.size}`);
      }
      witnessed_through[k.name] = best?.size ?? 0;
    }
  }
  return { ok: problems.length === 0, problems, tree_size: cur.size, witnessed_through };
}
