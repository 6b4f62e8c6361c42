// bench/kv-read-acl: KV v2 reads by a token whose policy has 100 rules (globs and "+" segments) against the same
// reads by the root token (which skips ACL evaluation), on one broker in the same run.
//
//   npm run bench:kv-read-acl                   (BENCH_SECONDS=10 BENCH_CONNECTIONS=50 by default)
//
// Goal (issue 3): ratio policy/root >= 0.9.
import { startPostgres } from '../test/helpers/postgres.ts';
import { alternate, call, CONNECTIONS, load, row, SECONDS, spawnBroker } from './lib.ts';

const ROOT_TOKEN = 'bench-root-token';
const pg = await startPostgres();
const broker = await spawnBroker(await pg.createDatabase(), ROOT_TOKEN);
try {
  // 100 rules: 40 globs, 40 with "+" segments, 19 exact paths, and the one that grants the read, placed last.
  const rules: Record<string, { capabilities: string[] }> = {};
  for (let i = 0; i < 40; i++) rules[`secret/data/team-${i}/*`] = { capabilities: ['read', 'list'] };
  for (let i = 0; i < 40; i++) rules[`secret/data/+/svc-${i}/+`] = { capabilities: ['read'] };
  for (let i = 0; i < 19; i++) rules[`secret/data/exact-${i}`] = { capabilities: ['read', 'update'] };
  rules['secret/data/+/app/*'] = { capabilities: ['read'] };
  await call(broker.address, ROOT_TOKEN, 'PUT', 'sys/policies/acl/hundred', { policy: JSON.stringify({ path: rules }) });
  const created = (await call(broker.address, ROOT_TOKEN, 'POST', 'auth/token/create', { policies: ['hundred'] })) as { auth: { client_token: string } };
  const policyToken = created.auth.client_token;
  await call(broker.address, ROOT_TOKEN, 'POST', 'secret/data/prod/app/db', { data: { password: 'correct-horse-battery-staple' } });
  await call(broker.address, policyToken, 'GET', 'secret/data/prod/app/db');

  const url = `${broker.address}/v1/secret/data/prod/app/db`;
  await load(url, { 'x-vault-token': ROOT_TOKEN }, 2);
  await load(url, { 'x-vault-token': policyToken }, 2);
  const [root, acl] = await alternate(
    () => load(url, { 'x-vault-token': ROOT_TOKEN }),
    () => load(url, { 'x-vault-token': policyToken }),
  );
  console.log(`kv-read-acl: ${CONNECTIONS} connections, ${SECONDS} s each, alternated ${process.env.BENCH_ROUNDS ?? 2} rounds, PostgreSQL ${pg.majorVersion} (${pg.kind}), policy of ${Object.keys(rules).length} rules`);
  console.log(row('root token (no ACL evaluation)', root));
  console.log(row('token with a 100-rule policy', acl));
  console.log(`ratio policy/root: ${(acl.rps / root.rps).toFixed(2)} (goal >= 0.90)`);
  if (acl.non2xx > 0 || root.non2xx > 0 || acl.errors > 0) {
    console.log('FAIL: errors under load');
    process.exitCode = 1;
  }
} finally {
  broker.proc.kill('SIGTERM');
}
