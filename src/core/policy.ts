import type { TokenEntry } from './tokens.ts';

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

/** Decides whether a token may use a capability on a path (plus `sudo` on root-protected paths). */
export interface Authorizer {
  allowed(token: TokenEntry, path: string, capability: Capability, needsSudo: boolean): boolean | Promise<boolean>;
}

