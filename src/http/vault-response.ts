import type { AuthResponse, EngineResponse, MountInfo, WrapInfo } from '../core/engine.ts';

const authWire = (a: AuthResponse) => ({
  client_token: a.clientToken,
  accessor: a.accessor,
  policies: a.policies,
  token_policies: a.tokenPolicies,
  identity_policies: null,
  metadata: Object.keys(a.metadata).length > 0 ? a.metadata : null,
  lease_duration: a.leaseDuration,
  renewable: a.renewable,
  entity_id: '',
  token_type: 'service',
  orphan: a.orphan,
  mfa_requirement: null,
  num_uses: a.numUses ?? 0,
});

const wrapWire = (w: WrapInfo) => ({
  token: w.token,
  accessor: w.accessor,
  ttl: w.ttl,
  creation_time: w.creationTime,
  creation_path: w.creationPath,
  wrapped_accessor: w.wrappedAccessor ?? '',
});

/** Renders an engine response in Vault's wire form: a status and a body (undefined for 204). */
export function renderResponse(requestId: string, r: EngineResponse, mount: MountInfo): { status: number; body?: unknown; contentType?: string } {
  if (r.raw?.body !== undefined) return { status: r.raw.status, body: r.raw.body, contentType: r.raw.contentType ?? 'application/octet-stream' };
  if (r.raw) return { status: r.raw.status, body: r.data ?? {} };
  const warnings = r.warnings && r.warnings.length > 0 ? r.warnings : null;
  if (!r.data && !r.auth && !r.leased && !warnings && !r.wrapInfo) return { status: 204 };
  return {
    status: 200,
    body: {
      request_id: requestId,
      lease_id: r.leased?.id ?? '',
      renewable: r.leased?.renewable ?? false,
      lease_duration: r.leased?.duration ?? 0,
      data: r.data ?? null,
      wrap_info: r.wrapInfo ? wrapWire(r.wrapInfo) : null,
      warnings,
      auth: r.auth ? authWire(r.auth) : null,
      mount_type: mount.type,
    },
  };
}
