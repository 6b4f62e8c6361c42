/**
 * Group commit for independent writes (the audit appender's pattern, without its chain): callers submit one item
 * each; while a batch is in flight the next one gathers, and each batch is written by one call of `write` (one
 * statement). Each caller gets its own item's result; a batch that fails rejects every caller in it, and nothing
 * else. An idle queue sends a lone item at once: no added latency when there is no concurrency.
 */
export interface GroupCommitOptions<I, O> {
  /** Writes one batch; returns one result per item, in order. A throw fails every item of the batch. */
  write(items: readonly I[]): Promise<readonly O[]>;
  /** Items per batch at most (default 200). */
  maxBatch?: number;
  /** Batches in flight at once (default 1). */
  depth?: number;
  /**
   * true: an idle queue waits for the end of the current event-loop turn (setImmediate) before it writes, so that
   * items submitted in the same turn (answers that arrived together) share a batch. Default false: at once.
   */
  gather?: boolean;
}

export interface GroupCommit<I, O> {
  submit(item: I): Promise<O>;
  /** Batches written and items in them (committed or failed), for tests and metrics. */
  readonly stats: { batches: number; items: number };
}

interface Waiting<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (err: unknown) => void;
}

export function createGroupCommit<I, O>(opts: GroupCommitOptions<I, O>): GroupCommit<I, O> {
  const maxBatch = opts.maxBatch ?? 200;
  const depth = opts.depth ?? 1;
  let queue: Waiting<I, O>[] = [];
  let inFlight = 0;
  let scheduled = false;
  const stats = { batches: 0, items: 0 };

  const settle = (batch: Waiting<I, O>[], results: readonly O[]): void => {
    if (results.length !== batch.length) {
      const err = new Error(`group commit: ${results.length} results for ${batch.length} items`);
      for (const w of batch) w.reject(err);
      return;
    }
    batch.forEach((w, i) => w.resolve(results[i] as O));
  };

  const pump = (): void => {
    while (queue.length > 0 && inFlight < depth) {
      const batch = queue.slice(0, maxBatch);
      queue = queue.slice(batch.length);
      inFlight += 1;
      stats.batches += 1;
      stats.items += batch.length;
      const done = (): void => {
        inFlight -= 1;
        pump();
      };
      let written: Promise<readonly O[]>;
      try {
        written = opts.write(batch.map((w) => w.item));
      } catch (err) {
        written = Promise.reject(err);
      }
      written.then(
        (results) => {
          settle(batch, results);
          done();
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
          done();
        },
      );
    }
  };

  return {
    stats,
    submit(item: I): Promise<O> {
      return new Promise<O>((resolve, reject) => {
        queue.push({ item, resolve, reject });
        if (!opts.gather || inFlight > 0) return pump();
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          pump();
        });
      });
    },
  };
}
