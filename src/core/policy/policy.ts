import type { TokenEntry } from '../tokens/tokens.ts';

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

/** A policy's `min_wrapping_ttl` / `max_wrapping_ttl` on a path, in seconds (absent: no limit). */
export interface WrappingLimits {
  minWrappingTtl?: number;
  maxWrappingTtl?: number;
}

/** The outcome of a full ACL check. The wrapping bounds (seconds) are the matched rule's min/max_wrapping_ttl. */
export interface AclResult extends WrappingLimits {
  allowed: boolean;
}

/** Decides whether a token may use a capability on a path (plus `sudo` on root-protected paths). */
export interface Authorizer {
  allowed(token: TokenEntry, path: string, capability: Capability, needsSudo: boolean): boolean | Promise<boolean>;
  /**
   * `allowed` answered at once from what is already cached (compiled policies), or undefined when it would have to
   * wait (then ask `allowed`). For hot paths that decide many times over, such as an event fanned out to subscribers.
   */
  allowedNow?(token: TokenEntry, path: string, capability: Capability, needsSudo: boolean): boolean | undefined;
  /**
   * The request-time check: `allowed` plus the path's parameter constraints on the request's data (Vault checks them
   * for read, create, update and patch) and its wrapping TTL bounds, which the caller enforces.
   */
  check(token: TokenEntry, path: string, capability: Capability, needsSudo: boolean, data: Readonly<Record<string, unknown>>): Promise<AclResult>;
}

