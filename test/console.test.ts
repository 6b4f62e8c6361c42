// The web console (issue 19) in a real Chromium: Debian's /usr/bin/chromium driven by playwright-core, against a
// real broker on PostgreSQL with a real database-engine target. An auditor logs in with a token, searches by path
// and outcome, opens an entry, follows it to its lineage, and sees a denied request marked in the histogram; an
// operator runs a rotation and revokes a lease, and the API shows both; the auditor sees no buttons it cannot use;
// a secret written during the test appears in no page and no network response; every control is reached by Tab and
// every input has a label; the pages work at 1280×800 and 390×844. Screenshots go to test-artifacts/console/.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { mountDatabase, newTarget, type Target } from '../agent/test/helpers.ts';
import { api, PROJECT_ROOT, startBroker, type Broker } from './helpers/broker.ts';
import { runCli } from './helpers/cli.ts';
import { pollUntil } from './helpers/poll.ts';
import { withPgClient } from './helpers/postgres.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(PROJECT_ROOT, 'test-artifacts', 'console');
const SECRET = `s3cret-console-${process.pid}-${Date.now()}`;
const STATIC_USER = `console_report_${process.pid}`;
const ROTATION = 'database/static-roles/report';
/** The audit result rows (the histogram's legend is a table too). */
const ROWS = 'table[aria-label="Audit entries"] tbody tr';

let b: Broker;
let target: Target;
let browser: Browser;
let auditorToken = '';
let operatorToken = '';
let deniedSeq = 0;
let certSerial = '';
let issuerAccessor = '';
let witnessVkey = '';
const approle = { roleId: '', secretId: '' };
const bodies: Promise<string>[] = [];
const pages: Page[] = [];

async function ok(method: string, p: string, body?: unknown, token?: string): Promise<{ json: unknown }> {
  const r = await api(b, method, p, { body, ...(token ? { token } : {}) });
  if (r.status >= 300) throw new Error(`${method} ${p}: ${r.status} ${r.text}`);
  return r;
}
const tokenFor = async (policy: string) =>
  ((await ok('POST', 'auth/token/create', { policies: [policy], display_name: policy })).json as { auth: { client_token: string } }).auth.client_token;

