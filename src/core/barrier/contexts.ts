/**
 * Every barrier encryption context (DESIGN §2 "Binding"): secretbox has no AAD, so a sealed value carries the context
 * it was sealed for, and opening it under any other fails. A context names the row a value belongs to; this map is
 * the only way to make one (the barrier takes only an `EncryptionContext`), so that the writers, the readers and the
 * keyring rewrap job cannot drift apart. The keys are the tables whose envelopes the rewrap job re-wraps, plus the
 * rows that are not rewrapped (`lease_intents`: short-lived; `rotation_probe`: never stored).
 */
declare const contextBrand: unique symbol;
export type EncryptionContext = string & { readonly [contextBrand]: true };

const ctx = (s: string): EncryptionContext => s as EncryptionContext;

export const CONTEXTS = {
  /** An engine's stored entry: bound to its mount and key (barrier/entry-storage.ts). */
  entries: (mountId: string, key: string) => ctx(`entries/${mountId}/${key}`),
  /** A builtin mount's stored entry (sys/, auth/token/), by its scoped id (barrier/core-storage.ts). */
  core_entries: (id: string) => ctx(`core/${id}`),
  /** A lease's internal data (leases/leases.ts). */
  leases: (leaseId: string) => ctx(`leases/${leaseId}`),
  /** A lease intent's internal data (leases/lease-intents.ts). */
  lease_intents: (intentId: string) => ctx(`lease-intents/${intentId}`),
  /** A rotation's sealed pending value (rotations/rotations.ts). */
  rotations: (rotationId: string) => ctx(`rotations/${rotationId}`),
  /** The keyring rotation's test step: a probe sealed and opened at once, never stored (barrier/keyring-rewrap.ts). */
  rotation_probe: (rotationId: string) => ctx(`rotations/${rotationId}/test`),
} as const;

export type ContextKind = keyof typeof CONTEXTS;
