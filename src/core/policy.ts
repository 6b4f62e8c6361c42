import type { Operation } from './engine.ts';

/**
 * Authorisation seam. Until ACL policies land (access-control issue), `root` may do everything and every
 * other token gets only what Vault's built-in `default` policy grants on its own token.
 */
export interface Authorizer {
  allowed(policies: readonly string[], path: string, operation: Operation): boolean;
}

const DEFAULT_POLICY_PATHS = new Set(['auth/token/lookup-self', 'auth/token/renew-self', 'auth/token/revoke-self']);

export function createRootOnlyAuthorizer(): Authorizer {
  return {
    allowed(policies, path) {
      if (policies.includes('root')) return true;
      return policies.includes('default') && DEFAULT_POLICY_PATHS.has(path);
    },
  };
}
