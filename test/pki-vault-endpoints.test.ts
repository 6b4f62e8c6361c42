// PKI endpoints as Terraform's Vault provider and cert-manager's Vault issuer send them: sign-verbatim, revoke-with-key,
// issuers / issuer/:ref, issuers/generate/root, config/urls into issued certificates, config/crl read back as written.
// The referee is the real `openssl` CLI.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api, type ApiResponse } from './helpers/broker.ts';

let b: Broker;
let dir: string;

test.before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pki-vault-'));
  b = await startApp();
});
test.after.always(async () => {
  await b?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function openssl(args: string[], input?: string): { code: number; out: string } {
  const r = spawnSync('openssl', args, { cwd: dir, input, encoding: 'utf8' });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
const put = (name: string, text: string): string => {
  fs.writeFileSync(path.join(dir, name), text);
  return name;
};
const dataOf = <T>(r: ApiResponse): T => (r.json as { data: T }).data;
const errorOf = (r: ApiResponse): string => ((r.json as { errors?: string[] }).errors ?? [])[0] ?? '';

async function ok(method: string, p: string, body?: unknown): Promise<ApiResponse> {
  const headers: Record<string, string> = method === 'PATCH' ? { 'content-type': 'application/merge-patch+json' } : {};
  const r = await api(b, method, p, { body, headers });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r;
}

/** A key and CSR made by openssl, with names a role would never allow. */
function csrWith(name: string, subj: string, san: string): { csr: string; key: string } {
  const r = openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj, '-addext', `subjectAltName=${san}`]);
  if (r.code !== 0) throw new Error(r.out);
  return { csr: fs.readFileSync(path.join(dir, `${name}.csr`), 'utf8'), key: fs.readFileSync(path.join(dir, `${name}.key`), 'utf8') };
}

interface Signed {
  certificate: string;
  issuing_ca: string;
  ca_chain: string[];
  serial_number: string;
  expiration: number;
  private_key?: string;
  private_key_type?: string;
}

test.serial('issuers/generate/root, issuers (LIST), issuer/:ref read, PUT, merge PATCH, pem; default, id and name refs', async (t) => {
  await ok('POST', 'sys/mounts/pki', { type: 'pki', config: { max_lease_ttl: '87600h' } });
  const gen = dataOf<{ issuer_id: string; issuer_name: string; key_id: string; certificate: string; private_key?: string }>(
    await ok('POST', 'pki/issuers/generate/root/internal', { common_name: 'Example Root', ttl: '87600h', issuer_name: 'root-2026' }),
  );
  t.regex(gen.issuer_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(gen.issuer_name, 'root-2026');
  t.is(gen.private_key, undefined, 'internal: the key never leaves');
  put('root.pem', gen.certificate);

  const list = dataOf<{ keys: string[]; key_info: Record<string, { issuer_name: string; is_default: boolean }> }>(await ok('GET', 'pki/issuers?list=true'));
  t.deepEqual(list.keys, [gen.issuer_id]);
  t.like(list.key_info[gen.issuer_id], { issuer_name: 'root-2026', is_default: true });

  for (const ref of ['default', gen.issuer_id, 'root-2026']) {
    t.like(dataOf<Record<string, unknown>>(await ok('GET', `pki/issuer/${ref}`)), {
      issuer_id: gen.issuer_id,
      issuer_name: 'root-2026',
      key_id: gen.key_id,
      leaf_not_after_behavior: 'err',
      usage: 'crl-signing,issuing-certificates,ocsp-signing,read-only',
      revoked: false,
      manual_chain: null,
    });
  }
  t.is((await api(b, 'GET', 'pki/issuer/nope')).status, 404);
  const pem = await api(b, 'GET', `pki/issuer/${gen.issuer_id}/pem`, { token: null });
  t.is(pem.status, 200);
  t.is(pem.text.trim(), gen.certificate.trim());

  // PUT replaces (absent fields take defaults), PATCH merges: as Terraform's pki_secret_backend_issuer sends them.
  await ok('POST', 'pki/issuer/default', { issuer_name: 'root-a', leaf_not_after_behavior: 'truncate', usage: 'read-only,issuing-certificates,crl-signing' });
  t.like(dataOf<Record<string, unknown>>(await ok('GET', 'pki/issuer/root-a')), { leaf_not_after_behavior: 'truncate', usage: 'crl-signing,issuing-certificates,read-only' });
  await ok('PATCH', 'pki/issuer/root-a', { ocsp_servers: ['http://ocsp.example.com'] });
  t.like(dataOf<Record<string, unknown>>(await ok('GET', 'pki/issuer/default')), {
    issuer_name: 'root-a',
    leaf_not_after_behavior: 'truncate',
    ocsp_servers: ['http://ocsp.example.com'],
  });
  await ok('PUT', 'pki/issuer/root-a', { issuer_name: 'root-2026' });
  t.like(dataOf<Record<string, unknown>>(await ok('GET', 'pki/issuer/default')), { issuer_name: 'root-2026', leaf_not_after_behavior: 'err', ocsp_servers: [] });

  for (const [body, re] of [
    [{ leaf_not_after_behavior: 'sometimes' }, /leaf_not_after_behavior: must be/],
    [{ usage: 'everything' }, /unknown usage "everything"/],
    [{ issuer_name: 'default' }, /reserved keyword/],
    [{ issuer_name: 'bad name!' }, /issuer_name/],
    [{ revocation_signature_algorithm: 'MD5WithRSA' }, /Unknown signature algorithm/],
    [{ issuing_certificates: 'not a url' }, /invalid URL found in Authority Information Access/],
  ] as const) {
    const r = await api(b, 'POST', 'pki/issuer/default', { body });
    t.is(r.status, 400, JSON.stringify(body));
    t.regex(errorOf(r), re);
  }
  t.is((await api(b, 'POST', 'pki/issuer/missing', { body: { issuer_name: 'x' } })).status, 400);
});

test.serial('sign-verbatim (cert-manager, all strings): the CSR signed as it is; openssl verify accepts it', async (t) => {
  const { csr } = csrWith('verb', '/O=Acme/OU=Payments/CN=anything.internal', 'DNS:anything.internal,DNS:other.test,IP:10.1.2.3,URI:spiffe://acme/pay');
  const body = { common_name: 'ignored.example.com', alt_names: 'ignored.example.com', ip_sans: '', uri_sans: '', ttl: '2160h0m0s', csr, exclude_cn_from_sans: 'true' };
  const r = dataOf<Signed>(await ok('POST', 'pki/sign-verbatim', body));
  for (const k of ['certificate', 'issuing_ca', 'ca_chain', 'serial_number', 'expiration'] as const) t.truthy(r[k], k);
  t.is(r.issuing_ca.trim(), fs.readFileSync(path.join(dir, 'root.pem'), 'utf8').trim());
  const v = openssl(['verify', '-CAfile', 'root.pem', put('verb.pem', r.certificate)]);
  t.is(v.code, 0, v.out);
  const text = openssl(['x509', '-noout', '-text', '-in', 'verb.pem']).out;
  t.regex(openssl(['x509', '-noout', '-subject', '-in', 'verb.pem']).out, /O\s*=\s*Acme, OU\s*=\s*Payments, CN\s*=\s*anything\.internal/);
  t.regex(text, /DNS:anything\.internal, DNS:other\.test, IP Address:10\.1\.2\.3, URI:spiffe:\/\/acme\/pay/);
  t.notRegex(text, /ignored\.example\.com/);
  t.regex(text, /Digital Signature, Key Agreement/, 'the default key usages (no key encipherment for EC)');
  t.true(Math.abs(r.expiration - (Date.now() / 1000 + 2160 * 3600)) < 120, `ttl as a Go duration: expiration ${r.expiration}, now ${Date.now() / 1000}`);

  // With a role: its lifetimes (the role's max_ttl caps the ttl), not its name rules.
  await ok('POST', 'pki/roles/tight', { allowed_domains: 'example.com', allow_subdomains: true, max_ttl: '1h', ttl: '30m' });
  const viaRole = await ok('POST', 'pki/sign-verbatim/tight', { csr, ttl: '2160h0m0s' });
  const signed = dataOf<Signed>(viaRole);
  t.true(signed.expiration - Date.now() / 1000 <= 3600 + 5);
  t.regex(((viaRole.json as { warnings?: string[] }).warnings ?? []).join(' '), /maxTTL/);
  t.is(openssl(['verify', '-CAfile', 'root.pem', put('verb-role.pem', signed.certificate)]).code, 0);
  // The plain sign/:role still checks names.
  t.is((await api(b, 'POST', 'pki/sign/tight', { body: { csr, common_name: 'anything.internal' } })).status, 400);
  t.is((await api(b, 'POST', 'pki/sign-verbatim/nope', { body: { csr } })).status, 400);
  t.is((await api(b, 'POST', 'pki/sign-verbatim', { body: { csr: 'not a csr' } })).status, 400);
  t.is((await api(b, 'POST', 'pki/sign-verbatim', { body: { csr, issuer_ref: 'root-2026' } })).status, 200, 'issuer_ref by name');
  t.is((await api(b, 'POST', 'pki/sign-verbatim', { body: { csr, issuer_ref: 'other-issuer' } })).status, 400);
});

test.serial('config/urls lands in issued certificates as AIA and CDP; issuer-level URLs override it', async (t) => {
  await ok('POST', 'pki/config/urls', {
    issuing_certificates: 'http://pki.example.com/v1/pki/ca',
    crl_distribution_points: ['http://pki.example.com/v1/pki/crl'],
    ocsp_servers: ['http://ocsp.example.com'],
  });
  t.like(dataOf<Record<string, unknown>>(await ok('GET', 'pki/config/urls')), {
    issuing_certificates: ['http://pki.example.com/v1/pki/ca'],
    crl_distribution_points: ['http://pki.example.com/v1/pki/crl'],
    ocsp_servers: ['http://ocsp.example.com'],
    enable_templating: false,
  });
  await ok('POST', 'pki/roles/web', { allowed_domains: 'example.com', allow_subdomains: true, ttl: '1h', max_ttl: '24h' });
  const leaf = dataOf<Signed>(await ok('POST', 'pki/issue/web', { common_name: 'www.example.com', private_key_format: 'der' }));
  t.is(leaf.private_key_type, 'ec');
  t.is(openssl(['verify', '-CAfile', 'root.pem', put('urls.pem', leaf.certificate)]).code, 0);
  const text = openssl(['x509', '-noout', '-text', '-in', 'urls.pem']).out;
  t.regex(text, /Authority Information Access:\s+OCSP - URI:http:\/\/ocsp\.example\.com\s+CA Issuers - URI:http:\/\/pki\.example\.com\/v1\/pki\/ca/);
  t.regex(text, /CRL Distribution Points:\s+Full Name:\s+URI:http:\/\/pki\.example\.com\/v1\/pki\/crl/);

  await ok('PATCH', 'pki/issuer/default', { crl_distribution_points: ['http://issuer.example.com/crl'] });
  const own = dataOf<Signed>(await ok('POST', 'pki/issue/web', { common_name: 'api.example.com' }));
  const ownText = openssl(['x509', '-noout', '-text'], own.certificate).out;
  t.regex(ownText, /URI:http:\/\/issuer\.example\.com\/crl/);
  t.notRegex(ownText, /pki\.example\.com\/v1\/pki\/crl/);
  await ok('POST', 'pki/issuer/default', { issuer_name: 'root-2026' });
});

test.serial('revoke-with-key: the holder of the private key revokes; a wrong key or certificate is refused', async (t) => {
  const leaf = dataOf<Signed>(await ok('POST', 'pki/issue/web', { common_name: 'revoke.example.com' }));
  const other = dataOf<Signed>(await ok('POST', 'pki/issue/web', { common_name: 'other.example.com' }));
  const wrongKey = await api(b, 'POST', 'pki/revoke-with-key', { body: { serial_number: leaf.serial_number, private_key: other.private_key } });
  t.is(wrongKey.status, 400);
  t.regex(errorOf(wrongKey), /private key/);
  const both = await api(b, 'POST', 'pki/revoke-with-key', { body: { serial_number: leaf.serial_number, certificate: leaf.certificate, private_key: leaf.private_key } });
  t.is(both.status, 400);
  t.is((await api(b, 'POST', 'pki/revoke-with-key', { body: { serial_number: leaf.serial_number, private_key: 'junk' } })).status, 400);
  t.is((await api(b, 'POST', 'pki/revoke-with-key', { body: { certificate: other.certificate.replace('MII', 'MIJ'), private_key: other.private_key } })).status, 400);
  t.is(dataOf<{ revocation_time: number }>(await ok('GET', `pki/cert/${leaf.serial_number}`)).revocation_time, 0, 'nothing revoked yet');

  const r = dataOf<{ revocation_time: number; state: string }>(await ok('POST', 'pki/revoke-with-key', { certificate: leaf.certificate, private_key: leaf.private_key }));
  t.true(r.revocation_time > 0);
  t.is(r.state, 'revoked');
  const crl = (await api(b, 'GET', 'pki/crl/pem', { token: null })).text;
  t.regex(openssl(['crl', '-noout', '-text'], crl).out.toLowerCase(), new RegExp(leaf.serial_number.replace(/:/g, '')));
});

test.serial('config/crl: every field Terraform sends is read back as written; disable empties the CRL', async (t) => {
  const fields = {
    expiry: '72h',
    disable: false,
    ocsp_disable: true,
    ocsp_expiry: '1h',
    auto_rebuild: true,
    auto_rebuild_grace_period: '12h',
    enable_delta: false,
    delta_rebuild_interval: '30m',
    cross_cluster_revocation: false,
    unified_crl: false,
    unified_crl_on_existing_paths: false,
  };
  const before = dataOf<Record<string, unknown>>(await ok('GET', 'pki/config/crl'));
  t.like(before, { disable: false, ocsp_expiry: '12h', delta_rebuild_interval: '15m', auto_rebuild: false });
  await ok('POST', 'pki/config/crl', fields);
  t.like(dataOf<Record<string, unknown>>(await ok('GET', 'pki/config/crl')), fields);
  await ok('POST', 'pki/config/crl', { disable: 'true' });
  t.like(dataOf<Record<string, unknown>>(await ok('GET', 'pki/config/crl')), { ...fields, disable: true }, 'a partial write keeps the rest');
  await ok('GET', 'pki/crl/rotate');
  const crl = (await api(b, 'GET', 'pki/crl/pem', { token: null })).text;
  t.regex(openssl(['crl', '-noout', '-text'], crl).out, /No Revoked Certificates/);
  await ok('POST', 'pki/config/crl', { disable: false });
  for (const body of [{ ocsp_expiry: 'soon' }, { disable: 'maybe' }, { expiry: '1h', auto_rebuild_grace_period: '2h' }]) {
    t.is((await api(b, 'POST', 'pki/config/crl', { body })).status, 400, JSON.stringify(body));
  }
});

test.serial('root/generate/exported returns the private key once; DELETE root and DELETE issuer/:ref remove the CA', async (t) => {
  await ok('POST', 'sys/mounts/pki2', { type: 'pki' });
  const gen = dataOf<{ certificate: string; private_key: string; private_key_type: string; issuer_id: string }>(
    await ok('POST', 'pki2/root/generate/exported', { common_name: 'Second Root', ttl: '8760h' }),
  );
  t.is(gen.private_key_type, 'ec');
  t.is(openssl(['x509', '-noout', '-pubkey'], gen.certificate).out, openssl(['pkey', '-pubout'], gen.private_key).out);
  t.false(JSON.stringify(dataOf(await ok('GET', 'pki2/issuer/default'))).includes('PRIVATE KEY'));
  t.is((await api(b, 'POST', 'pki2/root/generate/internal', { body: { common_name: 'again' } })).status, 400, 'no overwrite');
  const del = await api(b, 'DELETE', `pki2/issuer/${gen.issuer_id}`);
  t.true(del.status === 200 || del.status === 204, del.text);
  t.is((await api(b, 'GET', 'pki2/issuer/default')).status, 404);
  t.is((await api(b, 'GET', 'pki2/issuers?list=true')).status, 404);
  await ok('POST', 'pki2/issuers/generate/root/internal', { common_name: 'Third Root' });
  t.is((await api(b, 'DELETE', 'pki2/root')).status, 204);
  t.is((await api(b, 'GET', 'pki2/issuer/default')).status, 404);
  const inter = dataOf<{ csr: string }>(await ok('POST', 'pki2/issuers/generate/intermediate/internal', { common_name: 'Int' }));
  t.regex(inter.csr, /BEGIN CERTIFICATE REQUEST/);
});
