// What Vault's own clients (the `vault` CLI, its Go API package, load balancers) send and expect, beyond node-vault.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { startApp, type InProcessBroker as Broker } from './helpers/app.ts';
import { api } from './helpers/broker.ts';

let b: Broker;
test.before(async () => {
  b = await startApp();
});
test.after.always(async () => {
  await b?.stop();
});

const errorsOf = (json: unknown): string[] => {
  const e = (json as { errors?: unknown } | undefined)?.errors;
  return Array.isArray(e) ? e.map(String) : [];
};

/** A non-root token with only the default policy. */
async function defaultToken(): Promise<string> {
  const r = await api(b, 'POST', 'auth/token/create', { body: { policies: [], ttl: '1h' } });
  if (r.status !== 200) throw new Error(`token create failed: ${r.text}`);
  return (r.json as { auth: { client_token: string } }).auth.client_token;
}

test('durations longer than 10 years are a 400 naming the field, and KV writes keep working', async (t) => {
  for (const [path, body, field] of [
    ['secret/config', { delete_version_after: '99999999999999d' }, 'delete_version_after'],
    ['secret/config', { delete_version_after: 315_360_001 }, 'delete_version_after'],
    ['secret/metadata/long', { delete_version_after: '9'.repeat(400) }, 'delete_version_after'],
    ['auth/token/create', { period: '30000d' }, 'period'],
    ['auth/token/create', { ttl: 1e300 }, 'ttl'],
  ] as const) {
    const r = await api(b, 'POST', path, { body });
    t.is(r.status, 400, `${path} ${JSON.stringify(body)}: ${r.text}`);
    t.regex(errorsOf(r.json).join(' '), new RegExp(`${field}: must be at most 10 years`));
  }
  // Exactly 10 years is fine.
  t.is((await api(b, 'POST', 'secret/config', { body: { delete_version_after: '87600h' } })).status, 204);
  t.like((await api(b, 'GET', 'secret/config')).json as object, { data: { delete_version_after: '87600h0m0s' } });
  const w = await api(b, 'POST', 'secret/data/long', { body: { data: { v: 1 } } });
  t.is(w.status, 200, w.text);
  t.is((await api(b, 'POST', 'secret/config', { body: { delete_version_after: 0 } })).status, 204);
});

test('vault operator init: the Go client’s empty pgp_keys/root_token_pgp_key and recovery fields are accepted; real PGP keys are refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sealbox-prod-'));
  const configFile = join(dir, 'config.json');
  await writeFile(configFile, JSON.stringify({ listen: '127.0.0.1:0', data_dir: dir, seal: { type: 'shamir' } }));
  const p = await startApp({ configFile, dataDir: dir });
  t.teardown(() => p.stop());

  const goClientBody = {
    secret_shares: 3,
    secret_threshold: 2,
    stored_shares: 0,
    pgp_keys: null,
    recovery_shares: 0,
    recovery_threshold: 0,
    recovery_pgp_keys: null,
    root_token_pgp_key: '',
  };
  for (const extra of [{ pgp_keys: ['mQENBF...'] }, { root_token_pgp_key: 'mQENBF...' }, { recovery_pgp_keys: ['mQENBF...'] }]) {
    const r = await api(p, 'PUT', 'sys/init', { token: null, body: { ...goClientBody, ...extra } });
    t.is(r.status, 400, JSON.stringify(extra));
    t.deepEqual(errorsOf(r.json), ['PGP-encrypted key shares are not supported']);
  }
  t.is((await api(p, 'GET', 'sys/init', { token: null })).text, '{"initialized":false}');

  const init = await api(p, 'PUT', 'sys/init', { token: null, body: goClientBody });
  t.is(init.status, 200, init.text);
  const { keys } = init.json as { keys: string[] };
  t.is(keys.length, 3);
  t.like((await api(p, 'GET', 'sys/seal-status', { token: null })).json as object, { initialized: true, sealed: true, t: 2, n: 3 });
});

