// The PKI secrets engine: a root and an intermediate CA, roles, issue and sign, revocation and CRLs, tidy. The
// referees are the real `openssl` CLI and Node's TLS stack.
import test, { type ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, type ApiResponse } from './helpers/broker.ts';
import { startPostgres } from './helpers/postgres.ts';
import { createTestPki, type TestPki } from './helpers/test-pki.ts';

let b: Broker;
let files: TestPki;
let rootPem = '';
let intPem = '';

interface Issued {
  certificate: string;
  private_key: string;
  private_key_type: string;
  issuing_ca: string;
  ca_chain: string[];
  serial_number: string;
  expiration: number;
}

const dataOf = <T = Record<string, unknown>>(r: ApiResponse): T => (r.json as { data: T }).data;

async function ok(method: string, p: string, body?: unknown, broker: Broker = b): Promise<ApiResponse> {
  const r = await api(broker, method, p, { body });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r;
}

async function issue(mount: string, role: string, body: Record<string, unknown>, broker: Broker = b): Promise<Issued> {
  return dataOf<Issued>(await ok('POST', `${mount}/issue/${role}`, body, broker));
}

/** Writes `content` to a temp file and returns its path. */
function put(name: string, content: string): string {
  const f = files.file(name);
  fs.writeFileSync(f, content);
  return f;
}

