// The `cert` auth method: trusted certificates under auth/cert/certs/:name and login with the TLS client certificate.
import test from 'ava';
import https from 'node:https';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { createTestPki, type Issued, type TestPki } from './helpers/test-pki.ts';

let pki: TestPki;
let b: Broker;
const c: Record<string, Issued> = {};
const CLIENT = 'extendedKeyUsage=clientAuth';

test.before(async () => {
  pki = createTestPki();
  c.ca = pki.ca('ca', '/O=Acme/CN=Acme Client CA');
  c.server = pki.issue('server', {
    ca: 'ca',
    subject: '/CN=localhost',
    ext: ['subjectAltName=IP:127.0.0.1,DNS:localhost', 'extendedKeyUsage=serverAuth'],
  });
  c.web = pki.issue('web', {
    ca: 'ca',
    subject: '/O=Acme/OU=payments/CN=web.example.com',
    ext: [CLIENT, 'subjectAltName=DNS:web.example.com,URI:spiffe://cluster.local/ns/prod/sa/web'],
  });
  c.intruder = pki.issue('intruder', { ca: 'ca', subject: '/CN=intruder.example.com', ext: [CLIENT] });
  c.expired = pki.issue('expired', { ca: 'ca', subject: '/CN=web.example.com', ext: [CLIENT], startDate: '20200101000000Z', endDate: '20200102000000Z' });
  c.future = pki.issue('future', { ca: 'ca', subject: '/CN=web.example.com', ext: [CLIENT], startDate: '20990101000000Z', endDate: '20990102000000Z' });
  c.serverOnly = pki.issue('server-only', { ca: 'ca', subject: '/CN=web.example.com', ext: ['extendedKeyUsage=serverAuth'] });
  c.billing = pki.issue('billing', {
    ca: 'ca',
    subject: '/CN=billing',
    ext: [CLIENT, 'subjectAltName=URI:spiffe://cluster.local/ns/finance/sa/billing'],
  });
  c.outsider = pki.issue('outsider', {
    ca: 'ca',
    subject: '/CN=billing',
    ext: [CLIENT, 'subjectAltName=URI:spiffe://evil.example/ns/finance/sa/billing'],
  });
  // A second, unrelated CA whose client certificate carries the very same names.
  pki.ca('other-ca', '/O=Acme/CN=Acme Client CA');
  c.foreign = pki.issue('foreign', {
    ca: 'other-ca',
    subject: '/O=Acme/OU=payments/CN=web.example.com',
    ext: [CLIENT, 'subjectAltName=DNS:web.example.com,URI:spiffe://cluster.local/ns/prod/sa/web'],
  });
  // ca → intermediate → leaf; the client presents leaf + intermediate.
  pki.issue('inter', { ca: 'ca', subject: '/CN=Acme Intermediate', ext: ['basicConstraints=critical,CA:TRUE,pathlen:0', 'keyUsage=critical,keyCertSign,cRLSign'] });
  const viaInter = pki.issue('via-inter', { ca: 'inter', subject: '/CN=batch.example.com', ext: [CLIENT] });
  c.viaInter = { ...viaInter, cert: viaInter.cert + pki.read('inter.pem') };
  c.viaInterLeafOnly = viaInter;
  c.pinned = pki.selfSigned('pinned', '/CN=laptop', [CLIENT]);

  b = await startApp({ env: { SEALBOX_TLS_CERT_FILE: c.server.certFile, SEALBOX_TLS_KEY_FILE: c.server.keyFile } });
  const mount = await call('POST', 'sys/auth/cert', { token: b.rootToken, body: { type: 'cert' } });
  if (mount.status !== 204 && mount.status !== 200) throw new Error(`mount failed: ${JSON.stringify(mount)}`);
});
test.after.always(async () => {
  await b?.stop();
});

interface Reply {
  status: number;
  json: unknown;
}

