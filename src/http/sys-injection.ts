/**
 * Vault's top-level copies: on these sys routes Vault writes every `data` field a second time at the top level of the
 * response (legacy clients read them there, e.g. hvac's `list_mounted_secrets_engines()["secret/"]`). The routes are
 * Vault's own list (OpenBao internal/http/handler.go injectDataIntoTopRoutes): a name ending in "/" covers the subtree.
 */
const EXACT = new Set([
  'sys/audit',
  'sys/auth',
  'sys/config/cors',
  'sys/config/auditing/request-headers',
  'sys/capabilities',
  'sys/capabilities-accessor',
  'sys/capabilities-self',
  'sys/ha-status',
  'sys/key-status',
  'sys/mounts',
  'sys/policy',
  'sys/rekey/backup',
  'sys/rekey/recovery-key-backup',
  'sys/rotate/root/backup',
  'sys/rotate/recovery/backup',
  'sys/remount',
  'sys/rotate',
  'sys/rotate/keyring',
  'sys/wrapping/wrap',
]);
const SUBTREES = ['sys/audit/', 'sys/audit-hash/', 'sys/auth/', 'sys/config/auditing/request-headers/', 'sys/mounts/', 'sys/policy/'];

/** `apiPath` without leading or trailing slash, as the adapter parses it. */
export function injectsDataAtTopLevel(apiPath: string): boolean {
  return EXACT.has(apiPath) || SUBTREES.some((p) => apiPath.startsWith(p));
}

/** The envelope with `data`'s fields copied to the top level; the envelope's own fields win a clash, as in Vault. */
export function withTopLevelData(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || !('data' in body)) return body;
  const data = (body as { data: unknown }).data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return body;
  return { ...(data as Record<string, unknown>), ...(body as Record<string, unknown>) };
}
