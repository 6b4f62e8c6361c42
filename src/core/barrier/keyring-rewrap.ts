/**
 * Barrier keyring rotation (DESIGN §2, §6; issue 7). The core rotation `sys/keyring` adds a key term through the
 * rotation state machine; then the `keyring-rewrap` job re-wraps the DEK of every envelope written under an older
 * term (entries, lease internals, pending rotation values) in batches, without re-encrypting, or even opening, a single
 * value. Once no envelope uses an old term, `sys/keyring/retire` may delete that term's KEK.
 */
import { AppError, badRequest } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Db, Queryable } from '../../storage/db.ts';
import type { EnvelopeTable, KeyringStore } from '../../storage/keyring-store.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Barrier } from './barrier.ts';
import type { RotationTarget } from '../engine.ts';
import { CONTEXTS, type EncryptionContext } from './contexts.ts';
import { ENTRY_CACHE_CHANNEL } from './entry-cache.ts';

export interface KeyringRewrapDeps {
  db: Db;
  store: KeyringStore;
  barrier: Barrier;
  log: Logger;
  /** Rows per transaction. */
  batch?: number;
  /** A run stops after this long and the next slot carries on (0: until done). */
  budgetMs?: number;
  /** The run's time budget and how long a clean table is trusted before it is scanned again. */
  clock: Clock;
  /** Called after a batch moved entries: this replica's entry cache drops what it held (the others hear NOTIFY). */
  entriesMoved?: () => void;
}

export interface RewrapStatus {
  pendingValues: number;
  doneValues: number;
  oldTermsInUse: number[];
  /** Terms still in the keyring that nothing uses (and are not current): they may be retired. */
  retirableTerms: number[];
}

const TABLES: readonly EnvelopeTable[] = ['entries', 'leases', 'rotations', 'core_entries'];
/**
 * The barrier context an envelope is read under, from its table and row ref (entries: "<mount id>\0<key>"), from the
 * one map. The rewrap itself needs none (it never opens a value); the tests read rewrapped rows through it.
 */
export const contextOf = (table: EnvelopeTable, ref: string): EncryptionContext => {
  if (table === 'entries') {
    const at = ref.indexOf('\u0000');
    return CONTEXTS.entries(ref.slice(0, at), ref.slice(at + 1));
  }
  return CONTEXTS[table](ref);
};
/** leases and rotations have no term column (a full scan finds old envelopes): once clean for a term, look again rarely. */
const RESCAN_MS = 10 * 60_000;

