/**
 * The retire step's deadline and consumer path travel inside the run's sealed pending value (bound to the rotation by
 * the barrier), not in the retire_at/retire_path columns, which only schedule the recheck and show the state: a
 * database writer who moves those columns cannot keep the previous credential alive past its grace (issue 20).
 */
const RETIRE_AT = 'sealbox_retire_at';
const RETIRE_PATH = 'sealbox_retire_path';

/** The pending value with the retire step's deadline and consumer path added, to be sealed again. */
export const withRetire = (pending: Readonly<Record<string, unknown>>, retireAt: Date, path: string): Record<string, unknown> => ({
  ...pending,
  [RETIRE_AT]: retireAt.toISOString(),
  [RETIRE_PATH]: path,
});

/** What the sealed pending value says of the retire step: `at` is null for a run begun by an older broker. */
export function sealedRetire(pending: Readonly<Record<string, unknown>> | null): { at: Date | null; path: string } {
  const raw = pending?.[RETIRE_AT];
  const at = typeof raw === 'string' ? new Date(raw) : null;
  const path = pending?.[RETIRE_PATH];
  return { at: at && !Number.isNaN(at.getTime()) ? at : null, path: typeof path === 'string' ? path : '' };
}
