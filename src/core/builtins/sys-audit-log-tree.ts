import { z } from 'zod';
import { badRequest, notFound } from '../../lib/errors.ts';
import { consistencyProof, inclusionProof, rangeHash, type PerfectHash } from '../../lib/merkle.ts';
import type { AuditReadStore } from '../../storage/audit-read-store.ts';
import { cosignatureTime, parseNote, parseSignatureLine, parseVkey, SIG_COSIGNATURE_V1 } from '../audit/note.ts';
import { op, type PathDef } from '../engine.ts';

export interface SysAuditTreeDeps {
  store: AuditReadStore;
  /** Perfect subtree hashes (storage/audit-tree-store.ts); throws when the hashes were pruned. */
  perfect: PerfectHash;
  clock: { now(): Date };
}

const seqNumber = (what: string) =>
  z.union([z.number(), z.string().trim().regex(/^\d{1,16}$/, { error: `${what} must be a whole number` }).transform(Number)], {
    error: `${what} must be a whole number`,
  });

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/**
 * The Merkle log's public face (CONTRACT §6): the latest checkpoint as text, RFC 9162 inclusion and consistency
 * proofs, and witness cosignatures. Checkpoint and proofs carry only hashes and are unauthenticated, as in
 * transparency logs: a witness on another host needs no broker token to check the log.
 */
export function sysAuditTreePaths(deps: SysAuditTreeDeps): PathDef[] {
  const { store } = deps;
  const latestSize = async (): Promise<number> => {
    const cp = await store.latestCheckpoint();
    if (!cp) throw notFound();
    return cp.seq;
  };
  const guarded = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof Error && err.name === 'TreeDataMissing') throw badRequest(`cannot prove: ${err.message}`);
      throw err;
    }
  };

  return [
    {
      pattern: 'audit-log/checkpoint',
      unauthenticated: true,
      operations: {
        read: op(z.object({}), async () => {
          const cp = await store.latestCheckpoint();
          if (!cp) throw notFound();
          return { raw: { status: 200, body: cp.note, contentType: 'text/plain; charset=utf-8' } };
        }),
      },
    },
    {
      pattern: 'audit-log/proof/inclusion',
      unauthenticated: true,
      operations: {
        read: op(z.object({ seq: seqNumber('seq'), size: seqNumber('size').optional() }), async ({ input }) => {
          const size = input.size ?? (await latestSize());
          const head = await store.head();
          if (input.seq < 1 || input.seq > size) throw badRequest(`seq must be from 1 to the tree size ${size}`);
          if (size > head.seq) throw badRequest(`size must be at most the tree size ${head.seq}`);
          return guarded(async () => {
            const proof = await inclusionProof(input.seq - 1, 0, size, deps.perfect);
            const leaf = await deps.perfect(0, input.seq - 1);
            const root = await rangeHash(0, size, deps.perfect);
            return { data: { seq: input.seq, leaf_index: input.seq - 1, tree_size: size, leaf_hash: b64(leaf), root_hash: b64(root), proof: proof.map(b64) } };
          });
        }),
      },
    },
    {
      pattern: 'audit-log/proof/consistency',
      unauthenticated: true,
      operations: {
        read: op(z.object({ from: seqNumber('from'), to: seqNumber('to').optional() }), async ({ input }) => {
          const to = input.to ?? (await latestSize());
          const head = await store.head();
          if (to > head.seq) throw badRequest(`to must be at most the tree size ${head.seq}`);
          if (input.from < 1 || input.from > to) throw badRequest(`from must be from 1 to ${to}`);
          return guarded(async () => {
            const proof = input.from === to ? [] : await consistencyProof(input.from, to, deps.perfect);
            const first = await rangeHash(0, input.from, deps.perfect);
            const second = input.from === to ? first : await rangeHash(0, to, deps.perfect);
            return { data: { from: input.from, to, first_root: b64(first), second_root: b64(second), proof: proof.map(b64) } };
          });
        }),
      },
    },
    {
      // A witness posts its cosignature of a checkpoint: kept only if it verifies under the key it names.
      pattern: 'audit-log/cosignatures',
      operations: {
        update: op(
          z.object({
            size: seqNumber('size'),
            cosignature: z.string({ error: 'must be a cosignature line' }).max(4096),
            vkey: z.string({ error: 'must be the witness verifier key' }).max(4096),
          }),
          async ({ input }) => {
            const key = parseVkey(input.vkey);
            if (!key || key.type !== SIG_COSIGNATURE_V1) throw badRequest('vkey: not an Ed25519 cosignature/v1 verifier key');
            const sig = parseSignatureLine(input.cosignature.trim());
            if (!sig) throw badRequest('cosignature: not a signature line');
            const cp = (await store.checkpoints(input.size, 1))[0];
            if (cp?.seq !== input.size) throw badRequest(`no checkpoint of size ${input.size}`);
            const note = parseNote(cp.note);
            const t = note ? cosignatureTime(note.body, sig, key.name, key.publicKey) : null;
            if (t === null) throw badRequest('cosignature: does not verify for this checkpoint under that key');
            if (t > deps.clock.now().getTime() / 1000 + 300) throw badRequest('cosignature: its timestamp is in the future');
            await store.addCosignature({ seq: input.size, name: key.name, keyId: key.id, line: sig.line, signedAt: new Date(t * 1000) });
            return { data: { size: input.size, name: key.name, time: new Date(t * 1000).toISOString() } };
          },
        ),
      },
    },
  ];
}
