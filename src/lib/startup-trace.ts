/**
 * `SEALBOX_STARTUP_TRACE=1`: each phase of `sealbox server`'s start-up prints one stderr line with the milliseconds
 * since the process started (process.uptime(), the same in the worker threads), so that where start-up time goes can be measured
 * on the compiled broker without a profiler. Off by default; it prints nothing else.
 */
const on = process.env.SEALBOX_STARTUP_TRACE === '1';

export function startupMark(phase: string): void {
  if (on) process.stderr.write(`startup ${(process.uptime() * 1000).toFixed(0).padStart(5)} ms  ${phase}\n`);
}
