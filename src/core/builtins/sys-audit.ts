import { z } from 'zod';
import type { Clock } from '../../lib/clock.ts';
import { parseDuration } from '../../lib/durations.ts';
import { badRequest } from '../../lib/errors.ts';
import type { AuditReadStore, CheckpointRecord } from '../../storage/audit-read-store.ts';
import { parseMark, signMark } from '../audit/marks.ts';
import type { AuditSigner } from '../audit/signer.ts';
import { verifyLog } from '../audit/verify.ts';
import { op, type PathDef } from '../engine.ts';

export interface SysAuditDeps {
  store: AuditReadStore;
  /** The log key (derived from the root key, so only while unsealed): checkpoints and marks. */
  signer: AuditSigner;
  /** The configured checkpoint cadence, which verify requires. */
  cadence: { every: number; seconds: number };
  /** The broker's keyed MAC of a leaf hash (the appender's). */
  entryMac: (leaf: Buffer) => Buffer;
  /** The highest seq this broker has committed itself (the stored log may not be shorter). */
  committedSize: () => number;
  clock: Clock;
  /** The retention horizon in seconds: entries younger than this are never pruned. Absent: only the export mark limits pruning. */
  retentionSeconds?: number;
}

const OPERATIONS = ['read', 'list', 'update', 'delete', 'patch'] as const;
const OUTCOMES = ['success', 'denied', 'client_error', 'server_error'] as const;
const SEARCH_LIMIT = { default: 100, max: 1000 };
const EXPORT_LIMIT = { default: 1000, max: 10_000 };

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 date-time, strictly (no 30 February, no 25:00), or null. */
export function parseRfc3339(s: string): Date | null {
  const m = RFC3339.exec(s);
  if (!m) return null;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth || h > 23 || mi > 59 || sec > 59) return null;
  if (m[8] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return null;
  const t = new Date(s.replace(' ', 'T').replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(t.getTime()) ? null : t;
}

/**
 * A point in time: an RFC 3339 date-time ("2025-01-31T12:00:00Z") or a duration with a unit ("720h", "7d"),
 * meaning that long ago. A bare number is refused: it could be a duration or a Unix time.
 */
const pointInTime = (clock: Clock) =>
  z.string({ error: 'must be an RFC 3339 time or a duration such as "24h"' }).transform((raw, ctx) => {
    const v = raw.trim();
    const t = parseRfc3339(v);
    if (t) return t;
    if (/^(\d+[smhd])+$/.test(v)) {
      try {
        return new Date(clock.now().getTime() - parseDuration(v, 'duration') * 1000);
      } catch {
        // Longer than parseDuration allows: fall through to the message below.
      }
    }
    ctx.addIssue({ code: 'custom', message: `"${v.slice(0, 40)}" is not an RFC 3339 time (2025-01-31T12:00:00Z) or a duration such as "24h"` });
    return z.NEVER;
  });

/** A whole number in a query string (or JSON), within bounds. */
const wholeNumber = (min: number, max: number) =>
  z
    .union([z.number(), z.string().trim().regex(/^\d{1,16}$/).transform(Number)], {
      error: `must be a whole number from ${min} to ${max}`,
    })
    .pipe(z.number().int({ error: `must be a whole number from ${min} to ${max}` }).min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }));

const seqCursor = wholeNumber(0, Number.MAX_SAFE_INTEGER);
const boolish = z.union([z.boolean(), z.enum(['true', 'false', '1', '0', '']).transform((v) => v === 'true' || v === '1')], {
  error: 'must be true or false',
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const checkpointWire = (cp: CheckpointRecord) => ({
  seq: cp.seq,
  hash: hex(cp.hash),
  time: cp.time.toISOString(),
  note: cp.note,
  frontier: hex(cp.frontier),
});

/** verify's optional inputs: an anchor (a checkpoint note) and witness verifier keys (comma-separated vkeys). */
const verifyInput = z.object({
  anchor: z.string({ error: 'must be a checkpoint (signed note text)' }).max(64 * 1024).optional(),
  witness_keys: z.string({ error: 'must be comma-separated witness verifier keys' }).max(64 * 1024).optional(),
});

/** A stored entry as search returns it: the recorded fields, plus its leaf hash. */
function searchWire(row: { seq: number; entry: string; hash: Uint8Array }): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(row.entry);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) return { ...(parsed as Record<string, unknown>), hash: hex(row.hash) };
  } catch {
    // A damaged row (verify names it); search still answers.
  }
  return { seq: row.seq, hash: hex(row.hash), unparseable: true };
}

