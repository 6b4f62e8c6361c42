// What an attacker with SQL access but no root key can do to the audit log (for the tamper and witness tests).
import type { Client as PgClient } from 'pg';
import { appendLeaf, emptyFrontier, encodeFrontier, frontierRoot, leafHash, type StoredNode } from '../../src/lib/merkle.ts';

/** What an SQL writer can do without the root key: recompute every unkeyed hash, tree node and the head. */
export async function rebuildTree(c: PgClient, opts: { nullMacs?: boolean } = {}): Promise<void> {
  const rows = (await c.query<{ seq: string; entry: string }>('SELECT seq::text AS seq, entry FROM audit_entries ORDER BY audit_entries.seq')).rows;
  const f = emptyFrontier();
  const nodes: StoredNode[] = [];
  const leaves = rows.map((r) => {
    const leaf = leafHash(r.entry);
    appendLeaf(f, leaf, (n) => nodes.push(n));
    return leaf.toString('hex');
  });
  await c.query(
    `UPDATE audit_entries e SET hash = decode(u.h, 'hex')${opts.nullMacs ? ', mac = NULL' : ''} FROM unnest($1::bigint[], $2::text[]) AS u(s, h) WHERE e.seq = u.s`,
    [rows.map((r) => r.seq), leaves],
  );
  await c.query('DELETE FROM audit_tree_nodes');
  for (const n of nodes) await c.query('INSERT INTO audit_tree_nodes (level, idx, hash) VALUES ($1, $2, $3)', [n.level, n.index, n.hash]);
  await c.query('UPDATE audit_head SET seq = $1, hash = $2, frontier = $3', [f.size, frontierRoot(f), encodeFrontier(f)]);
}

