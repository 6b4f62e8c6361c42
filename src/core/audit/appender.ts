import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import type { AuditRow, AuditStore, CheckpointRow, TreeNodeRow } from '../../storage/audit-store.ts';
import type { Db } from '../../storage/db.ts';
import { serializeEntry, type PendingEntry } from './entry.ts';
import { appendLeaf, copyFrontier, decodeFrontier, encodeFrontier, frontierRoot, leafHash, type Frontier } from '../../lib/merkle.ts';
import { checkpointBody, parseCheckpointBody, parseNote } from './note.ts';
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
  /** The checkpoint cadence and the signed `time` line of each checkpoint. */
  clock: Clock;
  /** A signed checkpoint at every tree size that is a multiple of this (written in the batch that reaches it)… */
  checkpointEvery: number;
  /** …or after this many seconds with new entries, whichever comes first. */
  checkpointSeconds: number;
  maxBatch?: number;
  /** Batches in flight at once (default 1: deeper pipelines overtake each other at the head lock and retry). */
  pipelineDepth?: number;
  sink?: AuditSink;
  /** HMAC of a leaf hash under a root-key-derived key (stored beside each entry; verify names a rewritten entry by it). */
  entryMac?: (leaf: Buffer) => Buffer;
  /** Optional observer (metrics): each batch's size and commit time in seconds, and whether it committed or failed. */
  onBatch?: (entries: number, seconds: number, committed: boolean) => void;
}

interface Waiting {
  entry: PendingEntry;
  /** Appends of this entry that found the head moved: bounded (MAX_ATTEMPTS), never an endless retry loop. */
  attempts: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const MAX_ATTEMPTS = 8;

/** The `mac-from <seq>` extension line of a checkpoint note, or null (its signature is verify's business). */
export function macFromOf(note: string): number | null {
  const n = parseNote(note);
  const body = n ? parseCheckpointBody(n.body) : null;
  const line = body?.extensions.find((l) => /^mac-from [1-9]\d{0,15}$/.test(l));
  return line ? Number(line.slice('mac-from '.length)) : null;
}

interface Head {
  seq: number;
  hash: Buffer;
  frontier: Frontier;
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
  const nowMs = (): number => deps.clock.now().getTime();
  let lastCheckpointAt = nowMs();
  let headSeq = 0;
  let closed = false;
  const stats = { batches: 0, entries: 0 };

  /**
   * The seq from which every entry carries a MAC (this broker MACs all it appends), signed into each checkpoint as
   * the extension line `mac-from <seq>`: verify then refuses a MAC-less entry from there on, so nulling the MACs
   * is named. (Each checkpoint also signs the time it was signed at, `time <unix seconds>`: verify's time cadence.)
   * Carried over from the last checkpoint that states it, else the first seq this process appends.
   */
  let macFrom: number | null = null;
  const checkpointRow = (f: Frontier, root: Buffer, time: Date): CheckpointRow => ({
    seq: f.size,
    hash: root,
    time,
    note: deps.signer.signNote(checkpointBody(deps.signer.origin(), f.size, root, [`time ${Math.floor(nowMs() / 1000)}`, ...(macFrom !== null && macFrom <= f.size ? [`mac-from ${macFrom}`] : [])])),
    frontier: encodeFrontier(f),
  });

  /** The batch's rows (leaf hashes), the tree nodes it completes, its checkpoints and the head it leaves. */
  const buildBatch = (batch: Waiting[], head: Head) => {
    const f = copyFrontier(head.frontier);
    const nodes: TreeNodeRow[] = [];
    const checkpoints: CheckpointRow[] = [];
    const rows = batch.map(({ entry: e }): AuditRow => {
      const seq = f.size + 1;
      const entry = serializeEntry(e.fields, seq);
      const hash = leafHash(entry);
      appendLeaf(f, hash, (n) => nodes.push(n));
      if (seq % deps.checkpointEvery === 0) checkpoints.push(checkpointRow(f, frontierRoot(f), e.time));
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
        mac: deps.entryMac ? deps.entryMac(hash) : null,
      };
    });
    const next: Head = { seq: f.size, hash: frontierRoot(f), frontier: f };
    return { rows, nodes, checkpoints, next };
  };