function openssl(args: string[], input?: string): { code: number; out: string } {
  const r = spawnSync('openssl', args, { cwd: files.dir, input, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const certText = (pem: string): string => openssl(['x509', '-noout', '-text'], pem).out;

/** Sets up a CA mount: a root on `pki`, an intermediate on `pki_int` signed by it, and the same roles on both. */
async function setupHierarchy(broker: Broker): Promise<{ root: string; int: string }> {
  await ok('POST', 'sys/mounts/pki', { type: 'pki' }, broker);
  await ok('POST', 'sys/mounts/pki_int', { type: 'pki' }, broker);
  const root = dataOf<{ certificate: string }>(await ok('POST', 'pki/root/generate/internal', { common_name: 'Sealbox Test Root', ttl: '87600h' }, broker));
  const csr = dataOf<{ csr: string }>(await ok('POST', 'pki_int/intermediate/generate/internal', { common_name: 'Sealbox Test Intermediate' }, broker));
  const signed = dataOf<{ certificate: string; issuing_ca: string }>(
    await ok('POST', 'pki/root/sign-intermediate', { csr: csr.csr, common_name: 'Sealbox Test Intermediate', ttl: '43800h' }, broker),
  );
  await ok('POST', 'pki_int/intermediate/set-signed', { certificate: `${signed.certificate}\n${signed.issuing_ca}` }, broker);
  for (const mount of ['pki', 'pki_int']) {
    await ok('POST', `${mount}/config/urls`, {
      issuing_certificates: [`${broker.address}/v1/${mount}/ca`],
      crl_distribution_points: [`${broker.address}/v1/${mount}/crl`],
    }, broker);
    await ok('POST', `${mount}/roles/svc`, {
      allowed_domains: ['example.com'],
      allow_subdomains: true,
      allowed_uri_sans: ['spiffe://cluster.local/ns/*'],
    }, broker);
    await ok('POST', `${mount}/roles/server`, { allowed_domains: ['example.com'], allow_subdomains: true, client_flag: false }, broker);
    await ok('POST', `${mount}/roles/client`, { allowed_domains: ['example.com'], allow_subdomains: true, server_flag: false }, broker);
  }
  return { root: root.certificate, int: signed.certificate };
}

test.before(async () => {
  files = createTestPki();
  b = await startApp();
  const h = await setupHierarchy(b);
  rootPem = `${h.root}\n`;
  intPem = `${h.int}\n`;
  put('root.pem', rootPem);
  put('int.pem', intPem);
});
test.after.always(async () => {
  await b?.stop();
});

test('a leaf from the root verifies with openssl and carries the DNS, IP and spiffe URI SANs and both EKUs', async (t) => {
  const c = await issue('pki', 'svc', { common_name: 'web.example.com', alt_names: 'api.example.com', ip_sans: '127.0.0.1', uri_sans: 'spiffe://cluster.local/ns/prod/sa/web' });
  t.is(c.private_key_type, 'ec');
  t.true(c.private_key.startsWith('-----BEGIN EC PRIVATE KEY-----'));
  t.regex(c.serial_number, /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  t.is(c.issuing_ca.trim(), rootPem.trim());
  t.true(c.expiration > Date.now() / 1000 + 23 * 3600 && c.expiration <= Date.now() / 1000 + 24 * 3600 + 5, 'default TTL is 24h');
  const v = openssl(['verify', '-CAfile', 'root.pem', put('leaf-root.pem', c.certificate)]);
  t.is(v.code, 0, v.out);
  const text = certText(c.certificate);
  t.regex(text, /DNS:web\.example\.com/);
  t.regex(text, /DNS:api\.example\.com/);
  t.regex(text, /IP Address:127\.0\.0\.1/);
  t.regex(text, /URI:spiffe:\/\/cluster\.local\/ns\/prod\/sa\/web/);
  t.regex(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
  t.regex(text, /CA Issuers - URI:http:\/\/127\.0\.0\.1:\d+\/v1\/pki\/ca/);
  t.regex(text, /URI:http:\/\/127\.0\.0\.1:\d+\/v1\/pki\/crl/);
  t.regex(text, /ASN1 OID: prime256v1/);
  // The private key matches the certificate.
  t.is(openssl(['x509', '-noout', '-pubkey'], c.certificate).out, openssl(['pkey', '-pubout'], c.private_key).out);
});

test('a leaf from the intermediate verifies against the root through -untrusted; ca_chain holds intermediate and root', async (t) => {
  const c = await issue('pki_int', 'svc', { common_name: 'batch.example.com', uri_sans: 'spiffe://cluster.local/ns/jobs/sa/batch' });
  t.deepEqual(c.ca_chain.map((p) => p.trim()), [intPem.trim(), rootPem.trim()]);
  const leaf = put('leaf-int.pem', c.certificate);
  const v = openssl(['verify', '-CAfile', 'root.pem', '-untrusted', 'int.pem', leaf]);
  t.is(v.code, 0, v.out);
  t.not(openssl(['verify', '-CAfile', 'root.pem', leaf]).code, 0, 'without the intermediate the chain does not build');
  const chain = await api(b, 'GET', 'pki_int/ca_chain', { token: null });
  t.is(chain.status, 200);
  t.is(chain.text.match(/BEGIN CERTIFICATE/g)?.length, 2);
  const intText = certText(intPem);
  t.regex(intText, /CA:TRUE/);
  t.regex(intText, /Certificate Sign, CRL Sign/);
});

test('the EKU follows the role flags', async (t) => {
  const server = certText((await issue('pki', 'server', { common_name: 's.example.com' })).certificate);
  t.regex(server, /Extended Key Usage: *\n *TLS Web Server Authentication\n/);
  t.notRegex(server, /Client Authentication/);
  const client = certText((await issue('pki', 'client', { common_name: 'c.example.com' })).certificate);
  t.regex(client, /Extended Key Usage: *\n *TLS Web Client Authentication\n/);
  t.notRegex(client, /Server Authentication/);
});

test('ca/pem, ca (DER) and cert/ca_chain serve the CA without a token', async (t) => {
  const pem = await api(b, 'GET', 'pki/ca/pem', { token: null });
  t.is(pem.status, 200);
  t.is(pem.text.trim(), rootPem.trim());
  const der = await fetch(`${b.address}/v1/pki/ca`);
  t.is(der.headers.get('content-type'), 'application/pkix-cert');
  fs.writeFileSync(files.file('root.der'), Buffer.from(await der.arrayBuffer()));
  const subject = openssl(['x509', '-inform', 'DER', '-in', 'root.der', '-noout', '-subject']);
  t.is(subject.code, 0, subject.out);
  t.regex(subject.out, /CN *= *Sealbox Test Root/);
  const chain = dataOf<{ certificate: string }>(await api(b, 'GET', 'pki_int/cert/ca_chain', { token: null }));
  t.is(chain.certificate.match(/BEGIN CERTIFICATE/g)?.length, 2);
});

/** Serves HTTPS with `server` and mTLS on; reports whether a client holding `client` got an answer. */
async function mtls(server: Issued, opts: { ca: string; crl?: string[]; client?: { cert: string; key: string } }): Promise<string> {
  const srv = https.createServer(
    { cert: `${server.certificate}\n${server.ca_chain.slice(0, -1).join('\n')}`, key: server.private_key, ca: opts.ca, requestCert: true, rejectUnauthorized: true, ...(opts.crl ? { crl: opts.crl } : {}) },
    (_req, res) => res.end('hello'),
  );
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as AddressInfo).port;
  try {
    return await new Promise<string>((resolve) => {
      const req = https.request(
        { host: '127.0.0.1', port, path: '/', servername: 'localhost', ca: opts.ca, agent: false, timeout: 5000, ...(opts.client ? { cert: opts.client.cert, key: opts.client.key } : {}) },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (body += c));
          res.on('end', () => resolve(body));
          res.on('error', (e) => resolve(`error: ${e.message}`));
        },
      );
      req.on('error', (e) => resolve(`error: ${e.message}`));
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  } finally {
    srv.closeAllConnections();
    await new Promise((resolve) => srv.close(resolve));
  }
}

test('Node mTLS: accepts an issued client certificate, refuses a foreign CA and, given the CRLs, a revoked one', async (t) => {
  await ok('POST', 'pki/roles/tls', { allow_localhost: true, allowed_domains: ['example.com'], allow_subdomains: true, server_flag: true, client_flag: false });
  const server = await issue('pki', 'tls', { common_name: 'localhost', ip_sans: '127.0.0.1' });
  const client = await issue('pki_int', 'client', { common_name: 'worker.example.com' });
  const clientCred = { cert: `${client.certificate}\n${intPem}`, key: client.private_key };
  t.is(await mtls(server, { ca: rootPem, client: clientCred }), 'hello');
  t.not(await mtls(server, { ca: rootPem }), 'hello', 'no client certificate');

  const foreignCa = files.ca('foreign-ca', '/CN=Sealbox Test Root');
  t.truthy(foreignCa);
  const foreign = files.issue('foreign-client', { ca: 'foreign-ca', subject: '/CN=worker.example.com', ext: ['extendedKeyUsage=clientAuth'] });
  t.regex(await mtls(server, { ca: rootPem, client: { cert: foreign.cert, key: foreign.key } }), /^error/);

  const crls = async (): Promise<string[]> => [
    (await api(b, 'GET', 'pki/crl/pem', { token: null })).text,
    (await api(b, 'GET', 'pki_int/crl/pem', { token: null })).text,
  ];
  t.is(await mtls(server, { ca: rootPem, crl: await crls(), client: clientCred }), 'hello', 'not yet revoked');
  await ok('POST', 'pki_int/revoke', { serial_number: client.serial_number });
  t.regex(await mtls(server, { ca: rootPem, crl: await crls(), client: clientCred }), /^error/);
});

test('revoke: the serial appears in `openssl crl -text` of crl/pem and `openssl verify -crl_check` says revoked', async (t) => {
  const c = await issue('pki', 'svc', { common_name: 'doomed.example.com' });
  const leaf = put('doomed.pem', c.certificate);
  const before = await api(b, 'GET', 'pki/crl/pem', { token: null });
  t.is(before.status, 200);
  t.true(before.text.startsWith('-----BEGIN X509 CRL-----'));
  t.is(openssl(['verify', '-crl_check', '-CAfile', 'root.pem', '-CRLfile', put('crl-before.pem', before.text), leaf]).code, 0);

  const r = await ok('POST', 'pki/revoke', { serial_number: c.serial_number });
  const rev = dataOf<{ revocation_time: number; revocation_time_rfc3339: string }>(r);
  t.true(Math.abs(rev.revocation_time - Date.now() / 1000) < 60);
  t.regex(rev.revocation_time_rfc3339, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // Revoking again changes nothing.
  t.is(dataOf<{ revocation_time: number }>(await ok('POST', 'pki/revoke', { serial_number: c.serial_number.replace(/:/g, '-') })).revocation_time, rev.revocation_time);

  const crl = (await api(b, 'GET', 'pki/crl/pem', { token: null })).text;
  const text = openssl(['crl', '-noout', '-text'], crl);
  t.is(text.code, 0, text.out);
  t.true(text.out.includes(c.serial_number.replace(/:/g, '').toUpperCase()), text.out);
  const v = openssl(['verify', '-crl_check', '-CAfile', 'root.pem', '-CRLfile', put('crl-after.pem', crl), leaf]);
  t.not(v.code, 0);
  t.regex(v.out, /certificate revoked/);
  // The DER form is a CRL signed by the same issuer that lists the serial (tests beside this one revoke on the same
  // mount, so it may be a later CRL than the PEM fetched above).
  const der = Buffer.from(await (await fetch(`${b.address}/v1/pki/crl`)).arrayBuffer());
  const derPem = `-----BEGIN X509 CRL-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END X509 CRL-----\n`;
  const derText = openssl(['crl', '-noout', '-text', '-CAfile', 'root.pem'], derPem);
  t.is(derText.code, 0, derText.out);
  t.true(derText.out.includes(c.serial_number.replace(/:/g, '').toUpperCase()));
  // cert/:serial shows the revocation.
  const read = dataOf<{ certificate: string; revocation_time: number }>(await api(b, 'GET', `pki/cert/${c.serial_number}`, { token: null }));
  t.is(read.revocation_time, rev.revocation_time);
  t.is(read.certificate.trim(), c.certificate.trim());
});

test('sign/:role signs a CSR whose names the role allows; the result verifies', async (t) => {
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'csr.key', '-out', 'csr.pem', '-subj', '/CN=csr.example.com', '-addext', 'subjectAltName=DNS:alt.example.com,URI:spiffe://cluster.local/ns/a/sa/b']);
  const r = await ok('POST', 'pki_int/sign/svc', { csr: files.read('csr.pem'), ttl: '1h' });
  const c = dataOf<Issued>(r);
  t.false('private_key' in c, 'sign never returns a key');
  const v = openssl(['verify', '-CAfile', 'root.pem', '-untrusted', 'int.pem', put('signed.pem', c.certificate)]);
  t.is(v.code, 0, v.out);
  const text = certText(c.certificate);
  t.regex(text, /DNS:csr\.example\.com/);
  t.regex(text, /DNS:alt\.example\.com/);
  t.regex(text, /URI:spiffe:\/\/cluster\.local\/ns\/a\/sa\/b/);
  t.true(Math.abs(c.expiration - (Date.now() / 1000 + 3600)) < 60);
});

/** A 4xx with Vault's error body whose first message matches. */
async function rejects(t: ExecutionContext, method: string, p: string, body: unknown, message: RegExp): Promise<void> {
  const r = await api(b, method, p, { body });
  t.true(r.status >= 400 && r.status < 500, `${p}: ${r.status} ${r.text}`);
  const errors = (r.json as { errors?: unknown }).errors;
  t.true(Array.isArray(errors), r.text);
  t.regex(String((errors as unknown[])[0]), message);
}

test('bad input is a 4xx that says what is wrong', async (t) => {
  await rejects(t, 'POST', 'pki/issue/svc', { common_name: 'web.evil.com' }, /common name web\.evil\.com not allowed by this role/);
  await rejects(t, 'POST', 'pki/issue/svc', { common_name: 'web.example.com', alt_names: 'x.evil.com' }, /subject alternate name x\.evil\.com not allowed/);
  await rejects(t, 'POST', 'pki/issue/svc', { common_name: 'web.example.com', uri_sans: 'spiffe://evil.example/ns/a' }, /URI Subject Alternative Name spiffe:\/\/evil\.example\/ns\/a not allowed/);
  await rejects(t, 'POST', 'pki/issue/server', { common_name: 'web.example.com', uri_sans: 'spiffe://cluster.local/ns/a' }, /URI Subject Alternative Names are not allowed in this role/);
  await rejects(t, 'POST', 'pki/issue/nope', { common_name: 'web.example.com' }, /unknown role: nope/);
  await rejects(t, 'POST', 'pki/issue/svc', {}, /common_name field is required/);
  await rejects(t, 'POST', 'pki/issue/svc', { common_name: 'web.example.com', ip_sans: 'not-an-ip' }, /not a valid IP address/);
  await rejects(t, 'POST', 'pki/roles/dsa', { key_type: 'dsa' }, /unsupported key_type "dsa"/);
  await rejects(t, 'POST', 'pki/roles/tiny', { key_type: 'rsa', key_bits: 1024 }, /RSA keys < 2048 bits are unsafe/);
  await rejects(t, 'POST', 'pki/roles/ec', { key_type: 'ec', key_bits: 255 }, /unsupported bit length for EC key/);
  await rejects(t, 'POST', 'pki/root/generate/kms', { common_name: 'x' }, /unsupported type "kms"/);
  await rejects(t, 'POST', 'pki/root/generate/internal', { common_name: 'again' }, /existing CA certificate/);
  await rejects(t, 'POST', 'pki/sign/svc', { csr: 'garbage' }, /no PEM "CERTIFICATE REQUEST" block/);
  await rejects(t, 'POST', 'pki/sign/svc', { csr: '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n' }, /could not be parsed/);
  await rejects(t, 'POST', 'pki/revoke', { serial_number: '01:02:03' }, /certificate with serial 01:02:03 not found/);
  await rejects(t, 'POST', 'pki/revoke', { serial_number: 'zz' }, /invalid serial number/);
  await rejects(t, 'POST', 'pki/intermediate/set-signed', { certificate: 'garbage' }, /no PEM "CERTIFICATE" block/);
  await rejects(t, 'POST', 'pki/config/urls', { issuing_certificates: ['not a url'] }, /invalid URL found/);
  await rejects(t, 'POST', 'pki/tidy', {}, /no tidy operation enabled/);

  // A CSR asking for a name outside the role.
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'evil.key', '-out', 'evil.csr', '-subj', '/CN=ok.example.com', '-addext', 'subjectAltName=DNS:bank.evil.com']);
  await rejects(t, 'POST', 'pki/sign/svc', { csr: files.read('evil.csr') }, /subject alternate name bank\.evil\.com not allowed/);
  // A CSR whose signature does not match its content: flip one byte in the signature (the end of the DER).
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'bad.key', '-out', 'bad.csr', '-outform', 'DER', '-subj', '/CN=ok.example.com']);
  const der = fs.readFileSync(files.file('bad.csr'));
  der[der.length - 3] = (der[der.length - 3] ?? 0) ^ 0x01;
  const badPem = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await rejects(t, 'POST', 'pki/sign/svc', { csr: badPem }, /signature is invalid/);
  // An RSA CSR on an EC role.
  openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rsa.key', '-out', 'rsa.csr', '-subj', '/CN=ok.example.com']);
  await rejects(t, 'POST', 'pki/sign/svc', { csr: files.read('rsa.csr') }, /role requires keys of type ec/);
});

