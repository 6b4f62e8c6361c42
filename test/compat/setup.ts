// The operator's side of the compat replays, through the API with the root token (not part of any tool's replay):
// service-account JWTs as a Kubernetes API server issues them for a TokenRequest (projected, audience-bound,
// optionally pod-bound), a kubernetes auth mount that trusts their signing key, AppRole roles, policies, and a
// PKI root → intermediate hierarchy.
import { randomUUID } from 'node:crypto';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { api, type Broker } from '../helpers/broker.ts';

export const CLUSTER_ISSUER = 'https://kubernetes.default.svc.cluster.local';

export interface ClusterKey {
  privateKey: CryptoKey;
  publicPem: string;
}

export async function clusterKey(): Promise<ClusterKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { privateKey, publicPem: await exportSPKI(publicKey) };
}

export interface TokenRequest {
  namespace: string;
  serviceAccount: string;
  audiences: string[];
  expirationSeconds: number;
  /** BoundObjectRef Pod (the CSI provider binds its tokens to the pod). */
  pod?: string;
}

/** The JWT in TokenRequest.status.token. */
export async function tokenRequest(key: ClusterKey, req: TokenRequest): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    aud: req.audiences,
    exp: now + req.expirationSeconds,
    iat: now,
    nbf: now,
    iss: CLUSTER_ISSUER,
    sub: `system:serviceaccount:${req.namespace}:${req.serviceAccount}`,
    'kubernetes.io': {
      namespace: req.namespace,
      ...(req.pod ? { pod: { name: req.pod, uid: randomUUID() } } : {}),
      serviceaccount: { name: req.serviceAccount, uid: randomUUID() },
    },
  };
  return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'cluster' }).sign(key.privateKey);
}

async function ok(b: Broker, method: string, path: string, body: unknown): Promise<void> {
  const r = await api(b, method, path, { body });
  if (r.status !== 200 && r.status !== 204) throw new Error(`setup ${method} ${path} failed: ${r.status} ${r.text}`);
}

/** Enables kubernetes auth at `mount` trusting `key` (pem_keys: sealbox's local verification) and writes one role. */
export async function setupKubernetesAuth(
  b: Broker,
  key: ClusterKey,
  mount: string,
  role: { name: string; namespace: string; serviceAccount: string; policies: string[]; audience?: string; ttl?: string },
): Promise<void> {
  await ok(b, 'POST', `sys/auth/${mount}`, { type: 'kubernetes' });
  await ok(b, 'POST', `auth/${mount}/config`, { kubernetes_host: 'https://10.0.0.1:443', pem_keys: [key.publicPem] });
  await ok(b, 'POST', `auth/${mount}/role/${role.name}`, {
    bound_service_account_names: [role.serviceAccount],
    bound_service_account_namespaces: [role.namespace],
    token_policies: role.policies,
    token_ttl: role.ttl ?? '1h',
    ...(role.audience ? { audience: role.audience } : {}),
  });
}

/** An AppRole role with a fixed role-id and one secret-id (the operator's setup). */
export async function setupAppRole(b: Broker, role: string, policies: string[], mount = 'approle'): Promise<{ roleId: string; secretId: string }> {
  const m = await api(b, 'GET', 'sys/auth');
  if (!Object.keys(((m.json as { data?: Record<string, unknown> }).data ?? {}) as object).includes(`${mount}/`)) {
    await ok(b, 'POST', `sys/auth/${mount}`, { type: 'approle' });
  }
  await ok(b, 'POST', `auth/${mount}/role/${role}`, { token_policies: policies, token_ttl: '1h', token_max_ttl: '4h' });
  const rid = await api(b, 'GET', `auth/${mount}/role/${role}/role-id`);
  const sid = await api(b, 'POST', `auth/${mount}/role/${role}/secret-id`, { body: {} });
  const roleId = (rid.json as { data?: { role_id?: string } }).data?.role_id;
  const secretId = (sid.json as { data?: { secret_id?: string } }).data?.secret_id;
  if (!roleId || !secretId) throw new Error(`approle setup failed: ${rid.text} ${sid.text}`);
  return { roleId, secretId };
}

/** Writes an ACL policy (JSON form) with the root token. */
export async function setupPolicy(b: Broker, name: string, paths: Record<string, string[]>): Promise<void> {
  const policy = JSON.stringify({ path: Object.fromEntries(Object.entries(paths).map(([p, caps]) => [p, { capabilities: caps }])) });
  await ok(b, 'PUT', `sys/policies/acl/${name}`, { policy });
}

export interface PkiHierarchy {
  rootPem: string;
  intermediatePem: string;
}

/** A root CA on `root`, an intermediate on `int` signed by it (chain imported with set-signed), and `role` on `int`. */
export async function setupPki(b: Broker, root: string, int: string, role: string, roleBody: Record<string, unknown>): Promise<PkiHierarchy> {
  const call = async (method: string, path: string, body: unknown): Promise<Record<string, unknown>> => {
    const r = await api(b, method, path, { body });
    if (r.status !== 200 && r.status !== 204) throw new Error(`setup ${method} ${path} failed: ${r.status} ${r.text}`);
    return ((r.json as { data?: Record<string, unknown> } | undefined)?.data ?? {});
  };
  await call('POST', `sys/mounts/${root}`, { type: 'pki', config: { max_lease_ttl: '87600h' } });
  await call('POST', `sys/mounts/${int}`, { type: 'pki', config: { max_lease_ttl: '43800h' } });
  const rootPem = String((await call('POST', `${root}/root/generate/internal`, { common_name: 'Compat Root', ttl: '87600h' })).certificate);
  const csr = String((await call('POST', `${int}/intermediate/generate/internal`, { common_name: 'Compat Intermediate' })).csr);
  const signed = await call('POST', `${root}/root/sign-intermediate`, { csr, common_name: 'Compat Intermediate', ttl: '43800h' });
  await call('POST', `${int}/intermediate/set-signed`, { certificate: `${String(signed.certificate)}\n${rootPem}` });
  await call('POST', `${int}/roles/${role}`, roleBody);
  return { rootPem, intermediatePem: String(signed.certificate) };
}