test.before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  target = await newTarget('console_readers');
  // Checkpoints every second (a witness cosigns one below); one failed revocation makes a lease irrevocable.
  b = await startBroker({
    databaseUrl: await target.cluster.createDatabase(),
    env: { SEALBOX_AUDIT_CHECKPOINT_SECONDS: '1', SEALBOX_LEASE_REVOKE_MAX_ATTEMPTS: '1' },
  });
  await mountDatabase(b, target, 'console_readers', { default_ttl: '1h', max_ttl: '2h' });
  // A role whose revocation always fails: its leases turn irrevocable.
  await ok('POST', 'database/roles/broken', { db_name: 'main', default_group: 'console_readers', default_ttl: '1h', max_ttl: '2h', revocation_statements: ['SELECT 1/0'] });
  // A role whose leases are expiring soon (10 minutes, under the console's 15).
  await ok('POST', 'database/roles/short', { db_name: 'main', default_group: 'console_readers', default_ttl: '10m', max_ttl: '10m' });
  await withPgClient(target.url, (c) => c.query(`CREATE ROLE ${STATIC_USER} LOGIN PASSWORD 'initial'`));
  await ok('POST', 'database/static-roles/report', { db_name: 'main', username: STATIC_USER, rotation_period: '24h' });
  await ok('POST', 'sys/policies/acl/auditor', {
    policy: [
      'path "sys/audit-log" { capabilities = ["read", "sudo"] }',
      'path "sys/audit-log/*" { capabilities = ["read", "sudo"] }',
      'path "sys/rotations" { capabilities = ["read"] }',
      'path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }',
      'path "sys/key-status" { capabilities = ["read"] }',
    ].join('\n'),
  });
  await ok('POST', 'sys/policies/acl/operator', {
    policy: [
      'path "sys/rotations" { capabilities = ["read"] }',
      'path "sys/rotations/*" { capabilities = ["read", "update", "sudo"] }',
      'path "sys/leases/revoke" { capabilities = ["update"] }',
      'path "sys/leases/revoke-prefix/*" { capabilities = ["update", "sudo"] }',
      'path "sys/leases/lookup/*" { capabilities = ["list", "sudo"] }',
      'path "sys/leases" { capabilities = ["read", "sudo"] }',
      'path "sys/leases/lookup" { capabilities = ["update"] }',
      'path "sys/key-status" { capabilities = ["read"] }',
      'path "auth/token/lookup-self" { capabilities = ["read"] }',
      'path "sys/mounts" { capabilities = ["read"] }',
      'path "sys/auth" { capabilities = ["read"] }',
      'path "pki/certs/" { capabilities = ["list"] }',
      'path "pki/cert/*" { capabilities = ["read"] }',
      'path "sys/audit-log/lineage" { capabilities = ["read", "sudo"] }',
    ].join('\n'),
  });
  await ok('POST', 'sys/policies/acl/issuer', { policy: 'path "pki/issue/svc" { capabilities = ["update"] }' });
  await ok('POST', 'sys/auth/approle', { type: 'approle' });
  await ok('POST', 'auth/approle/role/ops', { token_policies: ['operator'] });
  approle.roleId = ((await ok('GET', 'auth/approle/role/ops/role-id')).json as { data: { role_id: string } }).data.role_id;
  approle.secretId = ((await ok('POST', 'auth/approle/role/ops/secret-id')).json as { data: { secret_id: string } }).data.secret_id;
  auditorToken = await tokenFor('auditor');
  operatorToken = await tokenFor('operator');
  // A secret written and read, a denied read of it, and two database leases.
  await ok('POST', 'secret/data/app/db', { data: { password: SECRET } });
  await ok('GET', 'secret/data/app/db');
  const denied = await api(b, 'GET', 'secret/data/app/db', { token: auditorToken });
  if (denied.status !== 403) throw new Error(`expected a denial, got ${denied.status}`);
  await ok('GET', 'database/creds/app');
  await ok('GET', 'database/creds/app');
  // A PKI mount whose role leases its certificates; one certificate issued by a token of its own.
  await ok('POST', 'sys/mounts/pki', { type: 'pki' });
  await ok('POST', 'pki/root/generate/internal', { common_name: 'Console Test Root', ttl: '87600h' });
  await ok('POST', 'pki/roles/svc', { allowed_domains: ['example.com'], allow_subdomains: true, ttl: '1h', generate_lease: true });
  const issuer = ((await ok('POST', 'auth/token/create', { policies: ['issuer'], display_name: 'cert-issuer' })).json as { auth: { client_token: string; accessor: string } }).auth;
  issuerAccessor = issuer.accessor;
  certSerial = ((await ok('POST', 'pki/issue/svc', { common_name: 'web.example.com' }, issuer.client_token)).json as { data: { serial_number: string } }).data.serial_number;
  const search = await api(b, 'GET', 'sys/audit-log?path_prefix=secret/data/app&outcome=denied');
  deniedSeq = (search.json as { data: { entries: { seq: number }[] } }).data.entries[0]?.seq ?? -1;
  // A witness (sealbox audit witness -once) cosigns a signed checkpoint of this log.
  // The broker signs checkpoints on its own timer (no log line): re-checked at 250 ms beats as well as on its output.
  const asked = Date.now();
  await pollUntil('a signed checkpoint', async () => (await fetch(`${b.address}/v1/sys/audit-log/checkpoint`)).status === 200, {
    at: Array.from({ length: 120 }, (_, i) => asked + (i + 1) * 250),
  });
  const wdir = fs.mkdtempSync(path.join(os.tmpdir(), 'sealbox-console-witness-'));
  const logVkey = ((await api(b, 'GET', 'sys/audit-log/public-key', { token: null })).json as { data: { vkey: string } }).data.vkey;
  const wconfig = path.join(wdir, 'witness.json');
  fs.writeFileSync(
    wconfig,
    JSON.stringify({ logs: [b.address], log_vkey: logVkey, name: 'console.test/w1', key_file: path.join(wdir, 'key'), state_file: path.join(wdir, 'state.json'), token: b.rootToken, interval_seconds: 1, health_listen: '127.0.0.1:0' }),
  );
  const w = await runCli(b, ['audit', 'witness', '-config', wconfig, '-once']);
  if (w.code !== 0) throw new Error(`witness: ${w.stderr}`);
  witnessVkey = /"vkey":"([^"]+)"/.exec(w.stderr)?.[1] ?? '';
  if (!witnessVkey) throw new Error(`no witness vkey in ${w.stderr}`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});
