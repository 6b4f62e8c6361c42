import type { TokenEntry } from './tokens.ts';

export type Capability = 'create' | 'read' | 'update' | 'patch' | 'delete' | 'list' | 'sudo' | 'deny';

/** Decides whether a token may use a capability on a path (plus `sudo` on root-protected paths). */
export interface Authorizer {
  allowed(token: TokenEntry, path: string, capability: Capability, needsSudo: boolean): boolean | Promise<boolean>;
}

const DEFAULT_POLICY_PATHS = new Set(['auth/token/lookup-self', 'auth/token/renew-self', 'auth/token/revoke-self']);

/** Interim: root may do everything; other tokens only what Vault's `default` policy grants on their own token. */
export function createRootOnlyAuthorizer(): Authorizer {
  return {
    allowed(token, path) {
      if (token.policies.includes('root')) return true;
      return token.policies.includes('default') && DEFAULT_POLICY_PATHS.has(path);
    },
  };
}