test('a TTL past max_ttl is capped with a warning; the CA lifetime is never exceeded', async (t) => {
  await ok('POST', 'pki/roles/short', { allowed_domains: ['example.com'], allow_subdomains: true, ttl: '30m', max_ttl: '1h' });
  const r = await ok('POST', 'pki/issue/short', { common_name: 'a.example.com', ttl: '5h' });
  t.deepEqual((r.json as { warnings: string[] }).warnings, ['TTL "5h0m0s" is longer than permitted maxTTL "1h0m0s", so maxTTL is being used']);
  t.true(Math.abs(dataOf<Issued>(r).expiration - (Date.now() / 1000 + 3600)) < 60);
  const d = dataOf<Issued>(await ok('POST', 'pki/issue/short', { common_name: 'a.example.com' }));
  t.true(Math.abs(d.expiration - (Date.now() / 1000 + 1800)) < 60);
  // The intermediate expires in 43800h: a leaf may not outlive it.
  await ok('POST', 'pki_int/roles/long', { allowed_domains: ['example.com'], allow_subdomains: true, max_ttl: '87600h' });
  await rejects(t, 'POST', 'pki_int/issue/long', { common_name: 'a.example.com', ttl: '50000h' }, /beyond the expiration of the CA certificate/);
  // not_before_duration: 30s back by default.
  const nb = openssl(['x509', '-noout', '-startdate'], d.certificate).out.replace('notBefore=', '').trim();
  const age = Date.now() / 1000 - Date.parse(nb) / 1000;
  t.true(age >= 25 && age < 90, `notBefore is ${age}s ago`);
});

