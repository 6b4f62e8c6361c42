/**
 * The broker's serving certificate from one of its own PKI mounts (config `tls_pki_*`).
 *
 * The mount can issue only once it exists, has a CA and the role, and the broker is unsealed; until then the broker
 * serves a short-lived self-signed certificate (self-signed.ts) and looks again every `tls_pki_retry_interval`. Once
 * issued, the certificate is renewed at 2/3 of its lifetime (±5 % jitter, so that replicas do not renew in step) and
 * swapped into the running listener without a restart. A failed renewal keeps the current certificate and retries with
 * backoff. Issuing is an internal request through the pipeline (`POST <mount>/issue/<role>`, audited like any other,
 * with root privileges and no token). The private key is held only by the TLS context: never logged.
 */
import { X509Certificate } from 'node:crypto';
import { Server as HttpsServer } from 'node:https';
import { z } from 'zod';
import type { Config } from '../config.ts';
import type { Pipeline } from '../core/request.ts';
import type { Clock } from '../lib/clock.ts';
import { isAppError } from '../lib/errors.ts';
import type { Logger } from '../lib/log.ts';
import type { Random } from '../lib/random.ts';
import { replaceServingCertificate, type Listener, type ServingCertificate } from './listener.ts';
import { selfSignedCertificate, type SelfSigned } from './self-signed.ts';

type PkiTlsConfig = Pick<
  Config,
  | 'tls_pki_mount'
  | 'tls_pki_role'
  | 'tls_pki_common_name'
  | 'tls_pki_alt_names'
  | 'tls_pki_ip_sans'
  | 'tls_pki_ttl'
  | 'tls_pki_retry_interval'
  | 'tls_client_ca_file'
  | 'tls_request_client_cert'
>;

/** The self-signed certificate lives a day; it is replaced when a third of that is left and the PKI still cannot issue. */
const BOOTSTRAP_TTL_SECONDS = 24 * 3600;
const RENEW_AT = 2 / 3;
const JITTER = 0.05;
const MAX_BACKOFF_MS = 5 * 60_000;
const MIN_DELAY_MS = 1000;
/** setTimeout's limit (about 24.8 days); longer waits are taken in steps. */
const MAX_TIMER_MS = 2_147_483_647;

const issuedData = z.object({
  certificate: z.string().min(1),
  private_key: z.string().min(1),
  ca_chain: z.array(z.string()).default([]),
  serial_number: z.string().min(1),
});

interface Issued {
  serving: ServingCertificate;
  serial: string;
  notAfter: number;
}

function isRoot(pem: string): boolean {
  try {
    const c = new X509Certificate(pem);
    return c.subject === c.issuer && c.verify(c.publicKey);
  } catch {
    return false;
  }
}

