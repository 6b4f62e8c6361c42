// Debian's python3-hvac (0.11, installed by .ci/run) as a real client against a real broker: test/compat/hvac_client.py
// goes over hvac's API for the features sealbox claims, lists (the LIST method) included, and reports each check.
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { exportSPKI, generateKeyPair, importPKCS8, SignJWT } from 'jose';
import { selfSignedCertificate } from '../../src/http/self-signed.ts';
import { systemClock } from '../../src/lib/clock.ts';
import { systemRandom } from '../../src/lib/random.ts';
import { PROJECT_ROOT, startBroker, type Broker } from '../helpers/broker.ts';
import { newTarget, type Target } from '../helpers/pg-target.ts';

/**
 * Sections of the script that need endpoints other branches add; the test skips them and says why. Remove an entry
 * once its feature is merged: the script already drives it.
 */
const NOT_YET: Record<string, string> = {};

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(PROJECT_ROOT, 'test', 'compat', 'hvac_client.py');

interface Outcome {
  section: string;
  name: string;
  ok?: boolean;
  skipped?: boolean;
  error?: string;
}

function hvacInstalled(): boolean {
  return existsSync(PYTHON) && existsSync('/usr/lib/python3/dist-packages/hvac');
}

function runScript(env: Record<string, string>): Promise<{ outcomes: Outcome[]; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, [SCRIPT], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => {
      const outcomes = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Outcome);
      resolve({ outcomes, stderr: err, code });
    });
  });
}

let b: Broker;
let target: Target;
test.before(async () => {
  if (!hvacInstalled()) return;
  [b, target] = await Promise.all([startBroker(), newTarget('app_readers')]);
});
test.after.always(() => b?.stop());

async function logins(): Promise<Record<string, string>> {
  // hvac's kubernetes.configure takes pem_keys only as certificates.
  const k8sCert = await selfSignedCertificate({ commonName: 'cluster signer', dnsNames: [], ips: [], ttlSeconds: 3600 }, { clock: systemClock, random: systemRandom });
  const k8s = { privateKey: await importPKCS8(k8sCert.key, 'ES256') };
  const k8sJwt = await new SignJWT({
    iss: 'kubernetes/serviceaccount',
    'kubernetes.io/serviceaccount/namespace': 'apps',
    'kubernetes.io/serviceaccount/secret.name': 'web-token-abcde',
    'kubernetes.io/serviceaccount/service-account.name': 'web',
    'kubernetes.io/serviceaccount/service-account.uid': randomUUID(),
    sub: 'system:serviceaccount:apps:web',
  })
    .setProtectedHeader({ alg: 'ES256' })
    .sign(k8s.privateKey);
  const oidc = await generateKeyPair('ES256', { extractable: true });
  const jwt = await new SignJWT({ sub: 'ci-runner', aud: ['vault'], iss: 'https://issuer.example' })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuedAt()
    .setExpirationTime('10m')
    .sign(oidc.privateKey);
  return { K8S_JWT: k8sJwt, K8S_PEM: k8sCert.cert, JWT: jwt, JWT_PEM: await exportSPKI(oidc.publicKey) };
}

test('hvac drives sys, tokens, AppRole, KV v2, database, leases, PKI, Kubernetes and JWT logins, lists included', async (t) => {
  if (!hvacInstalled()) {
    t.fail('python3-hvac is not installed (apt-get install python3-hvac; .ci/run installs it)');
    return;
  }
  const { outcomes, stderr, code } = await runScript({
    VAULT_ADDR: b.address,
    VAULT_TOKEN: b.rootToken,
    DB_URL: target.url,
    SKIP: Object.keys(NOT_YET).join(','),
    ...(await logins()),
  });
  t.is(code, 0, stderr);
  for (const [section, why] of Object.entries(NOT_YET)) t.log(`skipped hvac section "${section}": needs ${why}`);
  const failed = outcomes.filter((o) => o.ok === false);
  for (const f of failed) t.log(`${f.section}/${f.name}: ${f.error ?? ''}`);
  t.deepEqual(
    failed.map((f) => `${f.section}/${f.name}`),
    [],
  );
  const ran = new Set(outcomes.filter((o) => o.ok).map((o) => o.section));
  t.deepEqual([...ran].sort(), ['approle', 'approle-custom-secret-id', 'database', 'jwt', 'kubernetes', 'kubernetes-tokenreview', 'kv1', 'kv2', 'pki', 'sys', 'token-accessors', 'token-roles', 'token-shapes', 'tokens', 'wrapping']);
  t.deepEqual(outcomes.filter((o) => o.skipped).map((o) => o.section).sort(), Object.keys(NOT_YET).sort());
});
