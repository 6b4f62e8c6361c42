/**
 * The Kubernetes TokenReview client (vault-plugin-auth-kubernetes token_review.go): asks the API server whether a
 * service-account JWT is valid, as `POST {kubernetes_host}/apis/authentication.k8s.io/v1/tokenreviews`.
 *
 * Outcomes: `ok` with the service account, `refused` when Kubernetes says the token is not valid (deleted account,
 * revoked or expired token, wrong audience), or an AppError('unavailable') when the API cannot be asked (unreachable,
 * untrusted TLS certificate, timeout, an answer that is not a TokenReview). Reasons are for the operator's log; they
 * never contain a token.
 */
import http from 'node:http';
import https from 'node:https';
import { AppError } from '../../lib/errors.ts';

export interface ReviewRequest {
  host: string;
  /** PEM bundle to trust for the API server; '' uses the system's trusted roots. */
  caCert: string;
  /** The Bearer token of the call: the reviewer JWT, or the client's own JWT when none is set (as Vault does). */
  bearer: string;
  jwt: string;
  audiences: string[];
}

export type ReviewResult =
  | { kind: 'ok'; namespace: string; name: string; uid: string }
  | { kind: 'refused'; reason: string };

const TIMEOUT_MS = 10_000;
const MAX_BODY = 1024 * 1024;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Node's TLS and socket error codes, as words an operator can act on. */
function describe(err: unknown): string {
  const code = isObject(err) && typeof err.code === 'string' ? err.code : '';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|DEPTH_ZERO/.test(code)) return 'its TLS certificate is not trusted (check kubernetes_ca_cert)';
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ETIMEDOUT' || code === 'timeout') return 'timed out';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'the connection was reset';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'host unreachable';
  return 'the request failed';
}

const unavailable = (why: string): AppError => new AppError('unavailable', `kubernetes TokenReview failed: ${why}`);

function post(req: ReviewRequest, body: string): Promise<{ status: number; text: string }> {
  const url = new URL(`${req.host.replace(/\/+$/, '')}/apis/authentication.k8s.io/v1/tokenreviews`);
  const options: https.RequestOptions = {
    method: 'POST',
    headers: {
      authorization: `Bearer ${req.bearer}`,
      'content-type': 'application/json',
      accept: 'application/json',
      'content-length': Buffer.byteLength(body),
    },
    timeout: TIMEOUT_MS,
    ...(url.protocol === 'https:' && req.caCert !== '' ? { ca: req.caCert } : {}),
  };
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise((resolve, reject) => {
    const r = send(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          res.destroy();
          reject(unavailable('the answer is larger than 1 MiB'));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => reject(unavailable(describe(e))));
    });
    r.on('timeout', () => r.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    r.on('error', (e) => reject(unavailable(describe(e))));
    r.end(body);
  });
}

/** One TokenReview, checked as Vault checks it: authenticated, audiences intersect, a service-account username. */
export async function reviewToken(req: ReviewRequest): Promise<ReviewResult> {
  const body = JSON.stringify({
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenReview',
    spec: { token: req.jwt, ...(req.audiences.length > 0 ? { audiences: req.audiences } : {}) },
  });
  const res = await post(req, body);
  if (res.status === 401) return { kind: 'refused', reason: 'the API server refused the bearer token (the service account may have been deleted or recreated)' };
  if (res.status === 403) throw unavailable('the reviewer is not allowed to create TokenReviews (bind it to system:auth-delegator)');
  if (res.status < 200 || res.status > 206) throw unavailable(`the API server answered HTTP ${res.status}`);
  let doc: unknown;
  try {
    doc = JSON.parse(res.text);
  } catch {
    throw unavailable('the answer is not JSON');
  }
  if (!isObject(doc)) throw unavailable('the answer is not a TokenReview');
  // A metav1.Status in place of a TokenReview is an error from the API server.
  if (doc.kind === 'Status' || typeof doc.status === 'string') {
    return doc.code === 401 ? { kind: 'refused', reason: 'unauthorized' } : { kind: 'refused', reason: 'the API server answered with an error status' };
  }
  const status = isObject(doc.status) ? doc.status : {};
  if (typeof status.error === 'string' && status.error !== '') return { kind: 'refused', reason: `lookup failed: ${status.error.slice(0, 200)}` };
  if (status.authenticated !== true) return { kind: 'refused', reason: 'lookup failed: service account jwt not valid' };
  const got = Array.isArray(status.audiences) ? status.audiences.filter((a): a is string => typeof a === 'string') : [];
  if (req.audiences.length > 0 && !req.audiences.some((a) => got.includes(a))) return { kind: 'refused', reason: 'lookup failed: the jwt is not valid for the wanted audience' };
  const user = isObject(status.user) ? status.user : {};
  const parts = (typeof user.username === 'string' ? user.username : '').split(':');
  if (parts.length !== 4) return { kind: 'refused', reason: 'lookup failed: unexpected username format' };
  if (parts[0] !== 'system' || parts[1] !== 'serviceaccount') return { kind: 'refused', reason: 'lookup failed: username returned is not a service account' };
  return { kind: 'ok', namespace: parts[2] ?? '', name: parts[3] ?? '', uid: typeof user.uid === 'string' ? user.uid : '' };
}