  /**
   * A time-based checkpoint signs the last head THIS replica committed (never just what audit_head says: a row an
   * SQL writer appended and put in the head is not signed by a timer). It carries the time of the entry it pins
   * (search turns time ranges into seq ranges with it).
   */
  let committed: { head: Head; time: Date } | null = null;
  const checkpointHead = async (): Promise<void> => {
    const c = committed;
    if (!c) return;
    lastCheckpointSeq = Math.max(lastCheckpointSeq, await deps.store.latestCheckpointSeq());
    if (c.head.seq <= lastCheckpointSeq) return;
    await deps.store.insertCheckpoint(checkpointRow(c.head.frontier, c.head.hash, c.time));
    lastCheckpointSeq = Math.max(lastCheckpointSeq, c.head.seq);
    lastCheckpointAt = nowMs();
  };

  const readHead = async (): Promise<Head> => {
    const h = await deps.store.head();
    const frontier = decodeFrontier(h.seq, h.frontier);
    if (!frontier || !frontierRoot(frontier).equals(h.hash)) throw new Error(`audit head at seq ${h.seq} is corrupt (its frontier does not give its root)`);
    if (macFrom === null && deps.entryMac) {
      const last = await deps.store.latestCheckpoint();
      const stated = last ? macFromOf(last.note) : null;
      macFrom = stated !== null && stated <= h.seq + 1 ? stated : h.seq + 1;
    }
    return { seq: h.seq, hash: h.hash, frontier };
  };

  // Pipelining: up to `depth` batches in flight, each built on the head the previous one will leave. PostgreSQL
  // serialises them on the audit_head row; a batch whose expected head is not there (another replica appended, or
  // it overtook its predecessor) changes nothing and is rebuilt once everything in flight has settled.
  const depth = deps.pipelineDepth ?? 1;
  let predicted: Head | null = null;
  let inFlight = 0;
  let refreshing = false;
  let dispatched = 0;
  let retry: { order: number; batch: Waiting[] }[] = [];
  /** close() waits here until nothing is queued, in flight or being re-read (no polling). */
  let idleWaiters: (() => void)[] = [];
  const busy = (): boolean => inFlight > 0 || refreshing || queue.length > 0 || retry.length > 0;
  const notifyIdle = (): void => {
    if (busy() || idleWaiters.length === 0) return;
    const waiting = idleWaiters;
    idleWaiters = [];
    for (const w of waiting) w();
  };

  const settled = (batch: Waiting[], rows: AuditRow[], checkpoints: CheckpointRow[], next: Head): void => {
    for (const w of batch) w.resolve();
    stats.batches += 1;
    stats.entries += rows.length;
    const last = rows.at(-1);
    if (!last) return;
    headSeq = Math.max(headSeq, last.seq);
    if (!committed || next.seq > committed.head.seq) committed = { head: next, time: last.time };
    const cp = checkpoints.at(-1);
    if (cp) {
      lastCheckpointSeq = Math.max(lastCheckpointSeq, cp.seq);
      lastCheckpointAt = nowMs();
    }
    deps.sink?.write(rows);
  };

  const refuse = (batch: Waiting[], err: Error): void => {
    for (const w of batch) w.reject(err);
  };

  /** A batch that did not commit: retried on the fresh head, unless its entries have tried too often. */
  const requeue = (order: number, batch: Waiting[]): void => {
    const tired = batch.filter((w) => ++w.attempts >= MAX_ATTEMPTS);
    if (tired.length > 0) {
      deps.log.error({ entries: tired.length, attempts: MAX_ATTEMPTS }, 'audit append kept finding the head moved; requests refused');
      refuse(tired, new Error('audit append failed repeatedly'));
    }
    const rest = batch.filter((w) => w.attempts < MAX_ATTEMPTS);
    if (rest.length > 0) retry.push({ order, batch: rest });
  };

