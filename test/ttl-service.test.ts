/**
 * One TTL service (issue 16 item 5): the lease manager, the PKI engine and the database engine ask the same
 * answer, so SEALBOX_LEASE_MAX_TTL=1h caps a certificate of a role without max_ttl and a database user's
 * VALID UNTIL, not only the lease. The app runs in-process (PGlite); the database target is a real PostgreSQL.
 */
import test from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { buildApp, type App } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createTtlPolicy } from '../src/core/leases/ttl-policy.ts';
import { systemClock } from '../src/lib/clock.ts';
import { createLogger } from '../src/lib/log.ts';
import { systemRandom } from '../src/lib/random.ts';
import { newTarget } from './helpers/pg-target.ts';
import { stopPostgres, withPgClient } from './helpers/postgres.ts';

const HOUR = 3600;

test('the TTL service: the mount under the broker, the engine under the mount', (t) => {
  const policy = createTtlPolicy({ defaultTtl: 2 * HOUR, maxTtl: HOUR });
  const bare = policy.forMount({ config: {} });
  t.is(bare.maxTtl(), HOUR);
  t.is(bare.defaultTtl(), HOUR, 'a default above the maximum is cut to it');
  t.deepEqual(bare.resolve({ ttl: 0, maxTtl: 0 }), { ttl: HOUR, maxTtl: HOUR, warnings: ['TTL of "7200s" exceeded the effective max_ttl of "3600s"; TTL value is capped accordingly'] });
  const tuned = policy.forMount({ config: { default_lease_ttl: 600, max_lease_ttl: 10 * HOUR } });
  t.is(tuned.maxTtl(), 10 * HOUR, 'a tuned mount maximum replaces the broker one (Vault: SystemView.MaxLeaseTTL)');
  t.is(tuned.defaultTtl(), 600);
  t.deepEqual(tuned.resolve({ ttl: 300, maxTtl: 900 }), { ttl: 300, maxTtl: 900, warnings: [] });
  t.is(tuned.resolve({ ttl: 5 * HOUR, maxTtl: 0 }).ttl, 5 * HOUR);
  t.is(tuned.resolve({ ttl: 20 * HOUR, maxTtl: 0 }).ttl, 10 * HOUR);
});

interface Running {
  app: App;
  server: Server;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; json: { data?: Record<string, unknown>; warnings?: string[]; lease_duration?: number; errors?: string[] } }>;
}

async function start(t: { teardown(fn: () => Promise<void>): void }): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-ttl-'));
  const config = loadConfig(['--dev', '--data', dir], { SEALBOX_LEASE_MAX_TTL: '1h' });
  const app = await buildApp({ config, log: createLogger({ level: 'silent' }), clock: systemClock, random: systemRandom });
  const server = createServer(app.http.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await app.close();
    await rm(dir, { recursive: true, force: true });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
  return {
    app,
    server,
    async call(method, path, body) {
      const res = await fetch(base + path, {
        method,
        headers: { 'X-Vault-Token': app.dev?.rootToken ?? '', 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, json: text ? JSON.parse(text) : {} };
    },
  };
}

test.after.always(stopPostgres);

test('SEALBOX_LEASE_MAX_TTL=1h: a PKI role without max_ttl signs certificates valid at most 1h', async (t) => {
  const { call } = await start(t);
  t.is((await call('POST', 'sys/mounts/pki', { type: 'pki' })).status, 204);
  const root = await call('POST', 'pki/root/generate/internal', { common_name: 'TTL Root', ttl: '87600h' });
  t.is(root.status, 200, JSON.stringify(root.json));
  const role = await call('POST', 'pki/roles/web', { allowed_domains: 'example.com', allow_subdomains: true });
  t.true(role.status === 200 || role.status === 204, JSON.stringify(role.json));
  for (const body of [{ common_name: 'a.example.com', ttl: '10h' }, { common_name: 'b.example.com' }]) {
    const issued = await call('POST', 'pki/issue/web', body);
    t.is(issued.status, 200, JSON.stringify(issued.json));
    const cert = new X509Certificate(String(issued.json.data?.certificate));
    const seconds = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 1000;
    // notBefore is backdated 30 s (Vault's not_before_duration); the lifetime from now is at most 1h.
    t.true(Date.parse(cert.validTo) <= Date.now() + HOUR * 1000, `${body.common_name}: valid to ${cert.validTo}`);
    t.true(seconds <= HOUR + 30, `${body.common_name}: ${seconds} s`);
  }
  const warned = await call('POST', 'pki/issue/web', { common_name: 'c.example.com', ttl: '10h' });
  t.true((warned.json.warnings ?? []).some((w) => w.includes('maxTTL')), JSON.stringify(warned.json.warnings));
});

test('SEALBOX_LEASE_MAX_TTL=1h: a database role without TTLs gets a 1h lease and a VALID UNTIL within it', async (t) => {
  const group = 'ttl_readers';
  const target = await newTarget(group);
  const { call } = await start(t);
  t.is((await call('POST', 'sys/mounts/database', { type: 'database' })).status, 204);
  const cfg = await call('POST', 'database/config/main', { plugin_name: 'postgresql-database-plugin', connection_url: target.url, allowed_roles: 'app' });
  t.is(cfg.status, 204, JSON.stringify(cfg.json));
  t.is((await call('POST', 'database/roles/app', { db_name: 'main', default_group: group })).status, 204);
  const before = Date.now();
  const creds = await call('GET', 'database/creds/app');
  t.is(creds.status, 200, JSON.stringify(creds.json));
  t.is(creds.json.lease_duration, HOUR);
  const username = String(creds.json.data?.username);
  const until = await withPgClient(target.url, async (c) => (await c.query<{ u: Date }>('SELECT rolvaliduntil AS u FROM pg_roles WHERE rolname = $1', [username])).rows[0]?.u);
  t.truthy(until);
  const seconds = ((until?.getTime() ?? 0) - before) / 1000;
  t.true(seconds > HOUR - 60 && seconds <= HOUR + 1, `VALID UNTIL ${until?.toISOString()} is ${seconds} s away`);
});