test('cert/:serial and LIST certs show stored certificates; no_store keeps none; exclude_cn_from_sans', async (t) => {
  const c = await issue('pki', 'svc', { common_name: 'listed.example.com' });
  const list = dataOf<{ keys: string[] }>(await ok('GET', 'pki/certs?list=true'));
  t.true(list.keys.includes(c.serial_number));
  const read = dataOf<{ certificate: string; revocation_time: number }>(await ok('GET', `pki/cert/${c.serial_number.replace(/:/g, '-')}`));
  t.is(read.certificate.trim(), c.certificate.trim());
  t.is(read.revocation_time, 0);
  t.is((await api(b, 'GET', 'pki/cert/00:11:22', { token: null })).status, 404);

  await ok('POST', 'pki/roles/ephemeral', { allowed_domains: ['example.com'], allow_subdomains: true, no_store: true });
  const e = await issue('pki', 'ephemeral', { common_name: 'gone.example.com', exclude_cn_from_sans: true, alt_names: 'other.example.com' });
  t.false(dataOf<{ keys: string[] }>(await ok('GET', 'pki/certs?list=true')).keys.includes(e.serial_number));
  t.is((await api(b, 'GET', `pki/cert/${e.serial_number}`, { token: null })).status, 404);
  const text = certText(e.certificate);
  t.regex(text, /DNS:other\.example\.com/);
  t.notRegex(text, /DNS:gone\.example\.com/);
  t.regex(text, /Subject: CN *= *gone\.example\.com/);
});

