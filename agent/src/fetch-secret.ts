/**
 * Fetch one configured secret and turn the answer into what the agent acts on: the data to render (KV v2: the
 * inner data), its lease, how long it stays valid, and when to fetch it again (certificates at 2/3 of their
 * lifetime, static credentials right after their next rotation).
 */
import process from 'node:process';
import type { BrokerResponse, Broker } from './broker-client.ts';
import { BrokerError } from './broker-client.ts';
import type { SecretConfig } from './config.ts';
import { render, type Data } from './render.ts';
import { jitter, type Random } from './timing.ts';

export interface Lease {
  id: string;
  /** The duration the broker granted at issue, in ms (the increment asked for on renewal). */
  durationMs: number;
  renewable: boolean;
  expiresAt: number;
}

export interface Fetched {
  content: string;
  lease: Lease | undefined;
  /** After this the content is dead (lease expiry, certificate notAfter). */
  validUntil: number | undefined;
  /** Fetch again at this time (certificate re-issue, static credential rotation). */
  refreshAt: number | undefined;
  /** KV v2 version. */
  version: number | undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The data a template sees: KV v2 answers wrap it in {data, metadata}. */
export function secretData(path: string, res: BrokerResponse): { data: Data; version: number | undefined } {
  const d = res.data;
  if (!isRecord(d)) throw new BrokerError(`${path} returned no data`, 404);
  if (/\/data\//.test(path) && isRecord(d.data) && isRecord(d.metadata)) {
    const v = d.metadata.version;
    return { data: d.data, version: typeof v === 'number' ? v : undefined };
  }
  if (/\/data\//.test(path) && d.data === null && isRecord(d.metadata)) throw new BrokerError(`${path}: the current version is deleted`, 404);
  // sealbox numbers static credentials and a PKI mount's issuer generations (issue 20): the version an acknowledgement names.
  if ((/\/static-creds\//.test(path) || /\/cert\/ca_chain$/.test(path)) && typeof d.version === 'number') return { data: d, version: d.version };
  return { data: d, version: undefined };
}

export async function fetchSecret(broker: Broker, token: string, secret: SecretConfig, now: () => number, random: Random): Promise<Fetched> {
  // A lease's time runs from when the broker granted it, somewhere between the request and its answer: counted from
  // the request, so time the answer spent in queues (a loaded broker) is never taken for time left.
  const sent = now();
  const res = secret.params
    ? await broker.request('POST', secret.path, { token, body: secret.params })
    : await broker.request('GET', secret.path, { token });
  const at = now();
  const { data, version } = secretData(secret.path, res);
  const content = render(secret.template, data);

  let lease: Lease | undefined;
  let validUntil: number | undefined;
  let refreshAt: number | undefined;
  const duration = typeof res.lease_duration === 'number' ? res.lease_duration : 0;
  if (res.lease_id && duration > 0) {
    lease = { id: res.lease_id, durationMs: duration * 1000, renewable: res.renewable === true, expiresAt: sent + duration * 1000 };
    validUntil = lease.expiresAt;
  }
  if (typeof data.certificate === 'string' && data.certificate.includes('BEGIN CERTIFICATE')) {
    try {
      // node:crypto only for a certificate (issue 18: not loaded by an agent that fetches passwords).
      const cert = new (process.getBuiltinModule('node:crypto').X509Certificate)(data.certificate);
      const from = Date.parse(cert.validFrom);
      const to = Date.parse(cert.validTo);
      if (to > from) {
        refreshAt = Math.max(at, from + jitter(((to - from) * 2) / 3, 0.1, random));
        validUntil = Math.min(validUntil ?? to, to);
      }
    } catch {
      // Not a parseable certificate: treat it as plain data.
    }
  }
  // Static database credentials say how long until their next rotation.
  if (!lease && /\/static-creds\//.test(secret.path) && typeof data.ttl === 'number' && data.ttl > 0) {
    refreshAt = at + data.ttl * 1000 + 1000;
  }
  return { content, lease, validUntil, refreshAt, version };
}
