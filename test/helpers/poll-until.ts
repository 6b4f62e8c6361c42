/**
 * Waiting for a condition that has no event to wait on (a row in pg_stat_activity, a state read over HTTP): `probe`
 * is called until it returns something other than undefined/false/null, which is returned; after `timeoutMs` of
 * probing in vain it throws, naming `what` and the last value seen. A deadline, not a delay: it returns as soon as
 * the condition holds, so a slow machine makes it take longer, never fail early.
 *
 *   const pid = await pollUntil('the query waits on the lock', () => blockedPid());
 */
export async function pollUntil<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = await probe();
    if (last !== undefined && last !== null && last !== false) return last as T;
    if (Date.now() >= deadline) throw new Error(`pollUntil: ${what}: not so after ${timeoutMs} ms (last: ${String(last)})`);
    await new Promise<void>((resolve) => {
      setTimeout(resolve, intervalMs);
    });
  }
}