test('key types: Ed25519 and RSA roots, an RSA role (slow, with a warning), PKCS #8 keys on request', async (t) => {
  await ok('POST', 'sys/mounts/pki_ed', { type: 'pki' });
  const ed = dataOf<{ certificate: string; private_key: string; key_type: string }>(await ok('POST', 'pki_ed/root/generate/exported', { common_name: 'Ed Root', key_type: 'ed25519', ttl: '1000h' }));
  t.is(ed.key_type, 'ed25519');
  t.true(ed.private_key.startsWith('-----BEGIN PRIVATE KEY-----'));
  await ok('POST', 'pki_ed/roles/r', { allow_any_name: true });
  const leaf = await issue('pki_ed', 'r', { common_name: 'ed.example.com', private_key_format: 'pkcs8' });
  t.true(leaf.private_key.startsWith('-----BEGIN PRIVATE KEY-----'));
  const v = openssl(['verify', '-CAfile', put('ed.pem', ed.certificate), put('ed-leaf.pem', leaf.certificate)]);
  t.is(v.code, 0, v.out);

  await ok('POST', 'sys/mounts/pki_rsa', { type: 'pki' });
  await rejects(t, 'POST', 'pki_rsa/root/generate/internal', { common_name: 'RSA Root', key_type: 'rsa', key_bits: 4096 }, /unsupported bit length for RSA key/);
  const rsa = dataOf<{ certificate: string }>(await ok('POST', 'pki_rsa/root/generate/internal', { common_name: 'RSA Root', key_type: 'rsa', key_bits: 2048, ttl: '1000h' }));
  const role = await ok('POST', 'pki_rsa/roles/rsa', { allow_any_name: true, key_type: 'rsa' });
  t.regex(((role.json as { warnings: string[] }).warnings)[0] ?? '', /slow/);
  const rl = await issue('pki_rsa', 'rsa', { common_name: 'rsa.example.com' });
  t.is(rl.private_key_type, 'rsa');
  t.true(rl.private_key.startsWith('-----BEGIN RSA PRIVATE KEY-----'));
  t.is(openssl(['verify', '-CAfile', put('rsa.pem', rsa.certificate), put('rsa-leaf.pem', rl.certificate)]).code, 0);
});

