// bench/pki-issue: certificate issuance (EC P-256, stored) through the full broker pipeline on PostgreSQL storage,
// against a baseline measured in the same run: a raw @peculiar/x509 loop in this process that does the same
// cryptographic work as one issue request (generate a P-256 key pair, sign a leaf with the same extensions —
// key usage, EKU, SKI, AKI, DNS/IP/URI SANs, AIA, CRL distribution points — and export the private key).
//
//   npm run bench:pki-issue            (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 BENCH_ROUNDS=2 by default)
//
// Prints issues/s, p50 and p99 for both, and the ratio broker/baseline. Goal (issue 6): ratio >= 0.7.
// Also measures sign/:role (a fixed CSR) against a raw sign-only loop (no key generation).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import autocannon from 'autocannon';
import { startPostgres } from '../test/helpers/postgres.ts';
import { alternate, call, CONNECTIONS, mergeRuns, row, SECONDS, spawnBroker, type Run } from './lib.ts';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const subtle = webcrypto.subtle;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIG = { name: 'ECDSA', hash: 'SHA-256' } as const;

const TOKEN = 'bench-root-token';
const ROLE = { allowed_domains: ['example.com'], allow_subdomains: true, allowed_uri_sans: ['spiffe://cluster.local/*'], ttl: '1h' };
const ISSUE = { common_name: 'web.example.com', ip_sans: '10.0.0.1', uri_sans: 'spiffe://cluster.local/ns/prod/sa/web' };

async function post(url: string, body: unknown): Promise<Run> {
  const r = await autocannon({
    url,
    method: 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers: { 'x-vault-token': TOKEN, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors };
}

/** Runs `op` on CONNECTIONS concurrent workers for SECONDS; reports the rate and latency like autocannon. */
async function loop(op: () => Promise<unknown>, seconds = SECONDS): Promise<Run> {
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          await op();
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0);
  return { rps: latencies.length / seconds, p50: pct(0.5), p99: pct(0.99), non2xx: 0, errors };
}

// ---- the raw baseline: one in-process CA, the same extensions as the engine's leaves ----
const caKeys = (await subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
const caCert = await x509.X509CertificateGenerator.createSelfSigned({
  name: [{ CN: ['Bench Root'] }],
  keys: caKeys,
  notBefore: new Date(),
  notAfter: new Date(Date.now() + 365 * 86400_000),
  signingAlgorithm: SIG,
  extensions: [new x509.BasicConstraintsExtension(true, undefined, true), await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey)],
});
const caSki = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '';

async function rawSign(publicKey: webcrypto.CryptoKey | x509.PublicKey): Promise<x509.X509Certificate> {
  const now = Date.now();
  return x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)).map((b, i) => (i === 0 ? (b & 0x7f) | 0x40 : b))).toString('hex'),
    subject: [{ CN: ['web.example.com'] }],
    issuer: caCert.subjectName,
    notBefore: new Date(now - 30_000),
    notAfter: new Date(now + 3600_000),
    publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: SIG,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      new x509.AuthorityKeyIdentifierExtension(caSki),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'web.example.com' },
        { type: 'ip', value: '10.0.0.1' },
        { type: 'url', value: 'spiffe://cluster.local/ns/prod/sa/web' },
      ]),
      new x509.AuthorityInfoAccessExtension({ caIssuers: ['http://127.0.0.1:8200/v1/pki/ca'] }),
      new x509.CRLDistributionPointsExtension(['http://127.0.0.1:8200/v1/pki/crl']),
    ],
  });
}

async function rawIssue(): Promise<void> {
  const keys = (await subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await rawSign(keys.publicKey);
  await subtle.exportKey('pkcs8', keys.privateKey);
  cert.toString('pem');
}

// A fixed CSR for sign/:role and the raw sign-only loop.
const csrKeys = (await subtle.generateKey(EC, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
const csr = await x509.Pkcs10CertificateRequestGenerator.create({
  name: [{ CN: ['web.example.com'] }],
  keys: csrKeys,
  signingAlgorithm: SIG,
  extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'web.example.com' }, { type: 'url', value: 'spiffe://cluster.local/ns/prod/sa/web' }])],
});
const csrPem = csr.toString('pem');
async function rawCsrSign(): Promise<void> {
  const parsed = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await parsed.verify())) throw new Error('bad CSR');
  (await rawSign(parsed.publicKey)).toString('pem');
}