test('sys/internal/ui/mounts/*path tells a token the mount and KV version of a path it has some capability on (vault kv preflight)', async (t) => {
  t.is((await api(b, 'PUT', 'sys/policies/acl/app-reader', { body: { policy: 'path "secret/data/app/*" { capabilities = ["read"] }' } })).status, 204);
  const created = await api(b, 'POST', 'auth/token/create', { body: { policies: ['app-reader'], ttl: '1h' } });
  const token = (created.json as { auth: { client_token: string } }).auth.client_token;
  const r = await api(b, 'GET', 'sys/internal/ui/mounts/secret/app/db', { token });
  t.is(r.status, 200, r.text);
  const data = (r.json as { data: Record<string, unknown> }).data;
  t.like(data, { path: 'secret/', type: 'kv', options: { version: '2' }, config: { default_lease_ttl: 0, max_lease_ttl: 0 } });
  t.is(typeof data.accessor, 'string');
  t.is(typeof data.description, 'string');

  t.like((await api(b, 'GET', 'sys/internal/ui/mounts/secret', { token })).json as object, { data: { path: 'secret/' } });
  // The default policy has capabilities under auth/token/ (lookup-self …), none under secret/.
  const plain = await defaultToken();
  t.like((await api(b, 'GET', 'sys/internal/ui/mounts/auth/token/lookup-self', { token: plain })).json as object, {
    data: { path: 'auth/token/', type: 'token' },
  });
  const hidden = await api(b, 'GET', 'sys/internal/ui/mounts/secret/app/db', { token: plain });
  const none = await api(b, 'GET', 'sys/internal/ui/mounts/no-such-mount/x', { token });
  // Out of reach and nonexistent look the same: the mount table cannot be mapped through this path.
  t.is(hidden.status, 403);
  t.is(none.status, 403);
  t.deepEqual(none.json, hidden.json);

  t.is((await api(b, 'GET', 'sys/internal/ui/mounts/secret/x', { token: null })).status, 403);
  t.is((await api(b, 'GET', 'sys/internal/ui/mounts/secret/x', { token: 'not-a-token' })).status, 403);
  // The default policy grants this path only: the same token still cannot read the secret itself.
  t.is((await api(b, 'GET', 'secret/data/long', { token: plain })).status, 403);
});

test('sys/leader answers without a token, un-enveloped; HEAD sys/health answers with the status and no body', async (t) => {
  const r = await api(b, 'GET', 'sys/leader', { token: null });
  t.is(r.status, 200);
  t.deepEqual(r.json, {
    ha_enabled: false,
    is_self: true,
    leader_address: '',
    leader_cluster_address: '',
    performance_standby: false,
    raft_committed_index: 0,
  });

  const head = await api(b, 'HEAD', 'sys/health', { token: null });
  t.is(head.status, 200);
  t.is(head.text, '');
  const sealedCode = await api(b, 'HEAD', 'sys/health?activecode=299', { token: null });
  t.is(sealedCode.status, 299);
});