test.after.always(async () => {
  await browser?.close();
  await b?.stop();
});

async function open(viewport: { width: number; height: number }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on('response', (r) => bodies.push(r.text().catch(() => '')));
  pages.push(page);
  return { context, page };
}

async function login(page: Page, token: string): Promise<void> {
  const res = await page.goto(`${b.address}/ui/`);
  if (!res) throw new Error('no response for /ui/');
  await page.getByRole('textbox', { name: 'Token' }).fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByTestId('who').waitFor();
}

const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

/** Every input and select on the page has a label (a <label for>, a wrapping label or aria-label). */
const unlabelled = (page: Page): Promise<string[]> =>
  page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
    .filter((el) => el.labels?.length === 0 && !el.getAttribute('aria-label'))
    .map((el) => el.outerHTML)`);

/** Tabs through the page and returns the visible controls that Tab never reached. */
async function unreachable(page: Page): Promise<string[]> {
  const total = await page.evaluate<number>(`(() => {
    const controls = [...document.querySelectorAll('a[href], button:not([disabled]), input, select, textarea, summary')].filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.height > 0 && !(el.type === 'radio' && !el.checked);
    });
    controls.forEach((el, i) => (el.dataset.k = String(i)));
    document.activeElement?.blur();
    return controls.length;
  })()`);
  const seen = new Set<string>();
  for (let i = 0; i < total + 10; i++) {
    await page.keyboard.press('Tab');
    const k = await page.evaluate<string | null>('document.activeElement?.dataset.k ?? null');
    if (k !== null) seen.add(k);
  }
  return page.evaluate<string[]>(
    `[...document.querySelectorAll('[data-k]')].filter((el) => !${JSON.stringify([...seen])}.includes(el.dataset.k)).map((el) => el.outerHTML.slice(0, 120))`,
  );
}

test.serial('the console is served with a strict CSP and no external origin', async (t) => {
  const r = await fetch(`${b.address}/ui/`);
  t.is(r.status, 200);
  const csp = r.headers.get('content-security-policy') ?? '';
  t.regex(csp, /default-src 'none'/);
  t.regex(csp, /script-src 'self'(;|$)/);
  t.notRegex(csp, /unsafe-inline|unsafe-eval|https?:/);
  const html = await r.text();
  t.notRegex(html, /https?:\/\//);
  t.is((await fetch(`${b.address}/ui/../package.json`)).status, 404);
  t.is((await fetch(`${b.address}/ui/%2e%2e%2fpackage.json`)).status, 404);
  t.is((await fetch(`${b.address}/ui/nope.js`)).status, 404);
  const js = await fetch(`${b.address}/ui/app.js`);
  t.is(js.status, 200);
  t.notRegex(await js.text(), /\bhttps?:\/\/(?!www\.w3\.org)[a-z]/i, 'the bundle names no external origin to load from');
});

test.serial('auditor: log in, search by path and outcome, open an entry, see the denial in the histogram, follow to lineage', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  const failures: string[] = [];
  page.on('response', (r) => {
    if (r.status() >= 400 && !r.url().includes('/v1/')) failures.push(`${r.status()} ${r.url()}`);
  });
  await login(page, auditorToken);
  t.regex(await page.getByTestId('who').innerText(), /auditor/);

  // Search by path and outcome.
  await page.getByLabel('Path prefix').fill('secret/data/app');
  await page.getByLabel('Outcome').selectOption('denied');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator(`tr[data-seq="${deniedSeq}"]`).waitFor();
  const outcomes = await page.locator(`${ROWS} td:nth-child(5)`).allInnerTexts();
  t.true(outcomes.length >= 1);
  t.true(outcomes.every((o) => o === 'denied'), outcomes.join(','));

  // The same path, every outcome: the denial is marked in the histogram.
  await page.getByLabel('Outcome').selectOption('');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator(ROWS).nth(2).waitFor();
  const fig = page.locator('figure.histogram');
  t.is(await fig.getAttribute('data-denied'), '1');
  t.true((await fig.locator('canvas').count()) > 0, 'the histogram is drawn');
  t.regex(await fig.locator('figcaption').innerText(), /1 denied/);
  await shot(page, 'audit-1280');

  // Export the current result: one JSON line per entry shown, in order.
  const shownSeqs = (await page.locator(ROWS).evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq'))))) as number[];
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export result' }).click()]);
  const exported = fs.readFileSync(await download.path(), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; path: string });
  t.deepEqual(exported.map((e) => e.seq), shownSeqs);
  t.true(exported.every((e) => e.path.startsWith('secret/data/app')));
  t.regex(download.suggestedFilename(), /^sealbox-audit-\d+-\d+\.jsonl$/);
  t.false(JSON.stringify(exported).includes(SECRET));

  // Open the denied entry.
  await page.getByRole('button', { name: `Open entry ${deniedSeq}` }).click();
  const json = await page.getByTestId('entry-json').innerText();
  t.regex(json, /"outcome": "denied"/);
  t.regex(json, /"path": "secret\/data\/app\/db"/);

  // Verify status, with the checkpoint and the witness's state.
  await page.getByRole('button', { name: 'Verify the log' }).click();
  t.regex(await page.getByTestId('verify').innerText(), /Verifies\s+yes/);
  t.is(await page.getByTestId('witnessed').innerText(), 'no witness key given');
  t.regex(await page.getByTestId('checkpoint').innerText(), /size [1-9]\d*, signed by \S+/);
  await page.getByLabel(/Witness keys/).fill(witnessVkey);
  await page.getByRole('button', { name: 'Verify the log' }).click();
  t.regex(await page.getByTestId('verify').innerText(), /Verifies\s+yes/);
  t.regex(await page.getByTestId('witnessed').innerText(), /^console\.test\/w1: [1-9]\d*$/);
  await page.getByLabel(/Witness keys/).fill('');

  // A database credential's issue entry, followed to its lineage.
  await page.getByLabel('Path prefix').fill('database/creds/app');
  await page.getByLabel('Outcome').selectOption('success');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator(ROWS).first().waitFor();
  await page.locator(ROWS).first().getByRole('button').click();
  await page.getByRole('link', { name: 'Follow to lineage' }).click();
  const cred = page.getByTestId('lineage-credential');
  await cred.waitFor();
  t.regex(await cred.innerText(), /dynamic database\/creds\/app/);
  t.regex(await page.getByTestId('lineage-lease').innerText(), /database\/creds\/app\/\S+/);
  t.regex(await page.getByTestId('lineage-token').innerText(), /root/);
  await shot(page, 'lineage-1280');
  t.deepEqual(failures, []);
});

test.serial('auditor: the operations page shows no button the auditor could not use', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  await login(page, auditorToken);
  await page.getByRole('link', { name: 'Operations' }).click();
  await page.locator(`tr[data-rotation="${ROTATION}"]`).waitFor();
  await page.getByLabel(/Lease prefix/).fill('database/creds/app/');
  await page.getByRole('button', { name: 'List leases' }).click();
  await page.locator('li[data-lease]').nth(1).waitFor();
  for (const name of ['Run now', 'Pause', 'Resume', 'History', 'Revoke', 'Revoke prefix']) {
    t.is(await page.getByRole('button', { name, exact: true }).count(), 0, name);
  }
  await shot(page, 'operations-auditor-1280');
});

test.serial('operator: runs a rotation and revokes a lease from the console; the API shows both', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  const runs = async () => ((await ok('GET', `sys/rotations/${ROTATION}/history`)).json as { data: { runs: { run_id: string; kind: string; status: string; steps: { step: string; at: string }[] }[] } }).data.runs;
  const manualBefore = (await runs()).filter((r) => r.kind === 'manual').length;
  // The operator logs in through AppRole.
  await page.goto(`${b.address}/ui/`);
  await page.getByRole('radio', { name: 'AppRole' }).check();
  await page.getByLabel('Role ID').fill(approle.roleId);
  await page.getByLabel('Secret ID').fill(approle.secretId);
  await page.getByRole('button', { name: 'Log in' }).click();
  t.regex(await page.getByTestId('who').innerText(), /operator/);
  await page.getByRole('link', { name: 'Operations' }).click();
  const row = page.locator(`tr[data-rotation="${ROTATION}"]`);
  await row.getByRole('button', { name: 'Run now' }).click();
  await page.getByTestId('status').filter({ hasText: `rotated ${ROTATION}` }).waitFor();
  const after = await runs();
  t.is(after.filter((r) => r.kind === 'manual' && r.status === 'ok').length, manualBefore + 1);
  await row.getByRole('button', { name: 'History' }).click();
  const historyRows = page.getByRole('table', { name: `Runs of ${ROTATION}` }).locator('tbody tr');
  await historyRows.first().waitFor();
  t.true((await historyRows.count()) >= 2, `${await historyRows.count()} runs shown`);
  t.regex(await historyRows.first().innerText(), /manual/);
  // The run just made shows each step it went through, in order, with its time.
  const newest = after.find((r) => r.kind === 'manual' && r.status === 'ok');
  const steps = historyRows.first().getByRole('list', { name: `Steps of run ${newest?.run_id ?? ''}` }).getByRole('listitem');
  t.deepEqual(
    (await steps.allInnerTexts()).map((x) => x.replace(/^→\s*/, '').trim()),
    (newest?.steps ?? []).map((x) => `${x.step} ${x.at.slice(11, 19)}`),
  );
  t.true((await steps.count()) >= 4, 'create, set, test and finish at least');
  t.is(await steps.first().locator('time').getAttribute('datetime'), newest?.steps[0]?.at ?? null);

  // Pause and resume: the API shows each.
  const paused = async () => ((await ok('GET', `sys/rotations/${ROTATION}`)).json as { data: { paused: boolean } }).data.paused;
  await row.getByRole('button', { name: 'Pause', exact: true }).click();
  await page.getByTestId('status').filter({ hasText: `paused ${ROTATION}` }).waitFor();
  t.true(await paused());
  await row.getByRole('button', { name: 'Resume', exact: true }).waitFor();
  t.regex(await row.innerText(), /paused/);
  await row.getByRole('button', { name: 'Resume', exact: true }).click();
  await page.getByTestId('status').filter({ hasText: `resumed ${ROTATION}` }).waitFor();
  t.false(await paused());
  await row.getByRole('button', { name: 'Pause', exact: true }).waitFor();

  await page.getByLabel(/Lease prefix/).fill('database/creds/app/');
  await page.getByRole('button', { name: 'List leases' }).click();
  const first = page.locator('li[data-lease]').first();
  await first.waitFor();
  const leaseId = (await first.getAttribute('data-lease')) ?? '';
  // The list shows first; the time left on each lease follows from one lookup per lease.
  const summary = page.getByTestId('lease-summary').filter({ hasText: 'expiring within' });
  await summary.waitFor();
  t.regex(await summary.innerText(), /^2 leases under database\/creds\/app\/, 0 expiring within 15 minutes$/);
  t.regex(await first.innerText(), /expires in (59|60) min/);
  t.is((await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: leaseId } })).status, 200, leaseId);
  await first.getByRole('button', { name: 'Revoke' }).click();
  await shot(page, 'operations-confirm-1280');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByTestId('status').filter({ hasText: 'Revoked lease' }).waitFor();
  const gone = await api(b, 'PUT', 'sys/leases/lookup', { body: { lease_id: leaseId } });
  t.true(gone.status >= 400 && gone.status < 500, `lookup after revoke: ${gone.status}`);
  t.is(await page.locator(`li[data-lease="${leaseId}"]`).count(), 0);
  await shot(page, 'operations-operator-1280');
  // A lease in the list leads to its lineage.
  const other = page.locator('li[data-lease]').first();
  const otherId = (await other.getAttribute('data-lease')) ?? '';
  t.not(otherId, leaseId);
  await other.getByRole('link', { name: 'Lineage' }).click();
  t.regex(await page.getByTestId('lineage-lease').innerText(), new RegExp(`Lease ${otherId.replace(/[/]/g, '\\/')}`));
  t.regex(await page.getByTestId('lineage-credential').innerText(), /dynamic database\/creds\/app/);
  // Every console action went through the API with the operator's token: the audit log says so.
  const entries = ((await ok('GET', 'sys/audit-log?path_prefix=sys/leases/revoke&outcome=success')).json as { data: { entries: { policies: string[] }[] } }).data.entries;
  t.true(entries.some((e) => e.policies.includes('operator')), JSON.stringify(entries.map((e) => e.policies)));
});

test.serial('operator: the certificate list links each certificate to its lineage, which names the issuing token', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  await login(page, operatorToken);
  await page.getByRole('link', { name: 'Certificates' }).click();
  const row = page.locator(`tr[data-serial="${certSerial}"]`);
  await row.waitFor();
  t.regex(await row.innerText(), /CN=web\.example\.com/);
  t.regex(await row.innerText(), /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/);
  t.regex(await row.locator('td').nth(3).innerText(), /^no$/);
  await shot(page, 'certificates-1280');
  await row.getByRole('link', { name: `Lineage of ${certSerial}` }).click();
  const cred = page.getByTestId('lineage-credential');
  await cred.waitFor();
  t.regex(await cred.innerText(), /pki/);
  // The issuing token is the last token step (its parent chain, root here, comes before it).
  const token = await page.getByTestId('lineage-token').last().innerText();
  t.true(token.includes(issuerAccessor), token);
  t.regex(token, /cert-issuer/);
  t.regex(token, /issuer/);
  await shot(page, 'certificate-lineage-1280');
});

test.serial('auditor: no certificates page without list on a PKI mount', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  await login(page, auditorToken);
  await page.getByRole('link', { name: 'Operations' }).click();
  await page.locator(`tr[data-rotation="${ROTATION}"]`).waitFor();
  t.is(await page.getByRole('link', { name: 'Certificates' }).count(), 0);
  t.is(await page.getByRole('table', { name: 'Leases by mount' }).count(), 0);
});

test.serial('a token without sudo on the audit paths is offered neither the Audit nor the Lineage page', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  await login(page, await tokenFor('default'));
  const links = await page.getByRole('navigation', { name: 'Pages' }).getByRole('link').allInnerTexts();
  t.deepEqual(links, ['Operations']);
  // Asked for by address, the Lineage page is not shown either: the first page the token may use is.
  await page.evaluate('window.location.hash = "#/lineage?username=x"');
  await page.getByRole('heading', { level: 1, name: 'Operations' }).waitFor();
  t.is(await page.getByRole('form', { name: "Ask for a credential's lineage" }).count(), 0);
});

test.serial('operator: leases by mount count what the API lists, and revoke-prefix from the table empties the mount', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  // Two more leased certificates (three on pki/) and one more database credential.
  await ok('POST', 'pki/issue/svc', { common_name: 'a.example.com' });
  await ok('POST', 'pki/issue/svc', { common_name: 'b.example.com' });
  await ok('GET', 'database/creds/app');
  // A lease whose revocation fails: irrevocable after one attempt (SEALBOX_LEASE_REVOKE_MAX_ATTEMPTS=1).
  await ok('GET', 'database/creds/short');
  const brokenLease = ((await ok('GET', 'database/creds/broken')).json as { lease_id: string }).lease_id;
  const failedRevoke = await api(b, 'PUT', 'sys/leases/revoke', { body: { lease_id: brokenLease } });
  t.true(failedRevoke.status >= 500, `revoke of the broken lease: ${failedRevoke.status}`);
  const irrevocableIds = ((await ok('GET', 'sys/leases?type=irrevocable')).json as { data: { leases: { lease_id: string }[] } }).data.leases.map((l) => l.lease_id);
  t.deepEqual(irrevocableIds, [brokenLease]);
  const listed = async (prefix: string): Promise<number> => {
    const r = await api(b, 'GET', `sys/leases/lookup/${prefix}?list=true`);
    if (r.status === 404) return 0;
    const keys = (r.json as { data: { keys: string[] } }).data.keys;
    let n = 0;
    for (const k of keys) n += k.endsWith('/') ? await listed(`${prefix}${k}`) : 1;
    return n;
  };
  t.is(await listed('pki/'), 3);
  const dbCount = await listed('database/');
  t.true(dbCount >= 2, `${dbCount} database leases`);
  await login(page, operatorToken);
  await page.getByRole('link', { name: 'Operations' }).click();
  const pki = page.locator('tr[data-mount="pki/"]');
  await pki.waitFor();
  t.is(await pki.locator('td[data-col="count"]').innerText(), '3');
  t.is(await pki.locator('td[data-col="soon"]').innerText(), '0');
  t.is(await pki.locator('td[data-col="irrevocable"]').innerText(), '0');
  t.is(await page.locator('tr[data-mount="database/"] td[data-col="count"]').innerText(), String(dbCount));
  t.is(await page.locator('tr[data-mount="database/"] td[data-col="irrevocable"]').innerText(), '1');
  t.is(await page.locator('tr[data-mount="database/"] td[data-col="soon"]').innerText(), '1', 'the 10-minute lease expires soon');
  t.is(await page.getByTestId('lease-count').innerText(), `1 irrevocable leases: ${brokenLease}`);
  t.is(await page.locator('tr[data-mount="secret/"]').count(), 0, 'kv issues no leases');
  await pki.getByRole('button', { name: 'Revoke every lease under pki/' }).click();
  await page.getByRole('dialog').getByText('Revoke every lease under pki/?').waitFor();
  await shot(page, 'operations-revoke-prefix-confirm-1280');
  await page.getByRole('button', { name: 'Confirm' }).click();
  await page.getByTestId('status').filter({ hasText: 'Revoked every lease under pki/' }).waitFor();
  await page.locator('tr[data-mount="pki/"] td[data-col="count"]', { hasText: /^0$/ }).waitFor();
  t.is(await listed('pki/'), 0, 'the API lists no lease under pki/');
  t.is(await listed('database/'), dbCount, 'the other mounts keep theirs');
  t.is(await pki.getByRole('button', { name: 'Revoke every lease under pki/' }).count(), 0);
  // The revoked certificates show as revoked in the certificate list.
  const revoked = ((await ok('GET', `pki/cert/${certSerial}`)).json as { data: { revocation_time: number } }).data.revocation_time;
  t.true(revoked > 0, 'revoking the lease revoked the certificate');
  await shot(page, 'operations-by-mount-1280');
});

test.serial('operator: seal status and the keyring term with rewrap progress, after a keyring rotation', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  const before = ((await ok('GET', 'sys/key-status')).json as { data: { term: number } }).data.term;
  await ok('POST', 'sys/rotate');
  const k = ((await ok('GET', 'sys/key-status')).json as { data: { term: number; rewrap?: unknown } }).data;
  t.is(k.term, before + 1);
  await login(page, operatorToken);
  await page.getByRole('link', { name: 'Operations' }).click();
  const seal = page.getByTestId('seal');
  await seal.filter({ hasText: 'Keyring term' }).waitFor();
  const text = await seal.innerText();
  t.regex(text, /Sealed\s+false/);
  t.regex(text, new RegExp(`Keyring term\\s+${before + 1}\\b`));
  t.truthy(k.rewrap, 'sys/key-status reports rewrap progress');
  t.regex(text, /Rewrap progress\s+\d+ done, \d+ pending; old terms in use \[[\d,]*\]/);
  await shot(page, 'operations-seal-1280');
});

test.serial('keyboard reaches every control, every input is labelled, and the pages work at 390×844', async (t) => {
  for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    const { context, page } = await open(viewport);
    await page.goto(`${b.address}/ui/`);
    t.deepEqual(await unlabelled(page), [], 'login page');
    await login(page, operatorToken);
    // The operator's policy has no sudo on sys/audit-log: no Audit page is offered, and #/audit opens the first it may use.
    t.is(await page.getByRole('link', { name: 'Audit' }).count(), 0);
    t.is(await page.getByRole('heading', { level: 1 }).innerText(), 'Lineage');
    for (const name of ['Lineage', 'Operations', 'Certificates']) {
      await page.getByRole('link', { name }).click();
      await page.getByRole('heading', { level: 1 }).waitFor();
      if (name === 'Operations') await page.locator(`tr[data-rotation="${ROTATION}"]`).waitFor();
      if (name === 'Operations') await page.locator('tr[data-mount="pki/"]').waitFor();
      if (name === 'Certificates') await page.locator('tr[data-serial]').first().waitFor();
      t.deepEqual(await unlabelled(page), [], `${name} at ${viewport.width}`);
      t.deepEqual(await unreachable(page), [], `${name} at ${viewport.width}: controls Tab never reached`);
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      t.true(overflow <= 1, `${name} at ${viewport.width} is ${overflow}px wider than the window`);
      await shot(page, `operator-${name.toLowerCase()}-${viewport.width}`);
    }
    // Enter on a focused link follows it (navigation by keyboard alone).
    await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Lineage' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Lineage' }).waitFor();

    // The same checks with the pages filled in: a rotation's history and a lease list, then (as the auditor) a
    // search result with an entry open and the log verified, and a lineage answer.
    const check = async (p: Page, what: string) => {
      t.deepEqual(await unlabelled(p), [], `${what} at ${viewport.width}`);
      t.deepEqual(await unreachable(p), [], `${what} at ${viewport.width}: controls Tab never reached`);
      const overflow = await p.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
      t.true(overflow <= 1, `${what} at ${viewport.width} is ${overflow}px wider than the window`);
    };
    await page.getByRole('link', { name: 'Operations' }).click();
    const rot = page.locator(`tr[data-rotation="${ROTATION}"]`);
    await rot.getByRole('button', { name: 'History' }).click();
    await page.getByRole('table', { name: `Runs of ${ROTATION}` }).locator('tbody tr').first().waitFor();
    await page.getByLabel(/Lease prefix/).fill('database/creds/app/');
    await page.getByRole('button', { name: 'List leases' }).click();
    await page.locator('li[data-lease]').first().waitFor();
    await check(page, 'Operations with history and leases');
    await shot(page, `operator-operations-filled-${viewport.width}`);
    await context.close();

    const { context: c2, page: p2 } = await open(viewport);
    await login(p2, auditorToken);
    await p2.getByLabel('Path prefix').fill('database/creds/app');
    await p2.getByLabel('Outcome').selectOption('success');
    await p2.getByRole('button', { name: 'Search' }).click();
    await p2.locator(ROWS).first().waitFor();
    await p2.locator(ROWS).first().getByRole('button').click();
    await p2.getByRole('button', { name: 'Verify the log' }).click();
    await p2.getByTestId('verify').waitFor();
    await check(p2, 'Audit with a result');
    await shot(p2, `auditor-audit-filled-${viewport.width}`);
    await p2.getByRole('link', { name: 'Follow to lineage' }).click();
    await p2.getByTestId('lineage-credential').waitFor();
    await check(p2, 'Lineage with an answer');
    await shot(p2, `auditor-lineage-filled-${viewport.width}`);
    await c2.close();
  }
});

test.serial('the secret appears in no page and no network response, and the token is in no web storage', async (t) => {
  const { context, page } = await open({ width: 1280, height: 800 });
  t.teardown(() => context.close());
  await login(page, auditorToken);
  await page.getByLabel('Path prefix').fill('secret/');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator(ROWS).nth(1).waitFor();
  for (const row of await page.locator(`${ROWS} button`).all()) await row.click();
  t.false((await page.content()).includes(SECRET));
  const storage = await page.evaluate<string>('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie');
  t.false(storage.includes(auditorToken));
  t.deepEqual(await context.cookies(), []);
  const texts = await Promise.all(bodies);
  t.true(texts.length > 20, `${texts.length} responses seen`);
  t.false(texts.some((x) => x.includes(SECRET)), 'a network response carried the secret');
  for (const p of pages) if (!p.isClosed()) t.false((await p.content()).includes(SECRET));
});