test('the CRL is rebuilt when a fetch finds it past its refresh point (config/crl)', async (t) => {
  await ok('POST', 'sys/mounts/pki_crl', { type: 'pki' });
  await ok('POST', 'pki_crl/root/generate/internal', { common_name: 'CRL Root', ttl: '100h' });
  await rejects(t, 'POST', 'pki_crl/config/crl', { expiry: '1h', auto_rebuild_grace_period: '2h' }, /must be strictly shorter than CRL expiry/);
  await ok('POST', 'pki_crl/config/crl', { expiry: '3s', auto_rebuild_grace_period: '2s' });
  t.is(dataOf<{ expiry: string }>(await ok('GET', 'pki_crl/config/crl')).expiry, '3s');
  await ok('GET', 'pki_crl/crl/rotate');
  const number = async (): Promise<number> => {
    const text = openssl(['crl', '-noout', '-text'], (await api(b, 'GET', 'pki_crl/crl/pem', { token: null })).text).out;
    return Number(/CRL Number: *\n? *(\d+)/.exec(text)?.[1] ?? -1);
  };
  const first = await number();
  t.true(first >= 1);
  t.is(await number(), first, 'fresh: served as stored');
  b.clock.advance(1_300);
  // Rebuilt (a higher CRL number): the engine-maintenance job may rebuild it in the same moment, so not exactly +1;
  // "a burst of CRL fetches at the refresh point rebuilds the CRL once" covers coalescing.
  const after = await number();
  t.true(after > first, `past nextUpdate − grace: rebuilt on fetch (CRL number ${first} -> ${after})`);
});

test('tidy removes expired certificates from the store and the CRL after the safety buffer', async (t) => {
  await ok('POST', 'pki/roles/brief', { allowed_domains: ['example.com'], allow_subdomains: true, not_before_duration: '1s' });
  const c = await issue('pki', 'brief', { common_name: 'brief.example.com', ttl: '2s' });
  await ok('POST', 'pki/revoke', { serial_number: c.serial_number });
  const crlHas = async (): Promise<boolean> =>
    openssl(['crl', '-noout', '-text'], (await api(b, 'GET', 'pki/crl/pem', { token: null })).text).out.includes(c.serial_number.replace(/:/g, '').toUpperCase());
  t.true(await crlHas());
  b.clock.advance(3_200);
  const r = dataOf<{ cert_store_deleted_count: number; revoked_cert_deleted_count: number }>(
    await ok('POST', 'pki/tidy', { tidy_cert_store: true, tidy_revoked_certs: true, safety_buffer: '1s' }),
  );
  t.true(r.cert_store_deleted_count >= 1);
  t.true(r.revoked_cert_deleted_count >= 1);
  t.is((await api(b, 'GET', `pki/cert/${c.serial_number}`, { token: null })).status, 404);
  t.false(await crlHas());
});

test('generate_lease: the certificate comes with a lease; revoking the lease revokes the certificate', async (t) => {
  await ok('POST', 'pki/roles/leased', { allowed_domains: ['example.com'], allow_subdomains: true, generate_lease: true, ttl: '1h' });
  await rejects(t, 'POST', 'pki/roles/bad', { generate_lease: true, no_store: true }, /cannot both be true/);
  const r = await ok('POST', 'pki/issue/leased', { common_name: 'leased.example.com' });
  const body = r.json as { lease_id: string; lease_duration: number; renewable: boolean; data: Issued };
  t.true(body.lease_id.startsWith('pki/issue/leased/'), body.lease_id);
  t.false(body.renewable);
  t.true(body.lease_duration > 3500 && body.lease_duration <= 3600);
  await ok('PUT', 'sys/leases/revoke', { lease_id: body.lease_id });
  const read = dataOf<{ revocation_time: number }>(await ok('GET', `pki/cert/${body.data.serial_number}`));
  t.true(read.revocation_time > 0);
  // Revoking the lease again (or a certificate already revoked) is fine.
  const again = await api(b, 'PUT', 'sys/leases/revoke', { body: { lease_id: body.lease_id } });
  t.true(again.status < 500);
});

test('private keys (CA and leaf) never reach the logs, the audit log or PostgreSQL in plaintext', async (t) => {
  const pg = await startPostgres();
  const pb = await startApp({ databaseUrl: await pg.createDatabase() });
  t.teardown(() => pb.stop());
  await ok('POST', 'sys/mounts/pki', { type: 'pki' }, pb);
  const root = dataOf<{ private_key: string; certificate: string }>(await ok('POST', 'pki/root/generate/exported', { common_name: 'Secret Root', ttl: '100h' }, pb));
  await ok('POST', 'pki/roles/svc', { allowed_domains: ['example.com'], allow_subdomains: true }, pb);
  const leaf = await issue('pki', 'svc', { common_name: 'secret.example.com' }, pb);
  await ok('POST', 'pki/revoke', { serial_number: leaf.serial_number }, pb);

  // Every form a key could leak in: PEM body lines, the base64 and hex of its PKCS #8 and SEC 1 DER.
  const forms = (pem: string): string[] => {
    const key = createPrivateKey(pem);
    const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
    const sec1 = key.export({ format: 'der', type: 'sec1' });
    const lines = pem.split('\n').filter((l) => l.length > 40 && !l.startsWith('-----'));
    return [...lines, pkcs8.toString('base64').slice(0, 60), sec1.toString('base64').slice(0, 60), pkcs8.toString('hex').slice(-64), sec1.toString('hex').slice(14, 78)];
  };
  const secrets = [...forms(root.private_key), ...forms(leaf.private_key)];
  t.true(secrets.length >= 8);

  const audit = await ok('GET', 'sys/audit-log?limit=1000', undefined, pb);
  const dump = await pg.dumpAll();
  const logs = pb.logs();
  for (const s of secrets) {
    t.false(logs.includes(s), 'a private key reached the broker logs');
    t.false(audit.text.includes(s), 'a private key reached the audit log');
    t.false(dump.includes(s), 'a private key reached PostgreSQL in plaintext');
  }
  // Everything is sealed at rest: not even the public certificate is readable in the dump.
  t.false(dump.includes(root.certificate.split('\n')[1] ?? 'x'));
  t.true((audit.json as { data: { entries: unknown[] } }).data.entries.length > 3);
});