test('NUL and lone surrogates in stored strings are a 400, never a 500, and change nothing', async (t) => {
  const storageError = 'input contains a value the database cannot store (NUL or invalid Unicode, or out of range)';
  // Token endpoints may refuse these earlier with their own message; any clear 400 will do.
  for (const body of [{ accessor: 'a\u0000b' }, { accessor: 'a\ud800b' }]) {
    const r = await api(b, 'POST', 'auth/token/lookup-accessor', { body });
    t.is(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    t.true(errorsOf(r.json).length > 0);
  }
  const named = await api(b, 'POST', 'auth/token/create', { body: { display_name: 'a\u0000', ttl: '1h' } });
  t.is(named.status, 400, named.text);
  t.true(errorsOf(named.json).length > 0);

  for (const body of [
    { type: 'kv', description: 'x\u0000y', options: { version: '2' } },
    { type: 'kv', config: { audit_non_hmac_request_keys: ['a\u0000'] } },
    { type: 'kv', config: { audit_non_hmac_request_keys: ['a\ud800'] } },
  ]) {
    const r = await api(b, 'POST', 'sys/mounts/zz', { body });
    t.is(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    t.deepEqual(errorsOf(r.json), [storageError]);
  }
  t.is((await api(b, 'GET', 'sys/mounts/zz')).status, 404, 'no mount was created');
  // The storage is still usable after the refused statements.
  t.is((await api(b, 'POST', 'sys/mounts/zz', { body: { type: 'kv', description: 'ok' } })).status, 204);
  t.is((await api(b, 'DELETE', 'sys/mounts/zz')).status, 204);
  t.false(b.logs().includes('unhandled error'));
});

test('mount config: the vault CLI’s "0s" strings are stored as integer seconds; bad values are 400s; tune reads and updates it', async (t) => {
  const cliConfig = { default_lease_ttl: '0s', max_lease_ttl: '0s', options: null, force_no_cache: false, token_type: '', unknown_key: 1 };
  const enable = await api(b, 'POST', 'sys/mounts/kvc', {
    body: { type: 'kv', description: '', config: cliConfig, local: false, seal_wrap: false, external_entropy_access: false, options: { version: '2' } },
  });
  t.is(enable.status, 204, enable.text);
  t.teardown(async () => void (await api(b, 'DELETE', 'sys/mounts/kvc')));
  const read = (await api(b, 'GET', 'sys/mounts/kvc')).json as { data: { config: unknown } };
  t.deepEqual(read.data.config, { default_lease_ttl: 0, max_lease_ttl: 0, force_no_cache: false });

  const lists = await api(b, 'POST', 'sys/mounts/kvd', {
    body: {
      type: 'kv',
      config: { default_lease_ttl: '1h', max_lease_ttl: 86400, audit_non_hmac_request_keys: 'a, b,a', allowed_response_headers: ['X-One'], listing_visibility: 'unauth' },
    },
  });
  t.is(lists.status, 204, lists.text);
  t.teardown(async () => void (await api(b, 'DELETE', 'sys/mounts/kvd')));
  const all = (await api(b, 'GET', 'sys/mounts')).json as { data: Record<string, { config: unknown }> };
  t.deepEqual(all.data['kvd/']?.config, {
    default_lease_ttl: 3600,
    max_lease_ttl: 86400,
    force_no_cache: false,
    audit_non_hmac_request_keys: ['a', 'b'],
    allowed_response_headers: ['X-One'],
    listing_visibility: 'unauth',
  });

  for (const [config, message] of [
    [{ default_lease_ttl: 'soon' }, /config\.default_lease_ttl/],
    [{ max_lease_ttl: '99999999d' }, /config\.max_lease_ttl: must be at most 10 years/],
    [{ default_lease_ttl: '2h', max_lease_ttl: '1h' }, /default_lease_ttl: must not be longer than max_lease_ttl/],
    [{ listing_visibility: 'public' }, /config\.listing_visibility/],
    ['0s', /config/],
  ] as const) {
    const r = await api(b, 'POST', 'sys/mounts/kve', { body: { type: 'kv', config } });
    t.is(r.status, 400, JSON.stringify(config));
    t.regex(errorsOf(r.json).join(' '), message);
  }
  t.is((await api(b, 'GET', 'sys/mounts/kve')).status, 404);

  // Tune: the Go client sends every field; "" leaves a TTL as it is.
  const tune = await api(b, 'POST', 'sys/mounts/kvd/tune', {
    body: { default_lease_ttl: '2h', max_lease_ttl: '', description: 'tuned', options: null, force_no_cache: false, audit_non_hmac_request_keys: [] },
  });
  t.is(tune.status, 204, tune.text);
  const tuned = await api(b, 'GET', 'sys/mounts/kvd/tune');
  t.is(tuned.status, 200);
  t.deepEqual((tuned.json as { data: unknown }).data, {
    description: 'tuned',
    options: { version: '2' },
    default_lease_ttl: 7200,
    max_lease_ttl: 86400,
    force_no_cache: false,
    allowed_response_headers: ['X-One'],
    listing_visibility: 'unauth',
  });
  t.like((await api(b, 'GET', 'sys/mounts/kvd')).json as object, { data: { description: 'tuned', config: { default_lease_ttl: 7200 } } });
  t.is((await api(b, 'POST', 'sys/mounts/kvd/tune', { body: { default_lease_ttl: 'system' } })).status, 204);
  t.like((await api(b, 'GET', 'sys/mounts/kvd/tune')).json as object, { data: { default_lease_ttl: 0, max_lease_ttl: 86400 } });
  t.is((await api(b, 'POST', 'sys/mounts/kvd/tune', { body: { default_lease_ttl: '1h', max_lease_ttl: '10m' } })).status, 400, 'max below default');
  t.is((await api(b, 'POST', 'sys/mounts/kvd/tune', { body: { options: { version: '1' } } })).status, 400, 'options go through the engine');

  // The mount still works after tuning, and absent mounts are reported.
  t.is((await api(b, 'POST', 'kvd/data/x', { body: { data: { a: 1 } } })).status, 200);
  t.is((await api(b, 'GET', 'sys/mounts/nope/tune')).status, 404);
  const absent = await api(b, 'POST', 'sys/mounts/nope/tune', { body: { default_lease_ttl: '1h' } });
  t.is(absent.status, 400);
  t.regex(errorsOf(absent.json)[0] ?? '', /no such mount/);
  t.is((await api(b, 'POST', 'sys/mounts/secret/tune', { body: { max_lease_ttl: 'soon' } })).status, 400);

  // sys/auth has the same tune endpoint.
  t.is((await api(b, 'POST', 'sys/auth/ar', { body: { type: 'approle', config: { default_lease_ttl: '', max_lease_ttl: '' } } })).status, 204);
  t.teardown(async () => void (await api(b, 'DELETE', 'sys/auth/ar')));
  t.is((await api(b, 'POST', 'sys/auth/ar/tune', { body: { max_lease_ttl: '48h' } })).status, 204);
  t.like((await api(b, 'GET', 'sys/auth/ar/tune')).json as object, { data: { max_lease_ttl: 172800 } });
  t.like((await api(b, 'GET', 'sys/auth')).json as object, { data: { 'ar/': { config: { max_lease_ttl: 172800 } } } });
});