function describe(err: unknown): string {
  if (isAppError(err)) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

/** The self-signed certificate the listener starts with when `tls_pki_mount` is set. */
export function bootstrapCertificate(config: PkiTlsConfig, deps: { clock: Clock; random: Random }): Promise<SelfSigned> {
  return selfSignedCertificate(
    {
      commonName: config.tls_pki_common_name ?? 'localhost',
      dnsNames: config.tls_pki_alt_names,
      ips: config.tls_pki_ip_sans,
      ttlSeconds: BOOTSTRAP_TTL_SECONDS,
    },
    deps,
  );
}

export interface PkiTlsDeps {
  config: PkiTlsConfig;
  server: Listener;
  pipeline: Pick<Pipeline, 'handle'>;
  /** The certificate the listener was created with. */
  bootstrap: SelfSigned;
  log: Logger;
  clock: Clock;
  random: Random;
}

export interface PkiTls {
  /** Stops renewing; the listener keeps its current certificate. */
  close(): void;
}

/** Starts issuing and renewing at once (the mount may already exist, e.g. after a restart). */
export function startPkiTls(deps: PkiTlsDeps): PkiTls {
  const { config, server, log, clock, random } = deps;
  const mount = config.tls_pki_mount ?? '';
  const role = config.tls_pki_role ?? '';
  if (!(server instanceof HttpsServer) || !mount || !role) throw new Error('startPkiTls needs an HTTPS listener and tls_pki_mount/tls_pki_role');
  const path = `${mount}/issue/${role}`;
  const now = () => clock.now().getTime();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  /** The PKI certificate being served; null while the self-signed one is. */
  let current: { serial: string; notAfter: number } | null = null;
  let bootstrapNotAfter = deps.bootstrap.notAfter.getTime();
  let failures = 0;
  let lastProblem = '';

  const install = (serving: ServingCertificate) => replaceServingCertificate(server, config, serving);

  function at(due: number): void {
    clearTimeout(timer);
    if (closed) return;
    const wait = due - now();
    timer = wait > MAX_TIMER_MS ? setTimeout(() => at(due), MAX_TIMER_MS) : setTimeout(() => void attempt(), Math.max(0, wait));
    timer.unref();
  }

  /** A factor in [1 − JITTER, 1 + JITTER]. */
  function jitter(): number {
    const u = random.bytes(4).readUInt32BE(0) / 2 ** 32;
    return 1 + (u * 2 - 1) * JITTER;
  }

  async function issue(): Promise<Issued> {
    const body: Record<string, unknown> = {
      common_name: config.tls_pki_common_name,
      alt_names: config.tls_pki_alt_names,
      ip_sans: config.tls_pki_ip_sans,
      format: 'pem',
      ...(config.tls_pki_ttl > 0 ? { ttl: config.tls_pki_ttl } : {}),
    };
    const { response } = await deps.pipeline.handle({
      operation: 'update',
      path,
      rawInput: body,
      token: null,
      requestId: random.uuid(),
      remoteAddress: 'internal',
      internal: true,
    });
    const parsed = issuedData.safeParse(response.data);
    if (!parsed.success) throw new Error(`${path} answered without a PEM certificate and private key`);
    const { certificate, private_key: key, ca_chain: chain, serial_number: serial } = parsed.data;
    const notAfter = Date.parse(new X509Certificate(certificate).validTo);
    // Leaf and intermediates; the root is the client's to hold.
    const cert = `${[certificate, ...chain.filter((c) => !isRoot(c))].map((p) => p.trim()).join('\n')}\n`;
    return { serving: { cert, key }, serial, notAfter };
  }

  function retryDelay(): number {
    const base = config.tls_pki_retry_interval * 1000;
    // Not serving a PKI certificate yet: look again at the plain interval (the mount may appear any moment).
    if (!current) return base;
    const backoff = Math.min(base * 2 ** Math.min(failures - 1, 20), MAX_BACKOFF_MS);
    const left = current.notAfter - now();
    // Several tries before the current certificate expires.
    return left > 0 ? Math.max(MIN_DELAY_MS, Math.min(backoff, left / 4)) : backoff;
  }

  async function refreshBootstrapIfDue(): Promise<void> {
    if (current || bootstrapNotAfter - now() > (BOOTSTRAP_TTL_SECONDS * 1000) / 3) return;
    const boot = await bootstrapCertificate(config, { clock, random });
    install(boot);
    bootstrapNotAfter = boot.notAfter.getTime();
    log.warn({ mount, expires: boot.notAfter.toISOString() }, 'still no certificate from the PKI mount: serving a new self-signed one');
  }

  async function attempt(): Promise<void> {
    if (closed) return;
    try {
      const got = await issue();
      if (closed) return;
      install(got.serving);
      const previous = current?.serial;
      current = { serial: got.serial, notAfter: got.notAfter };
      failures = 0;
      lastProblem = '';
      const issuedAt = now();
      const renewAt = issuedAt + Math.max(MIN_DELAY_MS, (got.notAfter - issuedAt) * RENEW_AT * jitter());
      log.info(
        {
          mount,
          role,
          serial_number: got.serial,
          ...(previous ? { previous_serial_number: previous } : {}),
          expires: new Date(got.notAfter).toISOString(),
          renew_at: new Date(renewAt).toISOString(),
        },
        previous ? 'serving certificate renewed from the PKI mount' : 'serving a certificate issued by the PKI mount',
      );
      at(renewAt);
    } catch (err) {
      if (closed) return;
      failures += 1;
      const problem = describe(err);
      const retry = retryDelay();
      // Once per distinct problem: a mount that does not exist yet is not news every ten seconds.
      if (problem !== lastProblem) {
        lastProblem = problem;
        log.warn(
          { mount, role, err: problem, retry_in_ms: Math.round(retry), serving: current ? `PKI certificate ${current.serial}` : 'self-signed' },
          current ? 'renewing the serving certificate failed: keeping the current one' : 'the PKI mount cannot issue the serving certificate yet',
        );
      }
      try {
        await refreshBootstrapIfDue();
      } catch (e) {
        log.warn({ err: describe(e) }, 'replacing the self-signed certificate failed');
      }
      at(now() + retry);
    }
  }

  void attempt();
  return {
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