/** `alternate`, one round at a time, keeping each round's ratio B/A. */
async function perRound(a: () => Promise<Run>, b: () => Promise<Run>): Promise<{ a: Run; b: Run; ratios: number[] }> {
  const as: Run[] = [];
  const bs: Run[] = [];
  for (let i = 0; i < Number(process.env.BENCH_ROUNDS ?? 2); i++) {
    const [ra, rb] = await alternate(a, b, 1);
    as.push(ra);
    bs.push(rb);
  }
  return { a: mergeRuns(as), b: mergeRuns(bs), ratios: bs.map((r, i) => r.rps / (as[i]?.rps ?? Number.NaN)) };
}
const best = (xs: number[]): string => Math.max(...xs).toFixed(2);
function median(xs: number[]): string {
  const s = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(s.length / 2);
  return (s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2).toFixed(2);
}

const pg = await startPostgres();
const broker = await spawnBroker(await pg.createDatabase(), TOKEN);
try {
  await call(broker.address, TOKEN, 'POST', 'sys/mounts/pki', { type: 'pki' });
  await call(broker.address, TOKEN, 'POST', 'pki/root/generate/internal', { common_name: 'Bench Root', ttl: '8760h' });
  await call(broker.address, TOKEN, 'POST', 'pki/config/urls', {
    issuing_certificates: [`${broker.address}/v1/pki/ca`],
    crl_distribution_points: [`${broker.address}/v1/pki/crl`],
  });
  await call(broker.address, TOKEN, 'POST', 'pki/roles/bench', ROLE);
  const issueUrl = `${broker.address}/v1/pki/issue/bench`;
  const signUrl = `${broker.address}/v1/pki/sign/bench`;
  // Warm up both (JIT, pools, the CA key cache) before measuring.
  await loop(rawIssue, 2);
  await loop(rawCsrSign, 2);
  const warm = await autocannon({ url: issueUrl, method: 'POST', connections: CONNECTIONS, duration: 2, headers: { 'x-vault-token': TOKEN, 'content-type': 'application/json' }, body: JSON.stringify(ISSUE) });
  if (warm.non2xx > 0) throw new Error(`issue fails: ${warm.non2xx} non-2xx during warm-up`);

  const issueRounds = await perRound(() => loop(rawIssue), () => post(issueUrl, ISSUE));
  const signRounds = await perRound(() => loop(rawCsrSign), () => post(signUrl, { csr: csrPem }));
  const [raw, viaBroker] = [issueRounds.a, issueRounds.b];
  const [rawSignOnly, signed] = [signRounds.a, signRounds.b];
  const stored = (await call(broker.address, TOKEN, 'GET', 'pki/certs?list=true')) as { data: { keys: string[] } };

  console.log(`pki-issue: ${CONNECTIONS} concurrent, ${SECONDS} s each, alternated ${process.env.BENCH_ROUNDS ?? 2} rounds, PostgreSQL ${pg.majorVersion} (${pg.kind}), EC P-256, stored`);
  console.log(row('raw x509: keygen + sign + export', raw));
  console.log(row('sealbox issue/:role (full pipeline)', viaBroker));
  console.log(row('raw x509: CSR verify + sign', rawSignOnly));
  console.log(row('sealbox sign/:role (full pipeline)', signed));
  console.log(`ratio issue sealbox/raw: ${(viaBroker.rps / raw.rps).toFixed(2)} (goal >= 0.95, issue 18); sign sealbox/raw: ${(signed.rps / rawSignOnly.rps).toFixed(2)}`);
  console.log(`issue ratio per round: ${issueRounds.ratios.map((r) => r.toFixed(2)).join(' ')}; best ${best(issueRounds.ratios)}, median ${median(issueRounds.ratios)}`);
  console.log(`sign ratio per round: ${signRounds.ratios.map((r) => r.toFixed(2)).join(' ')}; best ${best(signRounds.ratios)}, median ${median(signRounds.ratios)}`);
  console.log(`certificates stored: ${stored.data.keys.length}`);
  if (viaBroker.non2xx > 0 || viaBroker.errors > 0 || signed.non2xx > 0 || signed.errors > 0) {
    console.log('FAIL: the broker answered with errors under load');
    process.exitCode = 1;
  }
} finally {
  broker.proc.kill('SIGTERM');
}
