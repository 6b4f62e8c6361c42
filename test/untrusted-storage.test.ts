// Issue 13, the database-writer battery (tokens and ACL policies): an attacker with SQL access to the brokers'
// PostgreSQL and no root key changes rows directly. Two replicas: `a` has the row cached, `b` reads it fresh; the
// attacker's own NOTIFY makes `a` reload. The broker refuses to act on a changed row (500, logged with table and
// key) and never answers with the widened access. The same battery checks the ordinary operations still work.
import test from 'ava';
import { api } from './helpers/broker.ts';
import { stopPostgres } from './helpers/postgres.ts';
import { createToken, loggedIntegrityError, notify, refused, startReplicaPair, until, type ReplicaPair } from './helpers/replica-pair.ts';

let p: ReplicaPair;
test.before(async () => {
  p = await startReplicaPair();
  const r = await api(p.a, 'POST', 'secret/data/app', { body: { data: { v: 'secret-value' } } });
  if (r.status !== 200) throw new Error(`seed: ${r.status} ${r.text}`);
});
test.after.always(async () => {
  await p?.stop();
  await stopPostgres();
});

const lookupSelf = (b: ReplicaPair['a'], token: string) => api(b, 'GET', 'auth/token/lookup-self', { token });

test.serial('a default token given {root} by SQL is refused on both replicas, cached or not, and the error names the row', async (t) => {
  const { token, accessor } = await createToken(p.a, { policies: ['default'] });
  t.is((await lookupSelf(p.a, token)).status, 200, 'cached on a');
  t.is((await api(p.a, 'GET', 'secret/data/app', { token })).status, 403);
  const upd = await p.sql.query(`UPDATE tokens SET policies = '{root}', expires_at = NULL, max_expires_at = NULL WHERE accessor = $1`, [accessor]);
  t.is(upd.rowCount, 1);
  // b never saw the token: it reads the changed row and refuses it.
  const fresh = await api(p.b, 'GET', 'secret/data/app', { token });
  t.true(refused(fresh), fresh.text);
  t.false(fresh.text.includes('secret-value'));
  t.true(await loggedIntegrityError(p.b, 'tokens', accessor));
  // a still holds the row it checked (default only: no widening), and refuses once its cache reloads.
  t.is((await api(p.a, 'GET', 'secret/data/app', { token })).status, 403);
  await notify(p.sql, 'sealbox_tokens');
  await until('a reloads the token', async () => refused(await api(p.a, 'GET', 'secret/data/app', { token })));
  t.true(await loggedIntegrityError(p.a, 'tokens', accessor));
});

test.serial('each protected token column changed by SQL makes the token unusable', async (t) => {
  const changes: [string, string][] = [
    ['accessor', `accessor = accessor || 'x'`],
    ['parent_accessor', `parent_accessor = 'someone-else'`],
    ['policies', `policies = '{default,admin}'`],
    ['display_name', `display_name = 'token-admin'`],
    ['meta', `meta = '{"role":"admin"}'`],
    ['path', `path = 'auth/approle/login'`],
    ['orphan', `orphan = NOT orphan`],
    ['renewable', `renewable = NOT renewable`],
    ['creation_ttl', `creation_ttl = creation_ttl * 100`],
    ['explicit_max_ttl', `explicit_max_ttl = 999999`],
    ['period', `period = 86400`],
    ['num_uses_limit', `num_uses_limit = 5`],
    ['created_at', `created_at = created_at - interval '1 day'`],
    ['expires_at', `expires_at = expires_at + interval '1 year'`],
    ['max_expires_at', `max_expires_at = NULL`],
    ['entity_name', `entity_name = 'admin'`],
    ['alias', `alias = '{"name":"admin","mountType":"approle","mountAccessor":"x","metadata":{}}'`],
    ['mac', `mac = NULL`],
  ];
  for (const [column, set] of changes) {
    const { token, accessor } = await createToken(p.a, { policies: ['default'], ttl: '1h' });
    t.is((await p.sql.query(`UPDATE tokens SET ${set} WHERE accessor = $1`, [accessor])).rowCount, 1, column);
    const r = await lookupSelf(p.b, token);
    t.true(refused(r), `${column}: ${r.status} ${r.text}`);
    t.true(await loggedIntegrityError(p.b, 'tokens', column === 'accessor' ? `${accessor}x` : accessor), column);
  }
});