test('SPIFFE URI SANs: a glob never admits dot segments, encoded slashes or a trust domain outside the pattern', async (t) => {
  await ok('POST', 'pki/roles/spiffe', {
    allowed_domains: ['example.com'],
    allow_subdomains: true,
    allowed_uri_sans: ['spiffe://cluster.local/ns/app/*', 'spiffe://*.example.org/ns/*'],
  });
  const base = { common_name: 'w.example.com' };
  // What the patterns are for still works.
  for (const uri of ['spiffe://cluster.local/ns/app/sa/web', 'spiffe://prod.example.org/ns/web', 'spiffe://a.b.example.org/ns/x/sa/y']) {
    const c = await issue('pki', 'spiffe', { ...base, uri_sans: uri });
    t.true(certText(c.certificate).includes(`URI:${uri}`), uri);
  }
  // Path traversal out of ns/app, and its disguises.
  for (const uri of [
    'spiffe://cluster.local/ns/app/../../kube-system/sa/admin',
    'spiffe://cluster.local/ns/app/./x',
    'spiffe://cluster.local/ns/app//x',
    'spiffe://cluster.local/ns/app/x/',
    'spiffe://cluster.local/ns/app/%2e%2e/%2e%2e/kube-system/sa/admin',
    'spiffe://cluster.local/ns/app/x%2F..%2F..%2Fkube-system',
    'spiffe://cluster.local/ns/app/x?y=1',
    'spiffe://cluster.local/ns/app/x#frag',
    'spiffe://admin@cluster.local/ns/app/x',
    'spiffe://cluster.local:8443/ns/app/x',
    'SPIFFE://cluster.local/ns/app/x',
  ]) {
    await rejects(t, 'POST', 'pki/issue/spiffe', { ...base, uri_sans: uri }, /is not a valid SPIFFE ID/);
  }
  // A "*" in the trust domain does not reach into the path.
  await rejects(t, 'POST', 'pki/issue/spiffe', { ...base, uri_sans: 'spiffe://evil.com/ns/x/.example.org/ns/y' }, /URI Subject Alternative Name spiffe:\/\/evil\.com\/ns\/x\/\.example\.org\/ns\/y not allowed/);
  await rejects(t, 'POST', 'pki/issue/spiffe', { ...base, uri_sans: 'spiffe://example.org.evil.com/ns/x' }, /not allowed by this role/);
  // The same checks hold for the names in a CSR.
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'trav.key', '-out', 'trav.csr', '-subj', '/CN=w.example.com', '-addext', 'subjectAltName=URI:spiffe://cluster.local/ns/app/../../kube-system/sa/admin']);
  await rejects(t, 'POST', 'pki/sign/spiffe', { csr: files.read('trav.csr') }, /is not a valid SPIFFE ID/);
});

test('names a certificate cannot hold are a 400 even with allow_any_name: non-ASCII DNS names and IPv6 zones', async (t) => {
  await ok('POST', 'pki/roles/anyname', { allow_any_name: true, enforce_hostnames: false, allow_ip_sans: true });
  await rejects(t, 'POST', 'pki/issue/anyname', { common_name: 'bücher.example' }, /"bücher\.example" is not ASCII.*punycode.*"xn--bcher-kva\.example"/);
  await rejects(t, 'POST', 'pki/issue/anyname', { common_name: 'ok.example', alt_names: 'bücher.example' }, /not ASCII/);
  await rejects(t, 'POST', 'pki/issue/anyname', { common_name: 'ok.example', alt_names: 'jürgen@example.com' }, /not ASCII/);
  await rejects(t, 'POST', 'pki/issue/anyname', { common_name: 'ok.example', uri_sans: 'https://bücher.example/' }, /not allowed in this role|not a valid URI/);
  await rejects(t, 'POST', 'pki/issue/anyname', { common_name: 'ok.example', ip_sans: 'fe80::1%eth0' }, /IPv6 zone identifiers are not allowed/);
  // The punycode form, and an IPv6 address without a zone, are fine.
  const c = await issue('pki', 'anyname', { common_name: 'xn--bcher-kva.example', ip_sans: 'fe80::1' });
  const text = certText(c.certificate);
  t.regex(text, /DNS:xn--bcher-kva\.example/);
  t.regex(text, /IP Address:FE80:0:0:0:0:0:0:1/i);
  // CA endpoints check their SANs the same way.
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'idn-ca.key', '-out', 'idn-ca.csr', '-subj', '/CN=IDN CA']);
  const csr = files.read('idn-ca.csr');
  await rejects(t, 'POST', 'pki/root/sign-intermediate', { csr, common_name: 'IDN CA', alt_names: 'bücher.example', ttl: '1h' }, /not ASCII/);
  await rejects(t, 'POST', 'pki/root/sign-intermediate', { csr, common_name: 'IDN CA', ip_sans: 'fe80::1%eth0', ttl: '1h' }, /zone/);
});

