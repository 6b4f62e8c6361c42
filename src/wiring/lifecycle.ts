/**
 * The broker's start-up as one explicit list, and its shutdown as the same list undone in reverse: every resource a
 * phase acquires (the database, tracing) and every step that starts something registers how it is undone.
 */
import { startupMark } from '../lib/startup-trace.ts';

export interface StartStep {
  name: string;
  start?: () => Promise<unknown> | void;
  /** Undoes `start` (or releases what the step stands for); runs only if `start` finished. */
  stop?: () => Promise<unknown> | void;
}

export interface Lifecycle {
  /** A resource acquired while building: released by `close()`, the last acquired first. */
  own(name: string, stop: () => Promise<unknown> | void): void;
  /** Runs each step in order; a failure leaves the steps that finished to `close()`. */
  start(steps: readonly StartStep[]): Promise<void>;
  /** Undoes everything started or owned, in reverse; every step runs, and the first failure is thrown at the end. */
  close(): Promise<void>;
  /** What `close()` would undo, in the order it would (for tests and logs). */
  pending(): string[];
}

export function createLifecycle(): Lifecycle {
  const undo: { name: string; stop: () => Promise<unknown> | void }[] = [];
  return {
    own(name, stop) {
      undo.push({ name, stop });
    },
    async start(steps) {
      for (const step of steps) {
        await step.start?.();
        if (step.start) startupMark(step.name);
        if (step.stop) undo.push({ name: step.name, stop: step.stop });
      }
    },
    async close() {
      let first: unknown = null;
      for (let s = undo.pop(); s; s = undo.pop()) {
        try {
          await s.stop();
        } catch (err) {
          first ??= err;
        }
      }
      if (first !== null) throw first;
    },
    pending: () => undo.map((s) => s.name).reverse(),
  };
}