function call(method: string, path: string, opts: { token?: string; body?: unknown; cert?: Issued; agent?: https.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = {};
    if (opts.token) headers['x-vault-token'] = opts.token;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = https.request(
      `${b.address}/v1/${path}`,
      {
        method,
        ca: c.ca?.cert,
        ...(opts.cert ? { cert: opts.cert.cert, key: opts.cert.key } : {}),
        headers,
        agent: opts.agent ?? false,
        timeout: 10_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const root = (method: string, path: string, body?: unknown): Promise<Reply> => call(method, path, { token: b.rootToken, body });
const login = (cert: Issued | undefined, body: Record<string, unknown> = {}): Promise<Reply> =>
  call('POST', 'auth/cert/login', { body, ...(cert ? { cert } : {}) });

interface Auth {
  client_token: string;
  policies: string[];
  metadata: Record<string, string>;
  lease_duration: number;
}
const authOf = (r: Reply): Auth => (r.json as { auth: Auth }).auth;
const dataOf = <T>(r: Reply): T => (r.json as { data: T }).data;
const INVALID = { errors: ['invalid credentials'] };

test.serial('certs/:name is validated, read back, listed and deleted', async (t) => {
  const bad = await root('POST', 'auth/cert/certs/bad', { certificate: 'not a certificate' });
  t.is(bad.status, 400);
  t.regex((bad.json as { errors: string[] }).errors[0] ?? '', /certificate/);

  const corrupt = c.ca!.cert.replace(/[A-Za-z]{8}/, 'AAAAAAAA');
  t.is((await root('POST', 'auth/cert/certs/bad', { certificate: corrupt })).status, 400);
  t.is((await root('POST', 'auth/cert/certs/bad', { token_policies: ['app'] })).status, 400, 'certificate is required');
  t.is((await root('POST', 'auth/cert/certs/bad', { certificate: c.ca!.cert, token_ttl: 'soon' })).status, 400);
  t.is((await root('POST', 'auth/cert/certs/bad', { certificate: c.ca!.cert, token_ttl: '2h', token_max_ttl: '1h' })).status, 400);
  t.is((await root('POST', 'auth/cert/certs/bad', { certificate: c.ca!.cert, token_policies: ['root'] })).status, 400);
  t.is((await root('POST', 'auth/cert/certs/bad', { certificate: c.ca!.cert, allowed_common_names: { a: 1 } })).status, 400);
  // A trusted leaf must be usable for client authentication.
  const serverLeaf = await root('POST', 'auth/cert/certs/bad', { certificate: c.serverOnly!.cert });
  t.is(serverLeaf.status, 400);
  t.is((await root('GET', 'auth/cert/certs/bad')).status, 404, 'nothing was written by the refused requests');

  const w = await root('POST', 'auth/cert/certs/web', {
    certificate: c.ca!.cert,
    allowed_common_names: 'web.example.com, *.web.example.com',
    token_policies: 'app,DB',
    token_ttl: '1h',
    token_max_ttl: '2h',
  });
  t.is(w.status, 204);
  const r = await root('GET', 'auth/cert/certs/web');
  t.is(r.status, 200);
  t.like(dataOf<Record<string, unknown>>(r), {
    certificate: c.ca!.cert,
    display_name: 'web',
    allowed_common_names: ['web.example.com', '*.web.example.com'],
    token_policies: ['app', 'db'],
    token_ttl: 3600,
    token_max_ttl: 7200,
  });
  // An update keeps what it does not mention.
  t.is((await root('POST', 'auth/cert/certs/web', { token_ttl: 1800 })).status, 204);
  t.like(dataOf<Record<string, unknown>>(await root('GET', 'auth/cert/certs/web')), { token_ttl: 1800, token_policies: ['app', 'db'] });

  t.is((await root('POST', 'auth/cert/certs/gone', { certificate: c.ca!.cert })).status, 204);
  const list = await root('GET', 'auth/cert/certs?list=true');
  t.deepEqual(dataOf<{ keys: string[] }>(list).keys.sort(), ['gone', 'web']);
  t.is((await root('DELETE', 'auth/cert/certs/gone')).status, 204);
  t.is((await root('GET', 'auth/cert/certs/gone')).status, 404);

  // Only the root token (or a policy that allows it) may manage trusted certificates.
  t.is((await call('GET', 'auth/cert/certs/web')).status, 403);
  t.is((await call('POST', 'auth/cert/certs/x', { body: { certificate: c.ca!.cert } })).status, 403);
});

test.serial('login with a trusted client certificate returns a token with the entry policies', async (t) => {
  const r = await login(c.web);
  t.is(r.status, 200, JSON.stringify(r.json));
  const auth = authOf(r);
  t.deepEqual([...auth.policies].sort(), ['app', 'db', 'default']);
  t.true(auth.lease_duration > 1790 && auth.lease_duration <= 1800);
  t.like(auth.metadata, { cert_name: 'web', common_name: 'web.example.com' });
  t.regex(auth.metadata.serial_number ?? '', /^\d+$/);
  t.regex(auth.metadata.subject_key_id ?? '', /^[0-9a-f]{2}(:[0-9a-f]{2})+$/);

  const self = await call('GET', 'auth/token/lookup-self', { token: auth.client_token });
  t.is(self.status, 200);
  const d = dataOf<{ policies: string[]; display_name: string; meta: Record<string, string>; ttl: number }>(self);
  t.deepEqual([...d.policies].sort(), ['app', 'db', 'default']);
  t.is(d.display_name, 'cert-web');
  t.like(d.meta, { cert_name: 'web', common_name: 'web.example.com' });
  t.true(d.ttl > 1790 && d.ttl <= 1800);

  // `name` restricts the login to one entry.
  t.is((await login(c.web, { name: 'web' })).status, 200);
  t.deepEqual((await login(c.web, { name: 'nope' })).json, INVALID);

  // The token never reaches the logs.
  t.false(b.logs().includes(auth.client_token));
});

test.serial('untrusted, expired, not-yet-valid, wrong-name, wrong-usage and missing certificates are refused alike', async (t) => {
  const cases: [string, Issued | undefined][] = [
    ['a client certificate from another CA', c.foreign],
    ['an expired certificate', c.expired],
    ['a not-yet-valid certificate', c.future],
    ['a common name outside allowed_common_names', c.intruder],
    ['a certificate without clientAuth usage', c.serverOnly],
    ['no certificate at all', undefined],
    ['a self-signed certificate nobody trusts', c.pinned],
  ];
  for (const [what, cert] of cases) {
    const r = await login(cert);
    t.is(r.status, 400, what);
    t.deepEqual(r.json, INVALID, what);
  }
});

test.serial('SPIFFE URI SAN globs select the workload', async (t) => {
  t.is(
    (await root('POST', 'auth/cert/certs/spiffe', {
      certificate: c.ca!.cert,
      allowed_uri_sans: ['spiffe://cluster.local/ns/*/sa/billing'],
      token_policies: ['billing'],
    })).status,
    204,
  );
  const ok = await login(c.billing, { name: 'spiffe' });
  t.is(ok.status, 200);
  t.deepEqual([...authOf(ok).policies].sort(), ['billing', 'default']);
  t.like(authOf(ok).metadata, { cert_name: 'spiffe', common_name: 'billing' });
  // Without `name`, the first matching entry wins: billing's CN is not allowed by `web`, so `spiffe` matches.
  t.like(authOf(await login(c.billing)).metadata, { cert_name: 'spiffe' });
  // Same CA and CN, another trust domain: refused.
  t.deepEqual((await login(c.outsider, { name: 'spiffe' })).json, INVALID);
  // web's certificate has a URI SAN, but not a billing one.
  t.deepEqual((await login(c.web, { name: 'spiffe' })).json, INVALID);
});

test.serial('organizational units and DNS SANs constrain too', async (t) => {
  await root('POST', 'auth/cert/certs/ou', {
    certificate: c.ca!.cert,
    allowed_organizational_units: ['payments'],
    allowed_dns_sans: ['*.example.com'],
    token_policies: ['pay'],
  });
  t.is((await login(c.web, { name: 'ou' })).status, 200);
  t.deepEqual((await login(c.intruder, { name: 'ou' })).json, INVALID, 'no OU, no DNS SAN');
});

test.serial('a leaf chains through an intermediate the client presents', async (t) => {
  await root('POST', 'auth/cert/certs/batch', { certificate: c.ca!.cert, allowed_common_names: ['batch.example.com'], token_policies: ['batch'] });
  const ok = await login(c.viaInter, { name: 'batch' });
  t.is(ok.status, 200, JSON.stringify(ok.json));
  t.like(authOf(ok).metadata, { cert_name: 'batch', common_name: 'batch.example.com' });
  // Again on new connections through one agent, which would resume the TLS session if the broker allowed it
  // (a resumed session no longer carries the intermediate).
  const agent = new https.Agent({ keepAlive: false, ca: c.ca!.cert, cert: c.viaInter!.cert, key: c.viaInter!.key });
  t.teardown(() => agent.destroy());
  for (let i = 0; i < 3; i++) t.is((await call('POST', 'auth/cert/login', { body: { name: 'batch' }, agent })).status, 200);
  // Without the intermediate there is no path to the trusted CA.
  t.deepEqual((await login(c.viaInterLeafOnly, { name: 'batch' })).json, INVALID);
});

test.serial('a pinned (non-CA) client certificate is trusted exactly', async (t) => {
  t.is((await root('POST', 'auth/cert/certs/laptop', { certificate: c.pinned!.cert, token_policies: ['ops'] })).status, 204);
  const ok = await login(c.pinned, { name: 'laptop' });
  t.is(ok.status, 200);
  t.like(authOf(ok).metadata, { cert_name: 'laptop', common_name: 'laptop' });
  // The pinned entry is not a CA: certificates it did not sign are not trusted through it.
  t.deepEqual((await login(c.web, { name: 'laptop' })).json, INVALID);
});

test.serial('deleting an entry stops its logins; private keys never reach the logs', async (t) => {
  t.is((await root('DELETE', 'auth/cert/certs/laptop')).status, 204);
  t.deepEqual((await login(c.pinned)).json, INVALID);
  const logs = b.logs();
  for (const cert of Object.values(c)) t.false(logs.includes(cert.key.split('\n')[1] ?? '@@'));
});
