/** The rotation part of the engine contract (re-exported by engine.ts): what an engine rotates and how it registers it. */
/**
 * A rotation target an engine offers (DESIGN §6, issue 7), driven by core's persisted state machine:
 * create → set → test → finish. The pending value `create` returns is sealed and stored *before* `set` runs, and
 * the stored step says where a run resumes after a crash, so every step must be idempotent: `set` may run again
 * with the same pending value after it already took effect, and `finish` again after it already finished.
 */
export interface RotationTarget {
  /** Checks that `target` (e.g. a static role name) exists and can be rotated; throws a 400 AppError if not. */
  check?(target: string): Promise<void>;
  /** Makes the new value (a password from the policy, …). Never touches the target system. */
  create(ctx: RotationContext): Promise<Record<string, unknown>>;
  /** Applies the pending value to the target system (ALTER ROLE …). */
  set(ctx: RotationContext, pending: Readonly<Record<string, unknown>>): Promise<void>;
  /** Proves the pending value works (logs in with it); throws if it does not. */
  test(ctx: RotationContext, pending: Readonly<Record<string, unknown>>): Promise<void>;
  /** Makes pending current (current becomes previous) in the engine's storage. */
  finish(ctx: RotationContext, pending: Readonly<Record<string, unknown>>): Promise<void>;
  /**
   * Optional (issue 20): the path, relative to the mount, whose consumers acknowledge this target's versions
   * (e.g. "static-creds/app"); the pending value's `version` is the version they must reach before `retire`.
   */
  consumerPath?(target: string): string;
  /** Optional: retires the previous value once consumers have the new one or the grace ran out. Idempotent. */
  retire?(ctx: RotationContext, pending: Readonly<Record<string, unknown>>): Promise<void>;
  /**
   * Optional: false when this run leaves nothing to retire (a single-user role, whose previous password stopped
   * working at `set`; a KV policy that keeps old versions): the run then ends at `finish` without waiting for anyone.
   */
  retires?(ctx: RotationContext, pending: Readonly<Record<string, unknown>>): Promise<boolean>;
}

export interface RotationContext {
  /** The rotation id, e.g. "database/static-roles/app". */
  id: string;
  /** The engine-relative target name, e.g. "app". */
  target: string;
  /** One id per run (a resumed run keeps its id). */
  runId: string;
}

/** How engines register what they rotate; core stores schedules in PostgreSQL and runs them. */
export interface RotationRegistry {
  /**
   * Creates or updates the rotation `<mount path><kind>/<target>` of this mount. `schedule` is a cron expression
   * (UTC) or `periodSeconds` a fixed period; with neither the rotation runs only when asked. Throws a 400 on a bad cron.
   */
  upsert(kind: string, target: string, when: { schedule?: string; periodSeconds?: number }): Promise<void>;
  /** The 400 upsert would throw (a bad cron, or more often than the broker's rotation_min_interval): check before writing. */
  check(when: { schedule?: string; periodSeconds?: number }): void;
  remove(kind: string, target: string): Promise<void>;
  /** Runs the rotation now and waits for it (rotate-role); throws if it fails. */
  runNow(kind: string, target: string): Promise<void>;
  /** The stored next due time (it follows schedule changes made through sys/rotations; a paused rotation keeps it); null: on demand only. */
  nextRun(kind: string, target: string): Promise<Date | null>;
  /** The last finished rotation time (for static-creds' last_vault_rotation), or null. */
  lastRotated(kind: string, target: string): Promise<Date | null>;
  /**
   * The run in progress, if any: its step and its pending value (opened), so that reads can serve what the target
   * accepts; in the retire step, `retireAt` is the deadline sealed with the pending value (issue 20; null otherwise),
   * which a database writer cannot move: what the previous value may still do ends there at the latest.
   */
  inFlight?(kind: string, target: string): Promise<{ step: string; pending: Record<string, unknown>; retireAt: Date | null } | null>;
}
