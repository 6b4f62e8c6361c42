import type { TokenEntry } from './tokens.ts';

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

/** A policy's `min_wrapping_ttl` / `max_wrapping_ttl` on a path, in seconds (absent: no limit). */
export interface WrappingLimits {
  minWrappingTtl?: number;
  maxWrappingTtl?: number;
}

/** Decides whether a token may use a capability on a path (plus `sudo` on root-protected paths). */
export interface Authorizer {
  allowed(token: TokenEntry, path: string, capability: Capability, needsSudo: boolean): boolean | Promise<boolean>;
  /**
   * The wrapping TTL limits the token's policies set on the path, if any. The pipeline enforces them as Vault does:
   * with either limit set the request must be wrapped, with a TTL within the limits, or it is denied.
   */
  wrappingLimits?(token: TokenEntry, path: string): WrappingLimits | null | Promise<WrappingLimits | null>;
}

