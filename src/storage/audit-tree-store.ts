import { nodeHash, TILE } from '../lib/merkle.ts';
import { toBuffer, type Queryable } from './db.ts';

/** A proof needs a hash the database no longer holds (its leaves were pruned). */
export class TreeDataMissing extends Error {
  override name = 'TreeDataMissing';
}

/**
 * Reads perfect subtree hashes of the audit Merkle tree for proofs: leaves are the entries' stored leaf hashes,
 * interior nodes are stored at levels that are multiples of TILE, and any other level folds from at most
 * 2^(TILE-1) stored hashes below it.
 */
export function createAuditTreeStore(db: Queryable) {
  const below = async (base: number, from: number, count: number): Promise<Buffer[]> => {
    const r =
      base === 0
        ? await db.query<{ i: unknown; hash: Uint8Array }>('SELECT seq - 1 AS i, hash FROM audit_entries WHERE seq > $1 AND seq <= $2 ORDER BY seq', [
            from,
            from + count,
          ])
        : await db.query<{ i: unknown; hash: Uint8Array }>('SELECT idx AS i, hash FROM audit_tree_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx', [
            base,
            from,
            from + count,
          ]);
    if (r.rows.length !== count || r.rows.some((row, k) => Number(row.i) !== from + k)) {
      throw new TreeDataMissing(`tree hashes at level ${base} from ${from} are not stored (pruned?)`);
    }
    return r.rows.map((row) => toBuffer(row.hash));
  };

  return {
    /** The hash of the perfect subtree at (level, index). */
    async perfect(level: number, index: number): Promise<Buffer> {
      const base = level - (level % TILE);
      const span = 2 ** (level - base);
      let hs = await below(base, index * span, span);
      while (hs.length > 1) {
        const up: Buffer[] = [];
        for (let i = 0; i < hs.length; i += 2) up.push(nodeHash(hs[i] as Buffer, hs[i + 1] as Buffer));
        hs = up;
      }
      const h = hs[0];
      if (!h) throw new TreeDataMissing(`no tree hash at level ${level} index ${index}`);
      return h;
    },
  };
}

export type AuditTreeStore = ReturnType<typeof createAuditTreeStore>;
