import type { Logger } from '../../lib/log.ts';
import type { AuditRow, AuditStore } from '../../storage/audit-store.ts';
import type { Db } from '../../storage/db.ts';
import { chainHash, checkpointMessage } from './canonical.ts';
import { serializeEntry, type PendingEntry } from './entry.ts';
import type { AuditSigner } from './signer.ts';

export interface AuditSink {
  write(rows: readonly AuditRow[]): void;
  close(): Promise<void>;
}

export interface AuditAppenderDeps {
  db: Db;
  store: AuditStore;
  signer: AuditSigner;
  log: Logger;
  /** A signed checkpoint after this many entries (from this replica)… */
  checkpointEvery: number;
  /** …or after this many seconds with new entries, whichever comes first. */
  checkpointSeconds: number;
  maxBatch?: number;
  /** Batches in flight at once (default 1: deeper pipelines overtake each other at the head lock and retry). */
  pipelineDepth?: number;
  sink?: AuditSink;
  /** Optional observer (metrics): each batch's size and commit time in seconds, and whether it committed or failed. */
  onBatch?: (entries: number, seconds: number, committed: boolean) => void;
}

interface Waiting {
  entry: PendingEntry;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: requests enqueue their entry and wait; one flush loop writes everything queued as one statement
 * that moves the audit_head row (compare-and-set, under its row lock) and inserts the batch, then answers all of
 * them. While a batch commits, the next one gathers. A failed batch rejects every request in it (fail closed).
 */
export function createAuditAppender(deps: AuditAppenderDeps) {
  const maxBatch = deps.maxBatch ?? 500;
  let queue: Waiting[] = [];
  let lastCheckpointSeq = -1;
  let lastCheckpointAt = Date.now();
  let headSeq = 0;
  let closed = false;
  const stats = { batches: 0, entries: 0 };

  const buildRows = (batch: Waiting[], head: { seq: number; hash: Buffer }): AuditRow[] => {
    let seq = head.seq;
    let hash = head.hash;
    return batch.map(({ entry: e }) => {
      seq += 1;
      const entry = serializeEntry(e.fields, seq);
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
  };

  /** A checkpoint carries the time of the entry it pins (search turns time ranges into seq ranges with it). */
  const checkpointAt = async (seq: number, hash: Buffer, time: Date): Promise<void> => {
    const { signature, publicKey } = deps.signer.sign(checkpointMessage({ seq, hash, time: time.toISOString() }));
    await deps.store.insertCheckpoint({ seq, hash, time, signature, publicKey });
    lastCheckpointSeq = Math.max(lastCheckpointSeq, seq);
    lastCheckpointAt = Date.now();
  };

  const maybeCheckpoint = async (last: AuditRow): Promise<void> => {
    if (lastCheckpointSeq < 0) lastCheckpointSeq = await deps.store.latestCheckpointSeq();
    if (last.seq - lastCheckpointSeq >= deps.checkpointEvery) await checkpointAt(last.seq, last.hash, last.time);
  };

  // Pipelining: up to `depth` batches in flight, each built on the head the previous one will leave. PostgreSQL
  // serialises them on the audit_head row; a batch whose expected head is not there (another replica appended, or
  // it overtook its predecessor) changes nothing and is rebuilt once everything in flight has settled.
  const depth = deps.pipelineDepth ?? 1;
  let predicted: { seq: number; hash: Buffer } | null = null;
  let inFlight = 0;
  let refreshing = false;
  let dispatched = 0;
  let retry: { order: number; batch: Waiting[] }[] = [];

  const settled = (batch: Waiting[], rows: AuditRow[]): void => {
    for (const w of batch) w.resolve();
    stats.batches += 1;
    stats.entries += rows.length;
    const last = rows.at(-1);
    if (!last) return;
    headSeq = Math.max(headSeq, last.seq);
    deps.sink?.write(rows);
    void maybeCheckpoint(last).catch((err: Error) => deps.log.warn({ err: err.message }, 'audit checkpoint failed'));
  };

  const refresh = (): void => {
    if (refreshing || inFlight > 0) return;
    refreshing = true;
    deps.store.head().then(
      (h) => {
        refreshing = false;
        predicted = h;
        queue = [...retry.sort((a, b) => a.order - b.order).flatMap((r) => r.batch), ...queue];
        retry = [];
        pump();
      },
      (err: unknown) => {
        refreshing = false;
        const waiting = [...retry.flatMap((r) => r.batch), ...queue];
        retry = [];
        queue = [];
        deps.log.error({ err: err instanceof Error ? err.message : String(err) }, 'audit head unreadable; requests refused');
        for (const w of waiting) w.reject(err);
      },
    );
  };

  const pump = (): void => {
    while (queue.length > 0 && inFlight < depth) {
      if (!predicted) return refresh();
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      const expected = predicted;
      const rows = buildRows(batch, expected);
      const last = rows.at(-1);
      if (last) predicted = { seq: last.seq, hash: last.hash };
      inFlight += 1;
      const order = dispatched++;
      const started = performance.now();
      deps.store.appendIfHead(expected, rows).then(
        (ok) => {
          inFlight -= 1;
          if (ok) {
            deps.onBatch?.(rows.length, (performance.now() - started) / 1000, true);
            settled(batch, rows);
          } else {
            retry.push({ order, batch });
            predicted = null;
          }
          pump();
        },
        (err: unknown) => {
          inFlight -= 1;
          predicted = null;
          deps.log.error({ err: err instanceof Error ? err.message : String(err), entries: batch.length }, 'audit append failed; requests refused');
          deps.onBatch?.(batch.length, (performance.now() - started) / 1000, false);
          for (const w of batch) w.reject(err);
          pump();
        },
      );
    }
    if (!predicted && queue.length === 0 && retry.length > 0) refresh();
  };

  /**
   * Time-based checkpoints: pins the head when entries arrived but the count threshold was not reached. Run by the
   * scheduler's shared `audit-checkpoint` job (every second) on every replica.
   */
  async function checkpointIfDue(): Promise<void> {
    if (closed || headSeq <= lastCheckpointSeq || Date.now() - lastCheckpointAt < deps.checkpointSeconds * 1000) return;
    const h = await deps.store.head();
    if (h.seq <= lastCheckpointSeq) return;
    const link = await deps.store.linkAt(h.seq);
    if (link) await checkpointAt(h.seq, link.hash, link.time);
  }

  return {
    stats,
    checkpointIfDue,
    /** Resolves once the entry is committed in the chain; rejects if it could not be (the request must then fail). */
    append(entry: PendingEntry): Promise<void> {
      if (closed) return Promise.reject(new Error('audit log is closed'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ entry, resolve, reject });
        pump();
      });
    },
    /** Makes sure a signed checkpoint pins entry `seq` (before pruning the entries up to it). */
    async ensureCheckpointAt(seq: number): Promise<void> {
      if (seq <= 0) return;
      const link = await deps.store.linkAt(seq);
      if (!link) throw new Error(`no audit entry with seq ${seq}`);
      await checkpointAt(seq, link.hash, link.time);
    },
    async close(): Promise<void> {
      closed = true;
      while (inFlight > 0 || refreshing || queue.length > 0 || retry.length > 0) await new Promise((r) => setTimeout(r, 10));
      deps.log.info({ batches: stats.batches, entries: stats.entries }, 'audit appender closed');
      await deps.sink?.close();
    },
  };
}

export type AuditAppender = ReturnType<typeof createAuditAppender>;
