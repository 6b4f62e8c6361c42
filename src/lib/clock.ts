/**
 * The broker's sense of time (DESIGN §10–11): every decision that depends on "now" (expiry, cadence, caches,
 * schedules, claims, signed times) asks an injected Clock, so that a test moves time by advancing a FakeClock
 * (lib/fake-clock.ts) and then kicks the job that acts on it (the scheduler's runNow), instead of sleeping.
 *
 * What deliberately stays on the real timers of the process, and why:
 * - I/O guards: step timeouts, socket keep-alives and heartbeats, connection retries, the SIGTERM drain deadline,
 *   and the short polls that wait for another replica to let go of a claim. They bound real waiting on real I/O;
 *   a fake clock standing still must not make them wait forever, nor fire them early.
 * - Measurements: request and audit-batch latencies for metrics (performance.now()).
 * - The file system: lock-breaker staleness compares file mtimes, which the kernel stamps with the wall clock.
 * - node-cron: it decides when a job's slot is due on the wall clock; a test never waits for it but runs the job
 *   with `scheduler.runNow(name)` (App.jobs) after advancing the FakeClock.
 */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