test('CSRs with weak keys are refused everywhere: RSA-1024 on sign/:role and root/sign-intermediate', async (t) => {
  const weak = openssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'weak.key', '-out', 'weak.csr', '-subj', '/CN=Weak Intermediate']);
  t.is(weak.code, 0, weak.out);
  await rejects(t, 'POST', 'pki/root/sign-intermediate', { csr: files.read('weak.csr'), common_name: 'Weak Intermediate', ttl: '1h' }, /RSA keys < 2048 bits are unsafe/);
  await ok('POST', 'pki/roles/anykey', { allowed_domains: ['example.com'], allow_subdomains: true, key_type: 'any' });
  openssl(['req', '-new', '-newkey', 'rsa:1024', '-nodes', '-keyout', 'weak2.key', '-out', 'weak2.csr', '-subj', '/CN=w.example.com']);
  await rejects(t, 'POST', 'pki/sign/anykey', { csr: files.read('weak2.csr') }, /RSA keys < 2048 bits are unsafe/);
  // An Ed25519 CSR is fine on a role that takes any key.
  openssl(['req', '-new', '-newkey', 'ed25519', '-nodes', '-keyout', 'ed.key', '-out', 'ed.csr', '-subj', '/CN=ed.example.com']);
  const c = dataOf<Issued>(await ok('POST', 'pki/sign/anykey', { csr: files.read('ed.csr') }));
  t.is(openssl(['verify', '-CAfile', 'root.pem', put('ed-signed.pem', c.certificate)]).code, 0);
});

test('a burst of CRL fetches at the refresh point rebuilds the CRL once; concurrent revokes all reach the CRL', async (t) => {
  // On PostgreSQL (concurrent connections; embedded PGlite runs one statement at a time, which hides the race).
  const pg = await startPostgres();
  const pb = await startApp({ databaseUrl: await pg.createDatabase() });
  t.teardown(() => pb.stop());
  await ok('POST', 'sys/mounts/pki_crlb', { type: 'pki' }, pb);
  await ok('POST', 'pki_crlb/root/generate/internal', { common_name: 'CRL Burst Root', ttl: '100h' }, pb);
  await ok('POST', 'pki_crlb/config/crl', { expiry: '3s', auto_rebuild_grace_period: '2s' }, pb);
  await ok('GET', 'pki_crlb/crl/rotate', undefined, pb);
  const crlText = (pem: string): string => openssl(['crl', '-noout', '-text'], pem).out;
  const numberOf = (pem: string): number => Number(/CRL Number: *\n? *(\d+)/.exec(crlText(pem))?.[1] ?? -1);
  const first = numberOf((await api(pb, 'GET', 'pki_crlb/crl/pem', { token: null })).text);
  t.true(first >= 1);
  pb.clock.advance(1_300);
  const burst = await Promise.all(Array.from({ length: 12 }, () => api(pb, 'GET', 'pki_crlb/crl/pem', { token: null })));
  for (const r of burst) t.is(r.status, 200, r.text);
  t.deepEqual([...new Set(burst.map((r) => numberOf(r.text)))], [first + 1], 'one rebuild, not one per fetch');

  await ok('POST', 'pki_crlb/config/crl', { expiry: '72h', auto_rebuild_grace_period: '12h' }, pb);
  await ok('POST', 'pki_crlb/roles/r', { allowed_domains: ['example.com'], allow_subdomains: true }, pb);
  const certs = await Promise.all(Array.from({ length: 10 }, (_, i) => issue('pki_crlb', 'r', { common_name: `c${i}.example.com` }, pb)));
  const revoked = await Promise.all(certs.map((c) => api(pb, 'POST', 'pki_crlb/revoke', { body: { serial_number: c.serial_number } })));
  for (const r of revoked) t.is(r.status, 200, r.text);
  const text = crlText((await api(pb, 'GET', 'pki_crlb/crl/pem', { token: null })).text);
  for (const c of certs) t.true(text.includes(c.serial_number.replace(/:/g, '').toUpperCase()), c.serial_number);
});
