import { noteSignedBy, parseNote } from './note.ts';
import type { AuditSigner } from './signer.ts';

/**
 * Export and prune marks as signed notes by the log key, so that an SQL writer cannot forge them:
 *   sealbox-audit-export/v1\n<origin>\n<exported through seq>\n    (pruning never passes it)
 *   sealbox-audit-prune/v1\n<origin>\n<pruned through seq>\n       (verify accepts a missing prefix up to it)
 */
export type MarkKind = 'export' | 'prune';

const header = (kind: MarkKind) => `sealbox-audit-${kind}/v1`;

export const signMark = (signer: AuditSigner, kind: MarkKind, through: number): string =>
  signer.signNote(`${header(kind)}\n${signer.origin()}\n${through}\n`);

/** The seq a mark of `kind` covers, if it is signed by (origin, publicKey); otherwise null. */
export function parseMark(kind: MarkKind, note: string, origin: string, publicKey: Uint8Array): number | null {
  const n = parseNote(note);
  if (!n || !noteSignedBy(n, origin, publicKey)) return null;
  const m = /^([^\n]+)\n([^\n]+)\n(0|[1-9]\d{0,15})\n$/.exec(n.body);
  if (!m || m[1] !== header(kind) || m[2] !== origin) return null;
  return Number(m[3]);
}

export const parsePruneMark = (note: string, origin: string, publicKey: Uint8Array): number | null => parseMark('prune', note, origin, publicKey);