  const refresh = (): void => {
    if (refreshing || inFlight > 0) return;
    refreshing = true;
    readHead().then(
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
        notifyIdle();
      },
    );
  };

  const pump = (): void => {
    while (queue.length > 0 && inFlight < depth) {
      if (!predicted) return refresh();
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      const expected = predicted;
      let built: ReturnType<typeof buildBatch>;
      try {
        built = buildBatch(batch, expected);
      } catch (err) {
        // Sealed meanwhile (no signing key), or a corrupt head: nothing was written.
        deps.log.error({ err: err instanceof Error ? err.message : String(err), entries: batch.length }, 'audit batch could not be built; requests refused');
        refuse(batch, err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      const { rows, nodes, checkpoints, next } = built;
      predicted = next;
      inFlight += 1;
      const order = dispatched++;
      const started = performance.now();
      const done = (): void => {
        inFlight -= 1;
        pump();
      };
      deps.store.appendIfHead(expected, rows, { seq: next.seq, hash: next.hash, frontier: encodeFrontier(next.frontier) }, nodes, checkpoints).then(
        async (conflict) => {
          if (!conflict) {
            deps.onBatch?.(rows.length, (performance.now() - started) / 1000, true);
            settled(batch, rows, checkpoints, next);
            return done();
          }
          predicted = null;
          if (conflict.kind === 'taken') {
            // A seq is taken. If the head has not moved, the row is not one an appender wrote (a stray row at
            // head + 1, put there by hand or by a broken restore): retrying would fail forever. Fail closed and loud.
            const now = await deps.store.head().catch(() => null);
            if (now && now.seq === expected.seq && now.hash.equals(expected.hash)) {
              const seq = conflict.seq ?? expected.seq + 1;
              deps.log.error(
                { seq, head_seq: expected.seq },
                `audit append refused: seq ${seq} is already stored but the audit head is at ${expected.seq} (a row the log does not account for); requests refused until it is removed`,
              );
              deps.onBatch?.(batch.length, (performance.now() - started) / 1000, false);
              refuse(batch, new Error(`audit seq ${seq} is taken by a row outside the log`));
              return done();
            }
          }
          requeue(order, batch);
          done();
        },
        (err: unknown) => {
          predicted = null;
          deps.log.error({ err: err instanceof Error ? err.message : String(err), entries: batch.length }, 'audit append failed; requests refused');
          deps.onBatch?.(batch.length, (performance.now() - started) / 1000, false);
          refuse(batch, err instanceof Error ? err : new Error(String(err)));
          done();
        },
      );
    }
    if (!predicted && queue.length === 0 && retry.length > 0) refresh();
    notifyIdle();
  };

  /**
   * Time-based checkpoints: pins the head when entries arrived but the count threshold was not reached. Run by the
   * scheduler's shared `audit-checkpoint` job (every second) on every replica.
   */
  async function checkpointIfDue(): Promise<void> {
    if (lastCheckpointSeq < 0) lastCheckpointSeq = await deps.store.latestCheckpointSeq();
    if (closed || headSeq <= lastCheckpointSeq || nowMs() - lastCheckpointAt < deps.checkpointSeconds * 1000) return;
    await checkpointHead();
  }

  return {
    stats,
    checkpointIfDue,
    /** Resolves once the entry is committed in the chain; rejects if it could not be (the request must then fail). */
    append(entry: PendingEntry): Promise<void> {
      if (closed) return Promise.reject(new Error('audit log is closed'));
      return new Promise<void>((resolve, reject) => {
        queue.push({ entry, attempts: 0, resolve, reject });
        pump();
      });
    },
    /** The highest seq this process has seen committed (verify's floor: the stored log may not be shorter). */
    committedSize: (): number => headSeq,
    /** Signs a checkpoint at the last head this replica committed now (if none pins it yet). */
    checkpointNow: (): Promise<void> => checkpointHead(),
    async close(): Promise<void> {
      closed = true;
      if (busy()) await new Promise<void>((resolve) => idleWaiters.push(resolve));
      deps.log.info({ batches: stats.batches, entries: stats.entries }, 'audit appender closed');
      await deps.sink?.close();
    },
  };
}

export type AuditAppender = ReturnType<typeof createAuditAppender>;