test.serial("a root token's values copied onto a default token's row (MAC included) do not make it root", async (t) => {
  const { token, accessor } = await createToken(p.a, { policies: ['default'] });
  const root = await createToken(p.a, { policies: ['root'] });
  const cols = 'parent_accessor, policies, display_name, meta, path, orphan, renewable, creation_ttl, explicit_max_ttl, period, num_uses, num_uses_limit, created_at, expires_at, max_expires_at, entity_name, alias, mac';
  const upd = await p.sql.query(`UPDATE tokens d SET (${cols}) = (SELECT ${cols} FROM tokens r WHERE r.accessor = $2) WHERE d.accessor = $1`, [accessor, root.accessor]);
  t.is(upd.rowCount, 1);
  const r = await api(p.b, 'GET', 'secret/data/app', { token });
  t.true(refused(r), r.text);
  t.is((await api(p.b, 'GET', 'secret/data/app', { token: root.token })).status, 200, 'the real root token is untouched');
});

test.serial('an expired token given a far expiry by SQL stays refused', async (t) => {
  for (let attempt = 0; ; attempt++) {
    const { token, accessor } = await createToken(p.a, { policies: ['default'], ttl: '1s', explicit_max_ttl: '1s' });
    // Expiry is a moment on the broker's clock: checked when it has passed.
    const expiresBy = Date.now() + 1000;
    await until('the token expires', async () => (await lookupSelf(p.a, token)).status === 403, 20_000, [expiresBy + 1, expiresBy + 1000]);
    // The token-tidy job may delete the expired row first (every 30 s): then try again with a new token.
    const upd = await p.sql.query(`UPDATE tokens SET expires_at = now() + interval '1 year', max_expires_at = now() + interval '1 year' WHERE accessor = $1`, [accessor]);
    if (upd.rowCount === 0 && attempt < 3) continue;
    t.is(upd.rowCount, 1);
    // b reads the changed row: refused. a may still hold the expired row it checked (403), until it reloads.
    const r = await lookupSelf(p.b, token);
    t.true(refused(r), r.text);
    t.is((await lookupSelf(p.a, token)).status === 200, false);
    await notify(p.sql, 'sealbox_tokens');
    await until('a reloads the token', async () => refused(await lookupSelf(p.a, token)));
    break;
  }
});

test.serial('num_uses: the counter can only count down within its authenticated limit', async (t) => {
  // Ordinary operation: two uses, then refused.
  const two = await createToken(p.a, { policies: ['default'], num_uses: 2 });
  t.is((await lookupSelf(p.a, two.token)).status, 200);
  t.is((await lookupSelf(p.b, two.token)).status, 200);
  t.is((await lookupSelf(p.a, two.token)).status, 403);

  for (const [what, set] of [
    ['0 (unlimited)', 'num_uses = 0'],
    ['above the limit', 'num_uses = 50'],
    ['limit and counter raised together', 'num_uses = 50, num_uses_limit = 50'],
  ] as const) {
    const { token, accessor } = await createToken(p.a, { policies: ['default'], num_uses: 3 });
    t.is((await lookupSelf(p.a, token)).status, 200);
    t.is((await p.sql.query(`UPDATE tokens SET ${set} WHERE accessor = $1`, [accessor])).rowCount, 1);
    const r = await lookupSelf(p.b, token);
    t.true(refused(r), `${what}: ${r.text}`);
    t.true(await loggedIntegrityError(p.b, 'tokens', accessor));
  }
});

test.serial('a revoked token whose row is restored by SQL is refused: its tombstone holds it', async (t) => {
  const { token, accessor } = await createToken(p.a, { policies: ['default'], ttl: '1h' });
  t.is((await lookupSelf(p.b, token)).status, 200);
  const saved = (await p.sql.query('SELECT * FROM tokens WHERE accessor = $1', [accessor])).rows[0] as Record<string, unknown>;
  t.is((await api(p.a, 'POST', 'auth/token/revoke-accessor', { body: { accessor } })).status, 204);
  await until('b sees the revocation', async () => (await lookupSelf(p.b, token)).status === 403);
  const cols = Object.keys(saved);
  await p.sql.query(`INSERT INTO tokens (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')})`, cols.map((c) => saved[c]));
  for (const b of [p.a, p.b]) {
    const r = await lookupSelf(b, token);
    t.true(refused(r), r.text);
  }
  // Waited for, not read once: the refusal can reach the test before the line has come through b's pipe.
  t.true(await p.b.waitForLogLine((l) => l.table === 'tokens' && l.primaryKey === accessor && String(l.reason).includes('tombstone')), 'b logged the tombstone refusal');
  t.is((await p.sql.query('SELECT count(*)::int AS n FROM token_tombstones WHERE accessor = $1', [accessor])).rows[0].n, 1);
});