/** sys/audit-log: search, verify, export, checkpoints, public key and pruning (the review side of DESIGN §7). */
export function sysAuditPaths(deps: SysAuditDeps): PathDef[] {
  const { store } = deps;
  const when = pointInTime(deps.clock);

  const searchInput = z.object({
    since: when.optional(),
    until: when.optional(),
    path_prefix: z.string({ error: 'must be a string' }).max(1024, { error: 'must be at most 1024 characters' }).optional(),
    accessor: z.string({ error: 'must be a string' }).max(256, { error: 'must be at most 256 characters' }).optional(),
    operation: z.enum(OPERATIONS, { error: `must be one of ${OPERATIONS.join(', ')}` }).optional(),
    outcome: z.enum(OUTCOMES, { error: `must be one of ${OUTCOMES.join(', ')}` }).optional(),
    after: seqCursor.optional(),
    limit: wholeNumber(1, SEARCH_LIMIT.max).optional(),
  });

  const exportInput = z.object({
    after: seqCursor.optional(),
    limit: wholeNumber(1, EXPORT_LIMIT.max).optional(),
    mark: boolish.optional(),
  });

  const pruneInput = z.object({
    before: (deps.retentionSeconds === undefined ? when : when.optional()),
  });

  return [
    {
      pattern: 'audit-log',
      sudo: true,
      operations: {
        read: op(searchInput, async ({ input }) => {
          const limit = input.limit ?? SEARCH_LIMIT.default;
          // Request paths have no leading slash; "/secret/" and "secret/" mean the same prefix.
          const prefix = input.path_prefix?.replace(/^\/+/, '');
          const rows = await store.search({
            since: input.since,
            until: input.until,
            pathPrefix: prefix === '' ? undefined : prefix,
            accessor: input.accessor,
            operation: input.operation,
            outcome: input.outcome,
            after: input.after,
            limit: limit + 1,
          });
          const page = rows.slice(0, limit);
          const more = rows.length > limit;
          return { data: { entries: page.map(searchWire), next: more ? (page.at(-1)?.seq ?? null) : null } };
        }),
      },
    },
    {
      pattern: 'audit-log/verify',
      sudo: true,
      operations: {
        read: op(verifyInput, async ({ input }) => {
          // Marks and head first, then checkpoints, then the walk: everything they name is committed before the walk reads it.
          const pruneMark = (await store.pruneMark()).note;
          const minSize = deps.committedSize();
          const head = await store.head();
          const checkpoints = await store.checkpoints();
          const witnesses = input.witness_keys?.split(',').map((k) => k.trim()).filter((k) => k !== '');
          let result;
          try {
            result = await verifyLog(store.pages(0, 1000), checkpoints, {
              publicKey: deps.signer.publicKey(),
              origin: deps.signer.origin(),
              head,
              minSize,
              anchor: input.anchor,
              pruneMark,
              cadence: { ...deps.cadence, now: deps.clock.now() },
              entryMac: deps.entryMac,
              witnesses,
            });
          } catch (err) {
            // An anchor of another log, or a malformed witness key: the caller's input.
            throw badRequest(err instanceof Error ? err.message : String(err));
          }
          return {
            data: {
              ok: result.ok,
              checked: result.checked,
              first_bad_seq: result.first_bad_seq,
              tree_size: head.seq,
              signed_through: result.signed_through,
              witnessed_through: result.witnessed_through,
              problems: result.problems,
            },
          };
        }),
      },
    },
    {
      // The public key is public: offline verifiers fetch it without a token.
      pattern: 'audit-log/public-key',
      unauthenticated: true,
      operations: {
        read: op(z.object({}), async () => ({
          data: { algorithm: 'ed25519', public_key: deps.signer.publicKey().toString('base64'), origin: deps.signer.origin(), vkey: deps.signer.vkey() },
        })),
      },
    },
    {
      pattern: 'audit-log/checkpoints',
      sudo: true,
      operations: {
        read: op(z.object({}), async () => ({ data: { checkpoints: (await store.checkpoints()).map(checkpointWire) } })),
      },
    },
    {
      pattern: 'audit-log/export',
      sudo: true,
      operations: {
        read: op(exportInput, async ({ input }) => {
          const after = input.after ?? 0;
          const limit = input.limit ?? EXPORT_LIMIT.default;
          // The first page fixes the export's end: the log's size read *before* the checkpoints. A batch commits its
          // entries and the checkpoints they reach together, so every checkpoint at or below `through` is in the list
          // read next; entries appended while the export pages on are left to the next export (the client stops at
          // `through`), or their checkpoints would be missing from this file.
          const through = after === 0 ? (await store.head()).seq : undefined;
          // Each checkpoint names a committed entry, so the pages below (read later) reach it.
          // Only those up to `through`: one past it (appended since) would ask for entries this export does not carry.
          const checkpoints = through !== undefined ? (await store.checkpoints()).filter((c) => c.seq <= through).map(checkpointWire) : undefined;
          const prune = after === 0 ? await store.pruneMark() : undefined;
          const rows = await store.page(after, limit + 1);
          const page = rows.slice(0, limit);
          const last = page.at(-1);
          const data: Record<string, unknown> = {
            entries: page.map((r) => ({ seq: r.seq, entry: r.entry, hash: hex(r.hash) })),
            next: rows.length > limit && last ? last.seq : null,
          };
          if (checkpoints) {
            data.through = through;
            data.checkpoints = checkpoints;
            data.prune_mark = prune?.note ?? null;
            data.cadence = { every: deps.cadence.every, seconds: deps.cadence.seconds };
          }
          if (input.mark === true) {
            data.exported_through = last ? await store.markExported(last.seq, signMark(deps.signer, 'export', last.seq)) : await store.exportedThrough();
          }
          return { data };
        }),
      },
    },
    {
      pattern: 'audit-log/prune',
      sudo: true,
      operations: {
        update: op(pruneInput, async ({ input }) => {
          const warnings: string[] = [];
          let cutoff = input.before;
          if (deps.retentionSeconds !== undefined) {
            const horizon = new Date(deps.clock.now().getTime() - deps.retentionSeconds * 1000);
            if (!cutoff || cutoff > horizon) {
              if (cutoff) warnings.push(`before is within the retention horizon; pruning only entries older than ${horizon.toISOString()}`);
              cutoff = horizon;
            }
          }
          if (!cutoff) throw new Error('prune without a cutoff');
          const mark = await store.exportMark();
          const signedExport = mark.note ? parseMark('export', mark.note, deps.signer.origin(), deps.signer.publicKey()) : null;
          // The export mark must be the broker's own signed note: an SQL writer cannot raise it to allow pruning.
          const exported = mark.through === 0 ? 0 : signedExport === mark.through ? mark.through : -1;
          if (exported < 0) throw badRequest('the export mark is not signed by this log; export again (mark=true) before pruning');
          const older = await store.lastSeqBefore(cutoff);
          if (older > exported) {
            warnings.push(`entries after seq ${exported} have not been exported (export with mark=true first); pruning stops there`);
          }
          // Prune only to a checkpoint (its frontier is where verify starts afterwards).
          const target = await store.checkpointAtOrBelow(Math.min(exported, older));
          const first = await store.firstSeq();
          const start = first ?? (await store.head()).seq + 1;
          const answer = (prunedThrough: number, deleted: number) => ({
            data: { pruned_through: prunedThrough, deleted, exported_through: exported },
            ...(warnings.length > 0 ? { warnings } : {}),
          });
          if (target < start) return answer(start - 1, 0);
          return answer(target, await store.prune(target, signMark(deps.signer, 'prune', target)));
        }),
      },
    },
  ];
}
