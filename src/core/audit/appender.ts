import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { AuditRow, AuditStore } from '../../storage/audit-store.ts';
import type { Db } from '../../storage/db.ts';
import { canonicalJson, chainHash, checkpointMessage } from './canonical.ts';
import type { PendingEntry } from './entry.ts';
import type { AuditSigner } from './signer.ts';

export interface AuditSink {
  write(rows: readonly AuditRow[]): void;
  close(): Promise<void>;
}

export interface AuditAppenderDeps {
  db: Db;
  store: AuditStore;
  signer: AuditSigner;
  clock: Clock;
  log: Logger;
  /** A signed checkpoint after this many entries (from this replica)… */
  checkpointEvery: number;
  /** …or after this many seconds with new entries, whichever comes first. */
  checkpointSeconds: number;
  maxBatch?: number;
  sink?: AuditSink;
}

interface Waiting {
  entry: PendingEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: requests enqueue their entry and wait; one flush loop writes everything queued as one transaction
 * that extends the chain under the audit_head row lock, then answers all of them. While a batch commits, the next
 * one gathers. A failed batch rejects every request in it (fail closed).
 */
export function createAuditAppender(deps: AuditAppenderDeps) {
  const maxBatch = deps.maxBatch ?? 500;
  let queue: Waiting[] = [];
  let flushing = false;
  let lastCheckpointSeq = -1;
  let lastCheckpointAt = Date.now();
  let headSeq = 0;
  let closed = false;
  const stats = { batches: 0, entries: 0 };

  const writeBatch = (batch: Waiting[]): Promise<AuditRow[]> =>
    deps.db.tx(async (q) => {
      const head = await deps.store.lockHead(q);
      let seq = head.seq;
      let hash = head.hash;
      const rows = batch.map(({ entry: e }) => {
        seq += 1;
        const entry = canonicalJson({ ...e.fields, seq });
        hash = chainHash(hash, entry);
        return {
          seq,
          time: e.time,
          requestId: e.requestId,
          type: 'request',
          operation: e.operation,
          mountPath: e.mountPath,
          path: e.path,
          accessor: e.accessor,
          remoteAddress: e.remoteAddress,
          outcome: e.outcome,
          entry,
          hash,
        };
      });
      await deps.store.insertBatch(q, rows);
      return rows;
    });

  const checkpointAt = async (seq: number, hash: Buffer): Promise<void> => {
    const time = deps.clock.now();
    const { signature, publicKey } = deps.signer.sign(checkpointMessage({ seq, hash, time: time.toISOString() }));
    await deps.store.insertCheckpoint({ seq, hash, time, signature, publicKey });
    lastCheckpointSeq = Math.max(lastCheckpointSeq, seq);
    lastCheckpointAt = Date.now();
  };

  const maybeCheckpoint = async (last: AuditRow): Promise<void> => {
    if (lastCheckpointSeq < 0) lastCheckpointSeq = await deps.store.latestCheckpointSeq();
    if (last.seq - lastCheckpointSeq >= deps.checkpointEvery) await checkpointAt(last.seq, last.hash);
  };

  const flush = async (): Promise<void> => {
    if (flushing) return;
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.slice(0, maxBatch);
        queue = queue.slice(batch.length);
        let rows: AuditRow[];
        try {
          rows = await writeBatch(batch);
        } catch (err) {
          deps.log.error({ err: err instanceof Error ? err.message : String(err), entries: batch.length }, 'audit append failed; requests refused');
          for (const w of batch) w.reject(err);
          continue;
        }
        for (const w of batch) w.resolve();
        stats.batches += 1;
        stats.entries += rows.length;
        const last = rows.at(-1);
        if (last) {
          headSeq = last.seq;
          deps.sink?.write(rows);
          await maybeCheckpoint(last).catch((err: Error) => deps.log.warn({ err: err.message }, 'audit checkpoint failed'));
        }
      }
    } finally {
      flushing = false;
    }
  };

  // Time-based checkpoints: pin the head when entries arrived but the count threshold was not reached.
  const timer = setInterval(() => {
    if (closed || headSeq <= lastCheckpointSeq || Date.now() - lastCheckpointAt < deps.checkpointSeconds * 1000) return;
    void deps.store
      .head()
      .then((h) => (h.seq > lastCheckpointSeq ? checkpointAt(h.seq, h.hash) : undefined))
      .catch((err: Error) => deps.log.warn({ err: err.message }, 'audit checkpoint failed'));
  }, Math.max(250, Math.min(deps.checkpointSeconds * 1000, 5000)));
  timer.unref();

  return {
    stats,
    /** Resolves once the entry is committed in the chain; rejects if it could not be (the request must then fail). */
    append(entry: PendingEntry): Promise<void> {
      if (closed) return Promise.reject(new Error('audit log is closed'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ entry, resolve, reject });
        void flush();
      });
    },
    /** Makes sure a signed checkpoint pins entry `seq` (before pruning the entries up to it). */
    async ensureCheckpointAt(seq: number): Promise<void> {
      if (seq <= 0) return;
      const hash = await deps.store.hashAt(seq);
      if (!hash) throw new Error(`no audit entry with seq ${seq}`);
      await checkpointAt(seq, hash);
    },
    async close(): Promise<void> {
      closed = true;
      clearInterval(timer);
      while (flushing || queue.length > 0) await new Promise((r) => setTimeout(r, 10));
      await deps.sink?.close();
    },
  };
}

export type AuditAppender = ReturnType<typeof createAuditAppender>;