export function createKeyringRewrap(deps: KeyringRewrapDeps) {
  const { db, store, barrier } = deps;
  const batch = deps.batch ?? 500;
  const now = (): number => deps.clock.now().getTime();
  const clean = new Map<EnvelopeTable, { term: number; at: number }>();

  /**
   * One transaction: lock the next batch of old envelopes after the ref `after`, re-wrap their DEKs (one call, values
   * not opened: each read checks its value and context), store them in one statement. Returns how many were
   * re-wrapped and failed, and the last ref claimed (null: none left).
   */
  async function rewrapBatch(table: EnvelopeTable, term: number, after: string | null): Promise<[number, number, string | null]> {
    return db.tx(async (q) => {
      const rows = await store.claimOld(q, table, term, batch, after);
      const next = await barrier.rewrapDeks(rows.map((row) => row.head), q);
      const out: { ctid: string; old: Buffer; head: Buffer }[] = [];
      rows.forEach((row, i) => {
        const head = next.heads[i];
        if (head) out.push({ ctid: row.ctid, old: row.head, head });
      });
      // The barrier's term: the job's, or a newer one if the keyring moved on meanwhile (both are past the old rows').
      const stored = await store.store(q, table, next.term, out);
      // Cached sealed records of these rows now differ from storage: every replica drops its entry cache at commit.
      if (table === 'entries' && stored > 0) await q.query('SELECT pg_notify($1, $2)', [ENTRY_CACHE_CHANNEL, '*']);
      const failed = next.failed;
      if (failed > 0) deps.log.warn({ table, failed }, 'keyring rewrap: some stored DEKs do not open under their key term; left as they are');
      return [stored, failed + (out.length - stored), rows.at(-1)?.ref ?? null];
    });
  }

  /** Re-wraps everything under older terms, within the time budget. Returns how many envelopes were re-wrapped. */
  async function run(budgetMs = deps.budgetMs ?? 4000): Promise<number> {
    if (barrier.isSealed()) return 0;
    await barrier.refresh();
    const { term } = barrier.keyStatus();
    const started = now();
    let total = 0;
    for (const table of TABLES) {
      const c = clean.get(table);
      if (table !== 'entries' && c && c.term === term && now() - c.at < RESCAN_MS) continue;
      let tableFailed = 0;
      // Each run walks the table once in key order; rows it skipped (locked, or failed) are met again by the next run.
      for (let after: string | null = null; ; ) {
        const [done, failed, last] = await rewrapBatch(table, term, after);
        if (table === 'entries' && done > 0) deps.entriesMoved?.();
        total += done;
        tableFailed += failed;
        if (last === null) break;
        after = last;
        if (budgetMs > 0 && now() - started > budgetMs) return total;
      }
      if (tableFailed === 0) clean.set(table, { term, at: now() });
    }
    if (total > 0) deps.log.info({ rewrapped: total, term }, 'keyring rewrap: values moved to the current key term');
    return total;
  }

  async function status(q: Queryable = db): Promise<RewrapStatus> {
    const term = barrier.keyStatus().term;
    const [usage, terms] = await Promise.all([store.usage(q), store.terms(q)]);
    let pendingValues = 0;
    let doneValues = 0;
    const old = new Set<number>();
    for (const u of usage) {
      if (u.term < term) {
        pendingValues += u.count;
        old.add(u.term);
      } else doneValues += u.count;
    }
    const current = Math.max(term, ...terms);
    return {
      pendingValues,
      doneValues,
      oldTermsInUse: [...old].sort((a, b) => a - b),
      retirableTerms: terms.filter((t) => t < current && !old.has(t)),
    };
  }

  /** Deletes an old term's KEK; 400 while it is the current term or any envelope still uses it. */
  async function retire(term: number): Promise<void> {
    await barrier.refresh();
    await db.tx(async (q) => {
      const terms = await store.lockTerms(q);
      const current = terms.at(-1) ?? 0;
      if (!terms.includes(term)) throw badRequest(`key term ${term} is not in the keyring (already retired?)`);
      if (term >= current) throw badRequest(`key term ${term} is the current term and cannot be retired`);
      const used = await store.inUse(q, term);
      if (used > 0) {
        throw badRequest(`key term ${term} is still used by ${used} stored value${used === 1 ? '' : 's'}; wait for the rewrap to finish (sys/key-status shows its progress)`);
      }
      if (!(await barrier.retire(term, q))) throw new AppError('bad_request', `key term ${term} is not in the keyring`);
    });
    deps.log.info({ term }, 'keyring term retired');
  }

  return { run, status, retire };
}

export type KeyringRewrap = ReturnType<typeof createKeyringRewrap>;

/**
 * The keyring as a rotation target. create records the term the rotation will install; set adds it unless the
 * keyring already reached it (so a resumed set adds no second term); test proves the new term seals and opens a
 * value; finish has nothing to do: the rewrap job moves old values over in the background.
 */
export function keyringRotationTarget(deps: { barrier: Barrier; kick?: () => void }): RotationTarget {
  const { barrier } = deps;
  const expected = (pending: Readonly<Record<string, unknown>>): number => {
    const t = pending.term;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1) throw new Error('pending keyring term is missing');
    return t;
  };
  return {
    async create() {
      await barrier.refresh();
      return { term: barrier.keyStatus().term + 1 };
    },
    async set(_ctx, pending) {
      await barrier.refresh();
      if (barrier.keyStatus().term < expected(pending)) await barrier.rotate();
    },
    async test(ctx, pending) {
      await barrier.refresh();
      const probe = Buffer.from(`keyring rotation test ${ctx.runId}`, 'utf8');
      const sealed = barrier.encrypt(CONTEXTS.rotation_probe(ctx.id), probe);
      if (sealed.term < expected(pending)) throw new Error(`the keyring is at term ${sealed.term}, expected ${expected(pending)}`);
      const opened = await barrier.decrypt(CONTEXTS.rotation_probe(ctx.id), sealed.sealed);
      if (!opened.equals(probe)) throw new Error('a value sealed with the new key term did not open');
    },
    async finish() {
      deps.kick?.();
    },
  };
}