test.serial('token renew still works across replicas and keeps the row checkable', async (t) => {
  const { token } = await createToken(p.a, { policies: ['default'], ttl: '10m', renewable: true });
  t.is((await lookupSelf(p.b, token)).status, 200);
  const r = await api(p.a, 'POST', 'auth/token/renew-self', { token, body: { increment: '2h' } });
  t.is(r.status, 200, r.text);
  await until('b sees the renewed ttl', async () => {
    const l = await lookupSelf(p.b, token);
    return l.status === 200 && (l.json as { data: { ttl: number } }).data.ttl > 3600;
  });
  t.pass();
});

test.serial('policies: the rules are derived from the checked document; an edited document is refused; API edits work', async (t) => {
  const doc = (path: string) => JSON.stringify({ path: { [path]: { capabilities: ['read'] } } });
  t.is((await api(p.a, 'PUT', 'sys/policies/acl/reader', { body: { policy: doc('secret/data/allowed') } })).status, 204);
  t.is((await api(p.a, 'PUT', 'sys/policies/acl/fresh-reader', { body: { policy: doc('secret/data/allowed') } })).status, 204);
  const reader = await createToken(p.a, { policies: ['reader'] });
  const fresh = await createToken(p.a, { policies: ['fresh-reader'] });
  t.is((await api(p.a, 'GET', 'secret/data/app', { token: reader.token })).status, 403, 'a has reader compiled');

  // The derived form edited alone (the old `rules` column): ignored. b compiles fresh-reader for the first time now.
  await p.sql.query(`UPDATE policies SET rules = '[{"path":"secret/data/*","capabilities":["read"]}]' WHERE name IN ('reader', 'fresh-reader')`);
  t.is((await api(p.b, 'GET', 'secret/data/app', { token: fresh.token })).status, 403);
  t.is((await api(p.b, 'GET', 'secret/data/allowed', { token: fresh.token })).status, 404, 'the document still grants what it says');

  // The document edited (widened): refused on both replicas, never served. (a holds the checked rules until it
  // reloads: 403; its caches may also have been dropped by the policy writes above: then it refuses at once.)
  await p.sql.query(`UPDATE policies SET document = replace(document, 'secret/data/allowed', 'secret/data/*') WHERE name IN ('reader', 'fresh-reader')`);
  const cached = await api(p.a, 'GET', 'secret/data/app', { token: reader.token });
  t.true(cached.status === 403 || refused(cached), cached.text);
  await notify(p.sql, 'sealbox_policies');
  await until('a reloads the policy', async () => refused(await api(p.a, 'GET', 'secret/data/app', { token: reader.token })));
  // b compiled fresh-reader above, so it too holds the checked rules (403) until the NOTIFY reaches it, which can
  // be after a's: then it refuses. Never the widened answer in between.
  const answers = new Set<number>();
  await until('b reloads the policy', async () => {
    const r = await api(p.b, 'GET', 'secret/data/app', { token: fresh.token });
    answers.add(r.status);
    return refused(r);
  });
  t.false(answers.has(200), `b's answers while it reloaded: ${[...answers].join(', ')}`);
  t.true(await loggedIntegrityError(p.b, 'policies', 'fresh-reader'));
  const read = await api(p.b, 'GET', 'sys/policies/acl/reader');
  t.true(refused(read), 'the document is not shown as if it were valid');

  // One policy's document and MAC copied onto another: the MAC binds the name.
  await p.sql.query(`UPDATE policies d SET document = s.document, mac = s.mac FROM policies s WHERE d.name = 'fresh-reader' AND s.name = 'default'`);
  await notify(p.sql, 'sealbox_policies');
  await until('b reloads', async () => refused(await api(p.b, 'GET', 'auth/token/lookup-self', { token: fresh.token })));

  // Ordinary operation: an edit through the API signs the new document, on both replicas.
  t.is((await api(p.a, 'PUT', 'sys/policies/acl/reader', { body: { policy: doc('secret/data/app') } })).status, 204);
  await until('b sees the edit', async () => (await api(p.b, 'GET', 'secret/data/app', { token: reader.token })).status === 200);
  t.is((await api(p.a, 'GET', 'secret/data/app', { token: reader.token })).status, 200);
  t.false(JSON.stringify(p.a.logLines()).includes('secret-value'), 'no secret in the logs');
});
